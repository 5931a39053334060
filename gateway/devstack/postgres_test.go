package devstack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// requirePostgres skips the test when this machine has no server binaries.
func requirePostgres(t *testing.T) {
	t.Helper()
	if _, err := findBinaries(t.Context(), "", ""); errors.Is(err, ErrNoPostgresBinaries) {
		t.Skip("no PostgreSQL server binaries installed")
	}
}

// serverTempDir returns a fresh directory the PostgreSQL server user can
// traverse. When the tests run as root the server runs as "postgres", and
// t.TempDir's directories are 0700.
func serverTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestPostgres_DataSurvivesRestart(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	ctx := t.Context()
	var logs syncBuffer
	cfg := PostgresConfig{
		Dir:    filepath.Join(serverTempDir(t), "pg"),
		NoSync: true,
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&logs, t.Output()), nil)),
	}

	start := time.Now()
	p, err := StartPostgres(ctx, cfg)
	if err != nil {
		t.Fatalf("first StartPostgres: %v", err)
	}
	t.Logf("first start (initdb + start + ready): %v", time.Since(start))
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	if !strings.Contains(p.URL(), "@127.0.0.1:") || !strings.HasSuffix(p.URL(), "/chatgate?sslmode=disable") {
		t.Fatalf("URL() = %q, want a loopback URL of database chatgate", p.URL())
	}

	// Another process attaches to the running cluster through its files.
	if u, ok := RunningPostgresURL(cfg.Dir, DefaultDatabase); !ok || u != p.URL() {
		t.Fatalf("RunningPostgresURL = %q, %v; want %q", u, ok, p.URL())
	}

	conn, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')"); err != nil {
		t.Fatalf("create and insert: %v", err)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A second server on the same cluster must be refused, not attempted.
	if _, err := StartPostgres(ctx, cfg); !errors.Is(err, ErrDirInUse) {
		t.Fatalf("StartPostgres on a running cluster: err = %v, want ErrDirInUse", err)
	}

	if err := p.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Done() not closed after Stop")
	}

	// A taken port fails the start, and the error carries the server's words.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	busy := cfg
	busy.Port = taken.Addr().(*net.TCPAddr).Port
	_, err = StartPostgres(ctx, busy)
	taken.Close()
	if err == nil || !strings.Contains(err.Error(), "could not bind") {
		t.Fatalf("StartPostgres on a taken port: err = %v, want the server log's \"could not bind\"", err)
	}

	start = time.Now()
	p2, err := StartPostgres(ctx, cfg)
	if err != nil {
		t.Fatalf("second StartPostgres: %v", err)
	}
	t.Logf("restart (start + ready): %v", time.Since(start))
	t.Cleanup(func() { _ = p2.Stop(context.Background()) })
	conn, err = pgx.Connect(ctx, p2.URL())
	if err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	var body string
	if err := conn.QueryRow(ctx, "SELECT body FROM notes").Scan(&body); err != nil || body != "kept" {
		t.Fatalf("row after restart = %q, %v; want \"kept\"", body, err)
	}
	conn.Close(ctx)

	// Crash: kill the whole server, and leave a postmaster.pid naming a pid
	// that now belongs to another live process, as after a reboot.
	p2.proc.stopping.Store(true)
	if err := p2.proc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p2.Done()
	// Its owner notices and gives up the directory (and its lock).
	if err := p2.Stop(ctx); err == nil {
		t.Fatal("Stop of a server that died under it: err = nil, want one saying it had exited")
	}
	pidFile := filepath.Join(cfg.Dir, pgdataName, "postmaster.pid")
	stale, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("no postmaster.pid after a crash: %v", err)
	}
	_, rest, _ := strings.Cut(string(stale), "\n")
	if err := os.WriteFile(pidFile, []byte("1\n"+rest), 0o600); err != nil {
		t.Fatal(err)
	}
	p3, err := StartPostgres(ctx, cfg)
	if err != nil {
		t.Fatalf("StartPostgres after a crash: %v", err)
	}
	t.Cleanup(func() { _ = p3.Stop(context.Background()) })
	conn, err = pgx.Connect(ctx, p3.URL())
	if err != nil {
		t.Fatalf("connect after crash recovery: %v", err)
	}
	if err := conn.QueryRow(ctx, "SELECT body FROM notes").Scan(&body); err != nil || body != "kept" {
		t.Fatalf("row after crash recovery = %q, %v; want \"kept\"", body, err)
	}
	conn.Close(ctx)
	if err := p3.Stop(ctx); err != nil {
		t.Fatalf("Stop after crash recovery: %v", err)
	}

	pwPath := filepath.Join(cfg.Dir, passwordName)
	fi, err := os.Stat(pwPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("password file mode = %v, want 0600", fi.Mode().Perm())
	}
	pw, err := os.ReadFile(pwPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), strings.TrimSpace(string(pw))) {
		t.Error("the password appears in the logs")
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, pwfileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("initdb's password file was left behind: %v", err)
	}
}

func TestPostgres_NoBinaries(t *testing.T) {
	t.Parallel()
	_, err := StartPostgres(t.Context(), PostgresConfig{Dir: t.TempDir(), BinDir: t.TempDir()})
	if !errors.Is(err, ErrNoPostgresBinaries) {
		t.Fatalf("err = %v, want ErrNoPostgresBinaries", err)
	}
	for _, want := range []string{"apt-get install postgresql", "CHATGATE_DATABASE_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// Defect: as root, a Dir under a 0700 home directory (root's own on a fresh
// Debian machine) stopped the quick start with "cannot traverse directory".
// The cluster now lives where the server user can reach it, Dir links there,
// the home keeps its mode, and the data survives a restart.
func TestPostgres_RootQuickStartUnder0700Home(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to another OS user: run the tests as root to check the quick start from a 0700 home")
	}
	requirePostgres(t)
	ctx := t.Context()
	home := t.TempDir()
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	reachable := filepath.Join(serverTempDir(t), "var-lib-chatgate")
	cfg := PostgresConfig{Dir: filepath.Join(home, "chatgate", ".chatgate", "postgres"), ReachableRoot: reachable, NoSync: true, Logger: testLogger(t)}

	p, err := StartPostgres(ctx, cfg)
	if err != nil {
		t.Fatalf("StartPostgres under a 0700 home: %v", err)
	}
	if err := queryRow(ctx, p.URL(), "CREATE TABLE notes AS SELECT 'kept'::text AS body", nil); err != nil {
		t.Fatal(err)
	}
	if u, ok := RunningPostgresURL(cfg.Dir, DefaultDatabase); !ok || u != p.URL() {
		t.Errorf("RunningPostgresURL through the link = %q, %v; want %q", u, ok, p.URL())
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(home)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("home mode = %v after the start, want 0700 untouched", fi.Mode().Perm())
	}
	target, err := os.Readlink(cfg.Dir)
	if err != nil || !strings.HasPrefix(target, reachable+string(filepath.Separator)) {
		t.Fatalf("Dir links to %q (%v), want a directory under %s", target, err, reachable)
	}
	origin, err := os.ReadFile(filepath.Join(target, originName))
	if err != nil || strings.TrimSpace(string(origin)) != cfg.Dir {
		t.Errorf("%s = %q, %v; want %s", originName, origin, err, cfg.Dir)
	}

	p2, err := StartPostgres(ctx, cfg)
	if err != nil {
		t.Fatalf("second StartPostgres: %v", err)
	}
	var body string
	err = queryRow(ctx, p2.URL(), "SELECT body FROM notes", &body)
	if stopErr := p2.Stop(ctx); stopErr != nil {
		t.Fatal(stopErr)
	}
	if err != nil || body != "kept" {
		t.Fatalf("row after the restart = %q, %v; want \"kept\"", body, err)
	}

	// The link lost (say .chatgate was copied without it): the same
	// directory is found again, data and password included.
	if err := os.Remove(cfg.Dir); err != nil {
		t.Fatal(err)
	}
	p3, err := StartPostgres(ctx, cfg)
	if err != nil {
		t.Fatalf("StartPostgres after the link was removed: %v", err)
	}
	err = queryRow(ctx, p3.URL(), "SELECT body FROM notes", &body)
	if stopErr := p3.Stop(ctx); stopErr != nil {
		t.Fatal(stopErr)
	}
	if err != nil || body != "kept" {
		t.Fatalf("row after relinking = %q, %v; want \"kept\"", body, err)
	}
}

func TestPostgres_RootWithNowhereReachable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to another OS user")
	}
	requirePostgres(t)
	// The test's own temp directory, 0700: not devstack's to loosen, and
	// the reachable root under it is blocked too.
	parent := t.TempDir()
	if err := os.Chmod(filepath.Dir(parent), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := StartPostgres(t.Context(), PostgresConfig{
		Dir: filepath.Join(parent, "pg"), ReachableRoot: filepath.Join(parent, "root"), NoSync: true,
	})
	if err == nil || !strings.Contains(err.Error(), "chmod o+x "+parent+"`") {
		t.Fatalf("err = %v, want one naming %s and the chmod fix", err, parent)
	}
	if fi, err := os.Stat(parent); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("parent mode = %v, %v; want 0700 untouched", fi.Mode().Perm(), err)
	}
}

func TestPostgres_LongDirUsesShortSocketDir(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	ctx := t.Context()
	dir := filepath.Join(serverTempDir(t), strings.Repeat("d", 60), strings.Repeat("e", 60))
	p, err := StartPostgres(ctx, PostgresConfig{Dir: dir, NoSync: true, Database: "other db", Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("StartPostgres: %v", err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	if len(p.sockDir) > 30 || !strings.HasPrefix(p.sockDir, "/tmp/") {
		t.Fatalf("socket dir = %q, want a short one under /tmp", p.sockDir)
	}

	// Connect over the Unix socket, to the database whose name needs quoting.
	connCfg, err := pgx.ParseConfig(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	connCfg.Host = p.sockDir
	conn, err := pgx.ConnectConfig(ctx, connCfg)
	if err != nil {
		t.Fatalf("connect over the socket: %v", err)
	}
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != "other db" {
		t.Fatalf("current_database() = %q, %v; want \"other db\"", db, err)
	}
	conn.Close(ctx)

	if err := p.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(p.sockDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket dir %s left behind: %v", p.sockDir, err)
	}
}
