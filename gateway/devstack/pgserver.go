package devstack

// The postmaster of a managed cluster: running it (retrying a start that
// failed for a passing reason), waiting until it is ready, creating the
// database, and reaping or killing it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// killGrace is how long kill waits for an immediate shutdown before SIGKILL.
// The postmaster itself SIGKILLs children that ignore its SIGQUIT for 5 s.
const killGrace = 10 * time.Second

// start runs the server and waits until it is ready. It retries a start that
// failed for a passing reason: with Port 0, another process grabbing the free
// port first; after a crash, the old server's last processes still exiting.
func (p *Postgres) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
	defer cancel()
	const attempts = 4
	for attempt := 1; ; attempt++ {
		port := p.cfg.Port
		if port == 0 {
			var err error
			if port, err = freeLoopbackPort(); err != nil {
				return err
			}
		}
		err := p.startOnce(ctx, port)
		if err == nil {
			return nil
		}
		if attempt == attempts {
			return err
		}
		tail := p.logTail()
		switch {
		case p.cfg.Port == 0 && strings.Contains(tail, "could not bind"):
			p.log.Warn("postgres could not bind its port, retrying with another", "port", port)
		case strings.Contains(tail, "pre-existing shared memory block"):
			// Backends of a crashed server exit moments after their
			// postmaster; until then they hold its shared memory.
			p.log.Warn("postgres found the old server's shared memory still in use, retrying")
			retry := time.NewTimer(time.Duration(attempt) * 200 * time.Millisecond)
			select {
			case <-ctx.Done():
				retry.Stop()
				return err
			case <-retry.C:
			}
		default:
			return err
		}
	}
}

// startOnce starts the postmaster on port and waits until it is ready.
func (p *Postgres) startOnce(ctx context.Context, port int) error {
	if off, err := p.logFile.Seek(0, io.SeekEnd); err == nil {
		p.logOffset = off
	}
	args := []string{
		"-D", p.dataDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-k", p.sockDir,
	}
	if p.cfg.NoSync {
		args = append(args, "-c", "fsync=off")
	}
	cmd := exec.Command(p.bins.postgres, args...)
	cmd.Dir = p.dataDir
	cmd.Stdout, cmd.Stderr = p.logFile, p.logFile
	cmd.SysProcAttr = serverSysProcAttr(p.runAs.cred)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", p.bins.postgres, err)
	}
	proc := &serverProcess{cmd: cmd, exited: make(chan struct{})}
	p.proc, p.port = proc, port
	go p.wait(proc)

	p.log.Info("postgres starting",
		"data_dir", p.dataDir, "port", port, "socket_dir", p.sockDir, "postgres", p.bins.postgres,
		"version", p.bins.version, "run_as", p.runAs.name, "log_file", p.logFile.Name())

	conn, err := p.waitReady(ctx)
	if err != nil {
		proc.kill()
		return fmt.Errorf("%w%s", err, p.logTailForError())
	}
	err = p.ensureDatabase(ctx, conn)
	if cerr := conn.Close(context.WithoutCancel(ctx)); err == nil && cerr != nil {
		err = fmt.Errorf("close setup connection: %w", cerr)
	}
	if err != nil {
		proc.kill()
		return err
	}
	p.log.Info("postgres ready", "port", port, "database", p.cfg.Database, "data_dir", p.dataDir)
	return nil
}

// serverProcess is one run of the postmaster.
type serverProcess struct {
	cmd      *exec.Cmd
	exited   chan struct{} // closed once cmd.Wait returns
	err      error         // cmd.Wait's result; read only after exited is closed
	stopping atomic.Bool   // an exit from now on is expected
}

// kill makes the postmaster stop at once and waits for it to be reaped. It
// asks for an "immediate" shutdown (SIGQUIT) rather than killing the
// postmaster outright: its children run in their own sessions, so only the
// postmaster can end them all, and a backend still attached to the old
// shared memory would make the next start fail. SIGKILL follows if that
// does not work in time. Either way the next start runs crash recovery.
func (sp *serverProcess) kill() {
	sp.stopping.Store(true)
	_ = sp.cmd.Process.Signal(syscall.SIGQUIT)
	grace := time.NewTimer(killGrace)
	defer grace.Stop()
	select {
	case <-sp.exited:
		return
	case <-grace.C:
	}
	_ = sp.cmd.Process.Kill()
	<-sp.exited
}

// wait reaps the postmaster and reports an exit nobody asked for.
func (p *Postgres) wait(sp *serverProcess) {
	sp.err = sp.cmd.Wait()
	close(sp.exited)
	if !sp.stopping.Load() {
		p.log.Error("postgres exited unexpectedly", "error", exitError(sp.err), "data_dir", p.dataDir, "log_tail", p.logTail())
	}
}

// waitReady waits until the server accepts an authenticated connection and
// returns that connection. It connects only once postmaster.pid says the
// server is ready, because each earlier attempt would put a "the database
// system is starting up" FATAL line in the server log; it still treats a
// failed connection as "not yet" since the file can run ahead of the
// listener by a moment.
func (p *Postgres) waitReady(ctx context.Context) (*pgx.Conn, error) {
	connCfg, err := pgx.ParseConfig(p.URLFor("postgres"))
	if err != nil {
		return nil, fmt.Errorf("parse connection URL: %w", err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	lastErr := errors.New("postmaster.pid does not say ready yet")
	for {
		if postmasterReady(p.dataDir, p.proc.cmd.Process.Pid) {
			conn, err := pgx.ConnectConfig(ctx, connCfg)
			if err == nil {
				return conn, nil
			}
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "28") {
				// Invalid authorization: waiting will not fix it.
				return nil, fmt.Errorf("connect as %s: %w (does %s belong to this cluster?)",
					Superuser, err, filepath.Join(p.dir, passwordName))
			}
			lastErr = err
		}
		select {
		case <-p.proc.exited:
			return nil, fmt.Errorf("postgres exited during startup: %w", exitError(p.proc.err))
		case <-ctx.Done():
			return nil, fmt.Errorf("postgres not ready on port %d: %w (last: %w)", p.port, ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

// postmasterReady reports whether dataDir/postmaster.pid belongs to pid and
// its status line (the 8th, PostgreSQL 10 and later) reads "ready".
func postmasterReady(dataDir string, pid int) bool {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	return len(lines) >= 8 && strings.TrimSpace(lines[0]) == strconv.Itoa(pid) && strings.TrimSpace(lines[7]) == "ready"
}

// ensureDatabase creates cfg.Database if it does not exist.
func (p *Postgres) ensureDatabase(ctx context.Context, conn *pgx.Conn) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", p.cfg.Database).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %q: %w", p.cfg.Database, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{p.cfg.Database}.Sanitize()); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: someone beat us to it
			return nil
		}
		return fmt.Errorf("create database %q: %w", p.cfg.Database, err)
	}
	p.log.Info("postgres created database", "database", p.cfg.Database)
	return nil
}

// exitError turns a nil exit error (exit status 0) into something printable.
func exitError(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// freeLoopbackPort asks the kernel for a free TCP port on 127.0.0.1. Another
// process may take it before postgres binds it; start retries if so.
func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
