package devstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNoPostgresBinaries is returned (wrapped) by StartPostgres when it finds
// no PostgreSQL server binaries to run.
var ErrNoPostgresBinaries = errors.New("no PostgreSQL server binaries (initdb and postgres) found: " +
	"install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`), " +
	"or set CHATGATE_DATABASE_URL to use an existing database instead")

// PostgreSQL defaults.
const (
	// DefaultDatabase is the database StartPostgres creates and URL names.
	DefaultDatabase = "chatgate"
	// DefaultServerOSUser is the OS account the server runs as when
	// chatgate runs as root.
	DefaultServerOSUser = "postgres"
	// DefaultPostgresStartTimeout bounds how long StartPostgres waits for
	// the server to accept connections. It is generous because crash
	// recovery after an unclean stop replays WAL before the server is ready.
	DefaultPostgresStartTimeout = 2 * time.Minute
	// Superuser is the PostgreSQL superuser devstack creates and connects as.
	Superuser = "chatgate"
)

// Files and directories inside PostgresConfig.Dir.
const (
	pgdataName   = "pgdata"
	pgInitName   = "pgdata.init" // initdb's target, renamed to pgdata when complete
	passwordName = "password"
	pwfileName   = ".initdb-pwfile" // transient copy of the password for initdb
	logName      = "postgres.log"
)

// killGrace is how long kill waits for an immediate shutdown before SIGKILL.
// The postmaster itself SIGKILLs children that ignore its SIGQUIT for 5 s.
const killGrace = 10 * time.Second

// maxSocketPath is the longest Unix socket path we use: sun_path holds 108
// bytes including the terminating NUL.
const maxSocketPath = 107

// PostgresConfig configures a managed local PostgreSQL cluster.
type PostgresConfig struct {
	// Dir is the directory devstack owns: the cluster lives in Dir/pgdata,
	// the generated superuser password in Dir/password (mode 0600) and the
	// server's log in Dir/postgres.log. Required. As root, Dir may become a
	// link to a directory under ReachableRoot.
	Dir string
	// BinDir holds initdb and postgres. "" means: for an existing cluster,
	// /usr/lib/postgresql/<its version>/bin if present (so installing a newer
	// major version does not strand it); then initdb and postgres on PATH;
	// then the highest /usr/lib/postgresql/*/bin.
	BinDir string
	// Port is the TCP port on 127.0.0.1. 0 picks a free port at each start.
	Port int
	// Database is created if missing; default "chatgate".
	Database string
	// OSUser is the OS account the server runs as when chatgate runs as
	// root, because initdb and postgres refuse to run as root. Default
	// "postgres" (the Debian package creates it). Ignored when not root:
	// then the server runs as the current user.
	OSUser string
	// NoSync skips fsync in initdb (--no-sync) and in the server
	// (fsync=off). That makes tests fast, and loses data on an OS crash:
	// never set it outside tests.
	NoSync bool
	// StartTimeout bounds the wait for the server to accept connections,
	// default 2 minutes.
	StartTimeout time.Duration
	// OldServerWait bounds the wait for the server of an earlier run to
	// finish exiting (its owner was killed moments ago), default 30 s.
	OldServerWait time.Duration
	// ReachableRoot is where the cluster goes when chatgate runs as root
	// and OSUser cannot reach Dir because a parent directory it does not own
	// is closed to others (a 0700 home directory such as /root): the files
	// then live in ReachableRoot/<an id derived from Dir>, and Dir becomes a
	// symbolic link to that directory, so the permissions of the parents stay
	// as they are and later starts find the cluster again. Default
	// /var/lib/chatgate.
	ReachableRoot string
	// Logger receives what runs where (never the password); nil discards.
	Logger *slog.Logger
}

// withDefaults returns cfg with every zero field that has a default filled in.
func (cfg PostgresConfig) withDefaults() PostgresConfig {
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.OSUser == "" {
		cfg.OSUser = DefaultServerOSUser
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultPostgresStartTimeout
	}
	if cfg.OldServerWait == 0 {
		cfg.OldServerWait = DefaultOldServerWait
	}
	if cfg.ReachableRoot == "" {
		cfg.ReachableRoot = DefaultReachableRoot
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// validate reports the first invalid field.
func (cfg PostgresConfig) validate() error {
	switch {
	case cfg.Dir == "":
		return errors.New("PostgresConfig.Dir is required")
	case cfg.Port < 0 || cfg.Port > 65535:
		return fmt.Errorf("PostgresConfig.Port %d is out of range", cfg.Port)
	case strings.ContainsRune(cfg.Database, 0):
		return errors.New("PostgresConfig.Database contains a NUL byte")
	case cfg.StartTimeout < 0:
		return fmt.Errorf("PostgresConfig.StartTimeout %v is negative", cfg.StartTimeout)
	case cfg.OldServerWait < 0:
		return fmt.Errorf("PostgresConfig.OldServerWait %v is negative", cfg.OldServerWait)
	case !filepath.IsAbs(cfg.ReachableRoot):
		return fmt.Errorf("PostgresConfig.ReachableRoot %q is not an absolute path", cfg.ReachableRoot)
	}
	return nil
}

// Postgres is a running PostgreSQL server that devstack started and owns.
// Stop it with Stop. Its methods are safe for concurrent use.
type Postgres struct {
	cfg      PostgresConfig
	log      *slog.Logger
	bins     pgBinaries
	runAs    serverUser
	dir      string // where cfg.Dir really is: absolute, links resolved
	dataDir  string
	unlock   func() error // releases lockName
	password string
	port     int
	sockDir  string
	tempSock bool // sockDir is ours to remove

	logFile   *os.File
	logOffset int64 // where this start's output begins in postgres.log

	proc *serverProcess // the current postmaster

	stopMu  sync.Mutex
	stopped bool
	stopErr error
}

// StartPostgres starts the PostgreSQL cluster in cfg.Dir, creating it on
// first use, waits until it accepts connections and creates cfg.Database if
// missing. A later start on the same Dir reuses the cluster, its data and its
// password. It fails with ErrNoPostgresBinaries when no server binaries are
// found and with ErrDirInUse when another server runs on the cluster.
func StartPostgres(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := platformSupportsPostgres(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p, err := preparePostgres(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("start postgres in %s: %w", cfg.Dir, err)
	}
	if err := p.start(ctx); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("start postgres in %s: %w", cfg.Dir, err)
	}
	return p, nil
}

// preparePostgres does everything up to starting the server: it finds the
// binaries, lays out Dir, takes its lock, waits for the server of an earlier
// run to go, creates the cluster on first use, and fixes what running as
// root requires.
func preparePostgres(ctx context.Context, cfg PostgresConfig) (_ *Postgres, err error) {
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve Dir: %w", err)
	}
	p := &Postgres{cfg: cfg, log: cfg.Logger, dir: dir, dataDir: filepath.Join(dir, pgdataName)}
	defer func() {
		if err != nil {
			p.cleanup()
		}
	}()

	// Nothing to run: say what to install before touching any directory.
	if _, _, err := locateBinaries(cfg.BinDir, ""); err != nil {
		return nil, err
	}
	if p.runAs, err = lookupServerUser(cfg.OSUser); err != nil {
		return nil, err
	}
	if p.dir, err = placeDir(dir, cfg.ReachableRoot, p.runAs, p.log); err != nil {
		return nil, err
	}
	p.dataDir = filepath.Join(p.dir, pgdataName)
	if p.unlock, err = lockDir(filepath.Join(p.dir, lockName)); err != nil {
		return nil, fmt.Errorf("another chatgate process manages the cluster in %s: %w", dir, err)
	}

	clusterVersion, err := readClusterVersion(p.dataDir)
	if err != nil {
		return nil, err
	}
	if p.bins, err = findBinaries(ctx, cfg.BinDir, clusterVersion); err != nil {
		return nil, err
	}
	if clusterVersion != "" && clusterVersion != p.bins.major {
		return nil, fmt.Errorf("cluster %s was created by PostgreSQL %s but %s is PostgreSQL %s: "+
			"install PostgreSQL %s and point BinDir at it, or dump the data and remove %s",
			p.dataDir, clusterVersion, p.bins.postgres, p.bins.version, clusterVersion, p.dataDir)
	}
	if err := awaitOldServer(ctx, p.dataDir, cfg.OldServerWait, p.log); err != nil {
		return nil, err
	}

	// Open the log first so initdb's complaints land in it too.
	p.logFile, err = os.OpenFile(filepath.Join(p.dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open server log: %w", err)
	}
	if p.logOffset, err = p.logFile.Seek(0, io.SeekEnd); err != nil {
		return nil, fmt.Errorf("seek server log: %w", err)
	}

	if p.password, err = loadOrCreatePassword(p.dir, clusterVersion != ""); err != nil {
		return nil, err
	}
	if clusterVersion == "" {
		if err := p.initCluster(ctx); err != nil {
			return nil, err
		}
	} else if p.runAs.cred != nil {
		if err := chownTreeIfNeeded(p.dataDir, p.runAs); err != nil {
			return nil, err
		}
	}
	if err := p.chooseSocketDir(); err != nil {
		return nil, err
	}
	return p, nil
}

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
		p.log.Error("postgres exited unexpectedly", "err", exitError(sp.err), "data_dir", p.dataDir, "log_tail", p.logTail())
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
			return nil, fmt.Errorf("postgres not ready on port %d: %w (last: %v)", p.port, ctx.Err(), lastErr)
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

// URL returns the connection URL of cfg.Database, e.g.
// postgres://chatgate:PASSWORD@127.0.0.1:PORT/chatgate?sslmode=disable.
// It contains the password: do not log it.
func (p *Postgres) URL() string { return p.URLFor(p.cfg.Database) }

// URLFor returns the connection URL of another database on this server.
func (p *Postgres) URLFor(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(Superuser, p.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable", // loopback only; the server has no certificate
	}
	return u.String()
}

// Port returns the TCP port the server listens on.
func (p *Postgres) Port() int { return p.port }

// Done is closed when the server process exits, whether through Stop or not;
// chatgate can watch it to notice a server that died under it.
func (p *Postgres) Done() <-chan struct{} { return p.proc.exited }

// Stop shuts the server down with a "fast" shutdown (SIGINT: roll back open
// transactions, checkpoint, exit) and waits for it to exit. If ctx ends
// first, it makes the server quit at once; the next start then runs crash
// recovery, which loses nothing committed. That can take Stop a few seconds
// past ctx. Stop is idempotent: later calls return the first call's result.
func (p *Postgres) Stop(ctx context.Context) error {
	p.stopMu.Lock()
	defer p.stopMu.Unlock()
	if p.stopped {
		return p.stopErr
	}
	p.stopped = true
	p.stopErr = p.stop(ctx)
	return p.stopErr
}

// stop does Stop's work once.
func (p *Postgres) stop(ctx context.Context) error {
	defer p.cleanup()
	sp := p.proc
	sp.stopping.Store(true)
	select {
	case <-sp.exited:
		return fmt.Errorf("stop postgres: it had already exited: %w", exitError(sp.err))
	default:
	}
	if err := sp.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop postgres: signal pid %d: %w", sp.cmd.Process.Pid, err)
	}
	select {
	case <-sp.exited:
	case <-ctx.Done():
		sp.kill()
		return fmt.Errorf("stop postgres: killed it after %w; the next start runs crash recovery", ctx.Err())
	}
	if sp.err != nil {
		return fmt.Errorf("stop postgres: %w%s", sp.err, p.logTailForError())
	}
	p.log.Info("postgres stopped", "data_dir", p.dataDir, "port", p.port)
	return nil
}

// cleanup releases what a stopped (or never started) server leaves behind,
// the directory's lock last. Safe to call twice.
func (p *Postgres) cleanup() {
	if p.tempSock {
		_ = os.RemoveAll(p.sockDir)
		p.tempSock = false
	}
	if p.logFile != nil {
		_ = p.logFile.Close()
		p.logFile = nil
	}
	if p.unlock != nil {
		_ = p.unlock()
		p.unlock = nil
	}
}

// logTail returns the last lines the server wrote since this start.
func (p *Postgres) logTail() string {
	const maxLines, maxBytes = 20, 16 << 10
	f, err := os.Open(filepath.Join(p.dir, logName))
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	from := max(p.logOffset, fi.Size()-maxBytes)
	buf := make([]byte, fi.Size()-from)
	n, _ := f.ReadAt(buf, from)
	lines := strings.Split(strings.TrimRight(string(buf[:n]), "\n"), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}

// logTailForError formats logTail for the end of an error message.
func (p *Postgres) logTailForError() string {
	tail := p.logTail()
	if tail == "" {
		return ""
	}
	return fmt.Sprintf("\nlast lines of %s:\n%s", filepath.Join(p.dir, logName), tail)
}

// initCluster runs initdb into Dir/pgdata.init and renames it to Dir/pgdata
// when complete, so an interrupted initdb never leaves a half-made cluster
// where later starts would trust it.
func (p *Postgres) initCluster(ctx context.Context) error {
	initDir := filepath.Join(p.dir, pgInitName)
	if err := os.RemoveAll(initDir); err != nil {
		return fmt.Errorf("remove leftover %s: %w", initDir, err)
	}
	if err := removeEmptyDataDir(p.dataDir); err != nil {
		return err
	}
	// Created by us (not initdb) because the server user may not be
	// allowed to create entries in Dir.
	if err := os.Mkdir(initDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", initDir, err)
	}
	pwfile := filepath.Join(p.dir, pwfileName)
	if err := os.WriteFile(pwfile, []byte(p.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write initdb password file: %w", err)
	}
	defer os.Remove(pwfile)
	if p.runAs.cred != nil {
		// initdb reads the password file as the server user.
		for _, path := range []string{initDir, pwfile} {
			if err := os.Chown(path, int(p.runAs.cred.Uid), int(p.runAs.cred.Gid)); err != nil {
				return fmt.Errorf("hand %s to OS user %s: %w", path, p.runAs.name, err)
			}
		}
	}

	args := []string{
		"-D", initDir,
		"--auth=scram-sha-256",
		"--username=" + Superuser,
		"--pwfile=" + pwfile,
		"--encoding=UTF8",
		"--data-checksums",
		localeFlag(),
	}
	if p.cfg.NoSync {
		args = append(args, "--no-sync")
	}
	if compareVersions(p.bins.major, "14") >= 0 {
		// Its "start with pg_ctl -D …pgdata.init" advice would mislead
		// whoever reads postgres.log: we start the server, from pgdata.
		args = append(args, "--no-instructions")
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, p.bins.initdb, args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = p.logFile, p.logFile
	cmd.SysProcAttr = serverSysProcAttr(p.runAs.cred)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run %s: %w%s", p.bins.initdb, err, p.logTailForError())
	}
	if err := os.Rename(initDir, p.dataDir); err != nil {
		return fmt.Errorf("move new cluster into place: %w", err)
	}
	p.log.Info("postgres cluster created",
		"data_dir", p.dataDir, "initdb", p.bins.initdb, "version", p.bins.version,
		"superuser", Superuser, "password_file", filepath.Join(p.dir, passwordName),
		"duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// chooseSocketDir picks the Unix socket directory: the data directory when
// the socket path fits in sun_path, else a fresh directory under /tmp. Either
// way the server user can write it.
func (p *Postgres) chooseSocketDir() error {
	// ".s.PGSQL.65535.lock" is the longest name postgres puts there.
	if len(p.dataDir)+len("/.s.PGSQL.65535.lock") <= maxSocketPath {
		p.sockDir = p.dataDir
		return nil
	}
	dir, err := os.MkdirTemp("/tmp", "chatgate-pg-")
	if err != nil {
		return fmt.Errorf("create socket directory: %w", err)
	}
	if p.runAs.cred != nil {
		if err := os.Chown(dir, int(p.runAs.cred.Uid), int(p.runAs.cred.Gid)); err != nil {
			_ = os.Remove(dir)
			return fmt.Errorf("hand socket directory %s to OS user %s: %w", dir, p.runAs.name, err)
		}
	}
	p.sockDir, p.tempSock = dir, true
	return nil
}

// exitError turns a nil exit error (exit status 0) into something printable.
func exitError(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// localeFlag chooses the cluster locale. C.UTF-8 sorts by code point like C
// but classifies non-ASCII letters (upper(), lower(), ILIKE), which matters
// for names and messages in any language; it is not installed everywhere, so
// we fall back to plain C.
func localeFlag() string {
	for _, dir := range []string{"/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8"} {
		if _, err := os.Stat(dir); err == nil {
			return "--locale=C.UTF-8"
		}
	}
	return "--no-locale"
}

// readClusterVersion returns the major version recorded in dataDir/PG_VERSION,
// or "" when dataDir holds no cluster.
func readClusterVersion(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cluster version: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// removeEmptyDataDir clears the way for the rename of a new cluster: an empty
// Dir/pgdata (someone made it by hand) goes; anything else is not ours to
// delete.
func removeEmptyDataDir(dataDir string) error {
	entries, err := os.ReadDir(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w", dataDir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty but holds no PostgreSQL cluster (no PG_VERSION): move it away", dataDir)
	}
	return os.Remove(dataDir)
}

// loadOrCreatePassword returns the superuser password from Dir/password,
// generating it for a new cluster. The file is the only copy: without it an
// existing cluster is unreachable, so we refuse to invent a new one.
func loadOrCreatePassword(dir string, clusterExists bool) (string, error) {
	path := filepath.Join(dir, passwordName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		// Tighten a file someone loosened; it is a superuser password.
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return "", fmt.Errorf("restrict %s to mode 0600: %w", path, err)
			}
		}
		pw := strings.TrimSpace(string(b))
		if pw == "" {
			return "", fmt.Errorf("password file %s is empty", path)
		}
		return pw, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read password file: %w", err)
	case clusterExists:
		return "", fmt.Errorf("cluster %s exists but its password file %s is missing: restore the file, "+
			"or remove %s to start over with an empty cluster", filepath.Join(dir, pgdataName), path, filepath.Join(dir, pgdataName))
	}
	pw := rand.Text() // 26 base32 characters, 130 bits; safe in URLs unescaped
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write password file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write password file: %w", err)
	}
	return pw, nil
}

// sameDir reports whether a and b name the same directory.
func sameDir(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
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

// pgBinaries are the server programs StartPostgres runs.
type pgBinaries struct {
	initdb, postgres string
	version          string // e.g. "15.18"
	major            string // as in PG_VERSION: "15", or "9.6" before 10
}

// findBinaries locates initdb and postgres; see PostgresConfig.BinDir.
func findBinaries(ctx context.Context, binDir, clusterVersion string) (pgBinaries, error) {
	initdb, postgres, err := locateBinaries(binDir, clusterVersion)
	if err != nil {
		return pgBinaries{}, err
	}
	return describeBinaries(ctx, initdb, postgres)
}

// locateBinaries is findBinaries without running anything.
func locateBinaries(binDir, clusterVersion string) (initdb, postgres string, err error) {
	var dirs []string
	if binDir != "" {
		dirs = []string{binDir}
	} else {
		if clusterVersion != "" {
			dirs = append(dirs, filepath.Join("/usr/lib/postgresql", clusterVersion, "bin"))
		}
		initdb, errI := exec.LookPath("initdb")
		postgres, errP := exec.LookPath("postgres")
		if errI == nil && errP == nil {
			return initdb, postgres, nil
		}
		dirs = append(dirs, debianBinDirs()...)
	}
	for _, d := range dirs {
		initdb, postgres := filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
		if isExecutable(initdb) && isExecutable(postgres) {
			return initdb, postgres, nil
		}
	}
	if binDir != "" {
		return "", "", fmt.Errorf("BinDir %s has no initdb and postgres: %w", binDir, ErrNoPostgresBinaries)
	}
	return "", "", fmt.Errorf("searched PATH and /usr/lib/postgresql/*/bin: %w", ErrNoPostgresBinaries)
}

// debianBinDirs returns /usr/lib/postgresql/*/bin, highest version first.
// Debian keeps server binaries there, off PATH.
func debianBinDirs() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(matches, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	return matches
}

// compareVersions compares dotted numeric versions ("9.6" < "15").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// isExecutable reports whether path is a regular file with an execute bit.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// describeBinaries resolves symlinks (so logs show the real installation)
// and asks postgres for its version.
func describeBinaries(ctx context.Context, initdb, postgres string) (pgBinaries, error) {
	if r, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = r
	}
	if r, err := filepath.EvalSymlinks(postgres); err == nil {
		postgres = r
	}
	out, err := exec.CommandContext(ctx, postgres, "--version").Output()
	if err != nil {
		return pgBinaries{}, fmt.Errorf("run %s --version: %w", postgres, err)
	}
	// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
	_, rest, ok := bytes.Cut(out, []byte("(PostgreSQL) "))
	fields := strings.Fields(string(rest))
	if !ok || len(fields) == 0 {
		return pgBinaries{}, fmt.Errorf("unexpected output from %s --version: %q", postgres, out)
	}
	version := fields[0]
	parts := strings.Split(version, ".")
	major := parts[0]
	if n, _ := strconv.Atoi(major); n < 10 && len(parts) > 1 {
		major += "." + parts[1]
	}
	return pgBinaries{initdb: initdb, postgres: postgres, version: version, major: major}, nil
}
