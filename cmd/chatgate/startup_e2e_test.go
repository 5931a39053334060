package main

import (
	"bytes"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/gateway/testkit"
)

// mustHost returns the host:port of a database URL.
func mustHost(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// refusedAddr returns a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// Defect: with CHATGATE_KAFKA_BROKERS listing several brokers, start-up
// dialled only the first, stayed silent for 60 s and exited.
func TestStartupTriesEveryListedBroker(t *testing.T) {
	t.Parallel()
	brokers := append([]string{refusedAddr(t), refusedAddr(t)}, startBroker(t)...)
	s := startStack(t, brokers, pgtest.URL(t))
	s.mustPost(t, apiMessage{ID: "multi-1", From: "+27821234567", To: "+27600000000", Text: "hello"})
	testkit.WaitFor(t, 30*time.Second, "the message stored by the worker", func() bool {
		return dbCount(t, s, `SELECT count(*) FROM messages`) == 1
	})
}

func TestStartupGivesUpWithTheReason(t *testing.T) {
	t.Parallel()
	dead := []string{refusedAddr(t), refusedAddr(t)}
	deadDB := "postgres://chatgate:secret@" + refusedAddr(t) + "/chatgate?sslmode=disable"
	tests := []struct {
		name     string
		brokers  []string
		dbURL    string
		wantErr  []string
		wantLogs []string
	}{
		{
			name: "no broker answers", brokers: dead, dbURL: pgtest.URL(t),
			wantErr:  []string{"CHATGATE_STARTUP_TIMEOUT", dead[0] + ": ", dead[1] + ": ", "connection refused"},
			wantLogs: []string{"connecting to kafka", "waiting for kafka", "brokers=" + strings.Join(dead, ",")},
		},
		{
			name: "postgres does not answer", brokers: startBroker(t), dbURL: deadDB,
			wantErr:  []string{"CHATGATE_STARTUP_TIMEOUT", "postgres " + mustHost(t, deadDB) + "/chatgate did not answer"},
			wantLogs: []string{"connecting to postgres", "database=" + mustHost(t, deadDB) + "/chatgate"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := defaultConfig()
			cfg.Brokers, cfg.DatabaseURL = tt.brokers, tt.dbURL
			cfg.StartupTimeout = 1500 * time.Millisecond
			cfg.lookupEnv = func(string) (string, bool) { return "", false }
			var logs syncLog
			a, err := newApp(t.Context(), cfg, []string{roleWorker}, slog.New(slog.NewTextHandler(&logs, nil)))
			if err == nil {
				a.Close()
				t.Fatal("newApp succeeded, want a start-up error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			for _, want := range tt.wantLogs {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("logs do not contain %q:\n%s", want, logs.String())
				}
			}
			if strings.Contains(logs.String(), "secret") || strings.Contains(err.Error(), "secret") {
				t.Error("the database password appears in the logs or the error")
			}
		})
	}
}

// syncLog is a bytes.Buffer safe for a logger's concurrent writes.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
