package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/gateway/httpapi"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.embeddedKafka() || !c.embeddedPostgres() || c.EmbeddedKafkaAddr != "127.0.0.1:9092" ||
		c.DataDir != "./.chatgate" || c.HTTPAddr != ":8080" || c.TopicPrefix != "chatgate." {
		t.Fatalf("defaults %+v", c)
	}
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	_, err := loadConfig(env(map[string]string{
		"CHATGATE_HTTP_ADDR":           "8080",
		"CHATGATE_KAFKA_PARTITIONS":    "zero",
		"CHATGATE_DATABASE_URL":        "mysql://x",
		"CHATGATE_LOG_LEVEL":           "loud",
		"CHATGATE_SHUTDOWN_TIMEOUT":    "-1s",
		"CHATGATE_PUBLIC_URL":          "localhost",
		"CHATGATE_EMBEDDED_KAFKA_ADDR": "nowhere",
		"CHATGATE_CLOCK_OFFSET":        "tomorrow",
	}))
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, name := range []string{"CHATGATE_HTTP_ADDR", "CHATGATE_KAFKA_PARTITIONS", "CHATGATE_DATABASE_URL", "CHATGATE_LOG_LEVEL",
		"CHATGATE_SHUTDOWN_TIMEOUT", "CHATGATE_PUBLIC_URL", "CHATGATE_EMBEDDED_KAFKA_ADDR", "CHATGATE_CLOCK_OFFSET"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestLoadConfigExternalParts(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(env(map[string]string{
		"CHATGATE_KAFKA_BROKERS": " k1:9092, k2:9092 ,",
		"CHATGATE_DATABASE_URL":  "postgres://u@db/chatgate",
		"CHATGATE_TOPIC_PREFIX":  "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.embeddedKafka() || c.embeddedPostgres() || len(c.Brokers) != 2 || c.Brokers[1] != "k2:9092" || c.TopicPrefix != "" {
		t.Fatalf("config %+v", c)
	}
}

func TestParseRoles(t *testing.T) {
	t.Parallel()
	if rs, err := parseRoles(""); err != nil || slices.Contains(rs, roleScheduler) || !slices.Contains(rs, roleWorker) {
		t.Fatalf("default roles %v %v", rs, err)
	}
	if rs, err := parseRoles("worker, relay,worker"); err != nil || strings.Join(rs, ",") != "worker,relay" {
		t.Fatalf("roles %v %v", rs, err)
	}
	if _, err := parseRoles("worker,nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown role: %v", err)
	}
}

func TestEmbeddedTokensAreGeneratedOnceAndKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := defaultConfig()
	c.DataDir = dir
	c.OpsToken = "from-env"
	var out bytes.Buffer
	if err := c.ensureEmbeddedTokens(&out); err != nil {
		t.Fatal(err)
	}
	if c.APIToken == "" || c.DeskToken == "" || c.OpsToken != "from-env" {
		t.Fatalf("tokens %q %q %q", c.APIToken, c.DeskToken, c.OpsToken)
	}
	if !strings.Contains(out.String(), c.APIToken) || strings.Contains(out.String(), "from-env") {
		t.Fatalf("printed %q", out.String())
	}
	fi, err := os.Stat(filepath.Join(dir, "tokens.env"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file: %v %v", fi, err)
	}
	again := defaultConfig()
	again.DataDir = dir
	again.OpsToken = "from-env"
	out.Reset()
	if err := again.ensureEmbeddedTokens(&out); err != nil {
		t.Fatal(err)
	}
	if again.APIToken != c.APIToken || again.DeskToken != c.DeskToken || out.Len() != 0 {
		t.Fatalf("second start: tokens changed or printed again: %q", out.String())
	}
	roles := again.tokenMap()
	if roles[again.APIToken] != httpapi.RoleAPIChannel || roles[again.DeskToken] != httpapi.RoleDesk {
		t.Fatalf("token roles %v", roles)
	}
}
