package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/ticketing"
)

// config is chatgate's configuration, read from CHATGATE_* variables (see
// docs/configuration.md); flags of `run` override single fields. This file
// and config_channels.go are the only readers of the environment; every
// default is applied once, here or in the package whose field it is.
type config struct {
	// DatabaseURL (CHATGATE_DATABASE_URL): PostgreSQL URL; empty starts a
	// managed local cluster under DataDir.
	DatabaseURL string
	// Brokers (CHATGATE_KAFKA_BROKERS): Kafka bootstrap brokers; empty starts
	// the embedded broker on EmbeddedKafkaAddr.
	Brokers []string
	// EmbeddedKafkaAddr (CHATGATE_EMBEDDED_KAFKA_ADDR): where the embedded broker listens.
	EmbeddedKafkaAddr string
	// DataDir (CHATGATE_DATA_DIR): embedded PostgreSQL and broker data.
	DataDir string
	// HTTPAddr (CHATGATE_HTTP_ADDR): HTTP listen address.
	HTTPAddr string
	// AdminAddr (CHATGATE_ADMIN_ADDR): where /healthz, /readyz and /metrics
	// are served besides the HTTP server; "" means :9090 for a process
	// without the ingress role and nowhere else, "off" nowhere (see
	// config.adminAddr).
	AdminAddr string
	// PublicURL (CHATGATE_PUBLIC_URL): the URL providers call.
	PublicURL string
	// TopicPrefix (CHATGATE_TOPIC_PREFIX): prefix of every Kafka topic.
	TopicPrefix string
	// Partitions (CHATGATE_KAFKA_PARTITIONS): partitions of topics chatgate creates.
	Partitions int
	// ReplicationFactor (CHATGATE_KAFKA_REPLICATION_FACTOR) of topics chatgate creates.
	ReplicationFactor int
	// APIToken, DeskToken, OpsToken (CHATGATE_API_TOKEN, CHATGATE_DESK_TOKEN,
	// CHATGATE_OPS_TOKEN): bootstrap bearer tokens.
	APIToken, DeskToken, OpsToken string
	// WorkerGroup (CHATGATE_WORKER_GROUP): consumer group of the ticketing worker.
	WorkerGroup string
	// WorkerMaxBatch (CHATGATE_WORKER_MAX_BATCH): most records per worker transaction.
	WorkerMaxBatch int
	// DBMaxConns (CHATGATE_DB_MAX_CONNS): pool size.
	DBMaxConns int
	// LogLevel (CHATGATE_LOG_LEVEL): debug, info, warn, error.
	LogLevel string
	// ShutdownTimeout (CHATGATE_SHUTDOWN_TIMEOUT): how long a stop waits for work in flight.
	ShutdownTimeout time.Duration
	// StartupTimeout (CHATGATE_STARTUP_TIMEOUT): how long start-up waits for
	// Kafka and PostgreSQL to answer (and for topics and migrations) before
	// it gives up with the reason.
	StartupTimeout time.Duration
	// Rules are the times of the ticketing rules: CHATGATE_PROMPT_EXPIRY,
	// CHATGATE_INTAKE_CLOSE, CHATGATE_REOPEN_WINDOW, CHATGATE_ARCHIVE_AFTER,
	// CHATGATE_PRESENCE_TTL (zero: the defaults of ticketing.Config).
	Rules ticketing.Config
	// TimerInterval (CHATGATE_TIMER_INTERVAL): how often the worker sweeps due timers.
	TimerInterval time.Duration
	// WindowClosingLead (CHATGATE_WINDOW_CLOSING_LEAD): how long before
	// WhatsApp's 24-hour window closes chatgate.ticket.window_closing is
	// published; "off" disables it. Zero: 1 h.
	WindowClosingLead time.Duration
	// TemplateLanguage (CHATGATE_TEMPLATE_DEFAULT_LANGUAGE): the last
	// language tried when templates are offered for a conversation.
	TemplateLanguage string
	// StreamHistory (CHATGATE_STREAM_HISTORY): how long the live stream
	// keeps events for desks that reconnect (R41); zero: 10 minutes.
	StreamHistory time.Duration
	// ClockOffset (CHATGATE_CLOCK_OFFSET) moves chatgate's clock: for trying
	// time-dependent rules by hand (the 24-hour window, timers) without
	// waiting. Never set it in production.
	ClockOffset time.Duration
	// lookupEnv reads the channels' sections (config_channels.go) when
	// what needs them starts; os.LookupEnv, replaced in tests.
	lookupEnv func(string) (string, bool)
}

// envPublicURL is the URL providers call chatgate at: the Twilio channel
// checks signatures against it and builds status callbacks from it.
const envPublicURL = "CHATGATE_PUBLIC_URL"

// defaultConfig holds the defaults documented in docs/configuration.md.
func defaultConfig() config {
	return config{
		EmbeddedKafkaAddr: devstack.DefaultBrokerAddr,
		DataDir:           "./.chatgate",
		HTTPAddr:          httpapi.DefaultAddr,
		PublicURL:         "http://localhost:8080",
		TopicPrefix:       gateway.DefaultTopicPrefix,
		Partitions:        8,
		ReplicationFactor: 1,
		WorkerGroup:       "chatgate-worker",
		WorkerMaxBatch:    1000,
		DBMaxConns:        16,
		LogLevel:          "info",
		ShutdownTimeout:   15 * time.Second,
		StartupTimeout:    60 * time.Second,
		TimerInterval:     time.Second,
		TemplateLanguage:  "en",
		lookupEnv:         os.LookupEnv,
	}
}

// loadConfig reads the environment through lookupEnv (os.LookupEnv) over
// the defaults and validates the result; errors name the variable.
func loadConfig(lookupEnv func(string) (string, bool)) (config, error) {
	getenv := func(name string) string { v, _ := lookupEnv(name); return v }
	c := defaultConfig()
	c.lookupEnv = lookupEnv
	var errs []error
	str := func(name string, dst *string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = v
		}
	}
	num := func(name string, dst *int, min int) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < min {
				errs = append(errs, fmt.Errorf("%s=%q: want an integer ≥ %d", name, v, min))
				return
			}
			*dst = n
		}
	}
	str("CHATGATE_DATABASE_URL", &c.DatabaseURL)
	if v := getenv("CHATGATE_KAFKA_BROKERS"); strings.TrimSpace(v) != "" {
		c.Brokers = kafka.ParseBrokers(v)
	}
	str("CHATGATE_EMBEDDED_KAFKA_ADDR", &c.EmbeddedKafkaAddr)
	str("CHATGATE_DATA_DIR", &c.DataDir)
	str("CHATGATE_HTTP_ADDR", &c.HTTPAddr)
	str("CHATGATE_ADMIN_ADDR", &c.AdminAddr)
	str(envPublicURL, &c.PublicURL)
	if v, ok := lookupEnv("CHATGATE_TOPIC_PREFIX"); ok {
		c.TopicPrefix = v // may be set to empty on purpose
	}
	num("CHATGATE_KAFKA_PARTITIONS", &c.Partitions, 1)
	num("CHATGATE_KAFKA_REPLICATION_FACTOR", &c.ReplicationFactor, 1)
	str("CHATGATE_API_TOKEN", &c.APIToken)
	str("CHATGATE_DESK_TOKEN", &c.DeskToken)
	str("CHATGATE_OPS_TOKEN", &c.OpsToken)
	str("CHATGATE_WORKER_GROUP", &c.WorkerGroup)
	num("CHATGATE_WORKER_MAX_BATCH", &c.WorkerMaxBatch, 1)
	num("CHATGATE_DB_MAX_CONNS", &c.DBMaxConns, 2)
	str("CHATGATE_LOG_LEVEL", &c.LogLevel)
	dur := func(name string, dst *time.Duration) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a positive duration like 15s or 10m", name, v))
				return
			}
			*dst = d
		}
	}
	dur("CHATGATE_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	dur("CHATGATE_STARTUP_TIMEOUT", &c.StartupTimeout)
	dur("CHATGATE_PROMPT_EXPIRY", &c.Rules.PromptExpiry)
	dur("CHATGATE_INTAKE_CLOSE", &c.Rules.IntakeClose)
	dur("CHATGATE_REOPEN_WINDOW", &c.Rules.ReopenWindow)
	dur("CHATGATE_ARCHIVE_AFTER", &c.Rules.ArchiveAfter)
	dur("CHATGATE_PRESENCE_TTL", &c.Rules.PresenceTTL)
	dur("CHATGATE_TIMER_INTERVAL", &c.TimerInterval)
	dur("CHATGATE_STREAM_HISTORY", &c.StreamHistory)
	if v := strings.TrimSpace(getenv("CHATGATE_WINDOW_CLOSING_LEAD")); v == "off" {
		c.WindowClosingLead = -1
	} else {
		dur("CHATGATE_WINDOW_CLOSING_LEAD", &c.WindowClosingLead)
	}
	str("CHATGATE_TEMPLATE_DEFAULT_LANGUAGE", &c.TemplateLanguage)
	if v := strings.TrimSpace(getenv("CHATGATE_CLOCK_OFFSET")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("CHATGATE_CLOCK_OFFSET=%q: want a duration like 25h or -1h", v))
		}
		c.ClockOffset = d
	}
	if err := c.validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

func (c config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("CHATGATE_HTTP_ADDR=%q: %w", c.HTTPAddr, err))
	}
	if err := validateAdminAddr(c.AdminAddr); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := net.SplitHostPort(c.EmbeddedKafkaAddr); err != nil {
		errs = append(errs, fmt.Errorf("CHATGATE_EMBEDDED_KAFKA_ADDR=%q: %w", c.EmbeddedKafkaAddr, err))
	}
	if !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("%s=%q: want an http:// or https:// URL", envPublicURL, c.PublicURL))
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("CHATGATE_DATABASE_URL: want a postgres:// URL"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("CHATGATE_LOG_LEVEL=%q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// embedded reports which parts run embedded.
func (c config) embeddedKafka() bool    { return len(c.Brokers) == 0 }
func (c config) embeddedPostgres() bool { return c.DatabaseURL == "" }

func (c config) dataPath(parts ...string) string {
	return filepath.Join(append([]string{c.DataDir}, parts...)...)
}
