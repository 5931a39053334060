package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
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
