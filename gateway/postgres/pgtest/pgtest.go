// Package pgtest gives tests a real, freshly migrated PostgreSQL database.
//
// With CHATGATE_TEST_DATABASE_URL set it creates databases on that server;
// otherwise it starts one ephemeral cluster per test binary from the installed
// server binaries (gateway/devstack). Each call to New clones a migrated
// template database, which takes milliseconds, so every test gets its own.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/postgres"
)

// EnvURL names the variable that points the tests at an existing server.
const EnvURL = "CHATGATE_TEST_DATABASE_URL"

const templateDB = "chatgate_test_template"

var (
	once      sync.Once
	setupErr  error
	serverURL string // URL of the maintenance database on the server
	server    *devstack.Postgres
	tmpDir    string
	counter   atomic.Int64
	createMu  sync.Mutex // CREATE DATABASE … TEMPLATE fails if two run on one template at once
	runID     = fmt.Sprintf("%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
)

// Main runs the tests and then stops the ephemeral cluster, if one was
// started. Call it from TestMain: `func TestMain(m *testing.M) { pgtest.Main(m) }`.
func Main(m *testing.M) {
	code := m.Run()
	if server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = server.Stop(ctx)
		cancel()
	}
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if u := os.Getenv(EnvURL); u != "" {
		serverURL = u
	} else {
		dir, err := os.MkdirTemp("", "chatgate-pgtest-")
		if err != nil {
			return err
		}
		tmpDir = dir
		// The server may run as the postgres user, who must traverse this dir.
		if err := os.Chmod(dir, 0o755); err != nil {
			return err
		}
		pg, err := devstack.StartPostgres(ctx, devstack.PostgresConfig{
			Dir:      filepath.Join(dir, "pg"),
			Database: "postgres",
			NoSync:   true,
		})
		if err != nil {
			return fmt.Errorf("start test postgres (or set %s): %w", EnvURL, err)
		}
		server = pg
		serverURL = pg.URLFor("postgres")
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("connect to test server: %w", err)
	}
	defer conn.Close(ctx)
	tmpl := templateDB + "_" + runID
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{tmpl}.Sanitize()); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	pool, err := postgres.Connect(ctx, withDatabase(serverURL, tmpl), 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool, nil); err != nil {
		return fmt.Errorf("migrate template database: %w", err)
	}
	return nil
}

func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(fmt.Sprintf("pgtest: bad server url: %v", err))
	}
	u.Path = "/" + db
	return u.String()
}

// URL creates a fresh migrated database for t and returns its URL; the
// database is dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { setupErr = setup() })
	if setupErr != nil {
		t.Fatalf("pgtest: %v", setupErr)
	}
	name := fmt.Sprintf("chatgate_test_%s_%d", runID, counter.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	tmpl := templateDB + "_" + runID
	createMu.Lock()
	_, err = conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`,
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{tmpl}.Sanitize()))
	createMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
	})
	return withDatabase(serverURL, name)
}

// Pool returns a pool on a fresh migrated database, closed when t ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Connect(context.Background(), URL(t), 8)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
