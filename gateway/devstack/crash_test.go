package devstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The crash tests need a process that owns a server and can be killed with
// SIGKILL, as `kill -9` kills `chatgate run`: they run this test binary
// again with helperEnv set, and TestMain turns it into that owner.
const (
	helperEnv     = "CHATGATE_DEVSTACK_HELPER" // "postgres" or "broker"
	helperDirEnv  = "CHATGATE_DEVSTACK_HELPER_DIR"
	helperAddrEnv = "CHATGATE_DEVSTACK_HELPER_ADDR"
	helperReady   = "helper ready: "
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper starts a server, prints helperReady and what to connect to, and
// waits to be killed.
func runHelper(mode string) int {
	ctx := context.Background()
	var addr string
	switch mode {
	case "postgres":
		p, err := StartPostgres(ctx, PostgresConfig{Dir: os.Getenv(helperDirEnv), NoSync: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		addr = p.URL()
	case "broker":
		b, err := StartBroker(BrokerConfig{Addr: os.Getenv(helperAddrEnv), DataDir: os.Getenv(helperDirEnv), Topics: []string{"t"}, Partitions: 1})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		addr = b.Addr()
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", mode)
		return 2
	}
	fmt.Println(helperReady + addr)
	_, _ = io.Copy(io.Discard, os.Stdin) // until killed; EOF means the test is gone
	return 0
}

// startHelper runs the helper process and returns it and what it printed.
func startHelper(t *testing.T, mode, dir, addr string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDirEnv+"="+dir, helperAddrEnv+"="+addr)
	cmd.Stderr = t.Output()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), helperReady); ok {
				line <- s
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		close(line)
	}()
	select {
	case s, ok := <-line:
		if !ok {
			t.Fatal("helper exited before it was ready (its stderr is above)")
		}
		return cmd, s
	case <-time.After(2 * time.Minute):
		t.Fatal("helper not ready after 2 minutes")
	}
	return nil, ""
}

// kill9 kills the helper with SIGKILL and reaps it, as a supervisor would
// before restarting it.
func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 helper: %v", err)
	}
	_ = cmd.Wait()
}

// Defect: restarting right after a kill -9 failed with `lock file
// "postmaster.pid" already exists` while the old postmaster (the killed
// owner's child) and its backends were still going away.
func TestPostgres_RestartsRightAfterKill9(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	ctx := t.Context()
	dir := filepath.Join(serverTempDir(t), "pg")
	for round := 1; round <= 3; round++ {
		helper, url := startHelper(t, "postgres", dir, "")
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatalf("round %d: connect to the helper's server: %v", round, err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS rounds (n int)"); err != nil {
			t.Fatalf("round %d: create table: %v", round, err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO rounds VALUES ($1)", round); err != nil {
			t.Fatalf("round %d: insert: %v", round, err)
		}
		// An open session keeps a backend busy while its postmaster dies.
		kill9(t, helper)
		_ = conn.Close(context.WithoutCancel(ctx))

		p, err := StartPostgres(ctx, PostgresConfig{Dir: dir, NoSync: true, Logger: testLogger(t)})
		if err != nil {
			t.Fatalf("round %d: StartPostgres right after kill -9 of its owner: %v", round, err)
		}
		var n int
		if err := queryRow(ctx, p.URL(), "SELECT count(*) FROM rounds", &n); err != nil || n != round {
			t.Fatalf("round %d: %d rows after the restart, %v; want %d", round, n, err, round)
		}
		if err := p.Stop(ctx); err != nil {
			t.Fatalf("round %d: Stop: %v", round, err)
		}
	}
}

// Defect: a postmaster.pid left by a dead server must not stop a start,
// whatever it names now.
func TestPostgres_RecoversStaleLockFile(t *testing.T) {
	t.Parallel()
	requirePostgres(t)
	ctx := t.Context()
	dir := filepath.Join(serverTempDir(t), "pg")
	cfg := PostgresConfig{Dir: dir, NoSync: true, Logger: testLogger(t)}
	p, err := StartPostgres(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := queryRow(ctx, p.URL(), "CREATE TABLE kept AS SELECT 'yes'::text AS v", nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// A pid that belongs to no process any more.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	// A pid of a live process that is not a postgres of this directory;
	// owned by the server user when root, as a reused pid would be.
	sleeper := exec.Command("sleep", "300")
	sleeper.SysProcAttr = serverSysProcAttr(mustServerUser(t).cred)
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	// A zombie: exited, not reaped. kill(pid, 0) still succeeds on it.
	zombie := exec.Command("true")
	zombie.SysProcAttr = serverSysProcAttr(mustServerUser(t).cred)
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = zombie.Wait() })
	waitZombie(t, zombie.Process.Pid)

	pidFile := filepath.Join(dir, pgdataName, "postmaster.pid")
	template := "%s\n" + filepath.Join(dir, pgdataName) + "\n1700000000\n5432\n/tmp\n127.0.0.1\n  1234567     12345\nready   \n"
	for _, tc := range []struct{ name, content string }{
		{"dead pid", fmt.Sprintf(template, strconv.Itoa(gone.Process.Pid))},
		{"pid of another live process", fmt.Sprintf(template, strconv.Itoa(sleeper.Process.Pid))},
		{"pid of a zombie", fmt.Sprintf(template, strconv.Itoa(zombie.Process.Pid))},
		{"garbage", "not a pid\n"},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(pidFile, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if os.Geteuid() == 0 {
				u := mustServerUser(t)
				if err := os.Chown(pidFile, int(u.cred.Uid), int(u.cred.Gid)); err != nil {
					t.Fatal(err)
				}
			}
			p, err := StartPostgres(ctx, cfg)
			if err != nil {
				t.Fatalf("StartPostgres with a stale postmaster.pid (%s): %v", tc.name, err)
			}
			var v string
			err = queryRow(ctx, p.URL(), "SELECT v FROM kept", &v)
			if stopErr := p.Stop(ctx); stopErr != nil {
				t.Fatalf("Stop: %v", stopErr)
			}
			if err != nil || v != "yes" {
				t.Fatalf("row after the start = %q, %v; want \"yes\"", v, err)
			}
		})
	}
}

// Defect check for the broker: kill -9 of its owner must not leave a lock
// or a half-written file that stops an immediate restart on the same
// DataDir and port, and acknowledged records survive.
func TestBroker_RestartsRightAfterKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := "127.0.0.1:0"
	var want []string
	for round := 1; round <= 3; round++ {
		helper, got := startHelper(t, "broker", dir, addr)
		addr = got // keep the port: a restart must be able to bind it again at once
		cl := newClient(t, addr, kgo.DefaultProduceTopic("t"))
		v := "round " + strconv.Itoa(round)
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("round %d: produce: %v", round, err)
		}
		want = append(want, v)
		cl.Close()
		kill9(t, helper)
	}
	b := startBroker(t, BrokerConfig{Addr: addr, DataDir: dir, Topics: []string{"t"}, Partitions: 1, Logger: testLogger(t)})
	reader := newClient(t, b.Addr(), kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for _, r := range pollRecords(t, reader, len(want)) {
		got = append(got, string(r.Value))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("records after three kill -9 = %q, want %q", got, want)
	}
}

// queryRow runs one statement on a fresh connection to url and scans its
// row into dst; with dst nil it only executes it.
func queryRow(ctx context.Context, url, sql string, dst any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if dst == nil {
		_, err = conn.Exec(ctx, sql)
		return err
	}
	return conn.QueryRow(ctx, sql).Scan(dst)
}

// mustServerUser is who the server runs as in these tests.
func mustServerUser(t *testing.T) serverUser {
	t.Helper()
	u, err := lookupServerUser(DefaultServerOSUser)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// waitZombie waits until pid has exited and is not yet reaped.
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if errors.Is(err, os.ErrNotExist) {
			t.Skip("no /proc: cannot make a zombie to test with")
		}
		if err == nil {
			if _, rest, ok := strings.Cut(string(b), ") "); ok && strings.HasPrefix(rest, "Z") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d did not become a zombie", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
