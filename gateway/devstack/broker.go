package devstack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker defaults.
const (
	// DefaultBrokerAddr is where the embedded broker listens unless told
	// otherwise: the standard Kafka port, loopback only, so a developer's
	// machine does not expose an unauthenticated broker to the network.
	DefaultBrokerAddr = "127.0.0.1:9092"
	// DefaultPartitions is the partition count of topics the broker creates.
	DefaultPartitions int32 = 8
	// DefaultGroupMinSessionTimeout is the smallest consumer-group session
	// timeout the broker accepts. kfake's own default is 6 s, which makes
	// consumers asking for less stall with "Invalid Session Timeout".
	DefaultGroupMinSessionTimeout = time.Second
)

// BrokerConfig configures the embedded Kafka-protocol broker.
type BrokerConfig struct {
	// Addr is the listen address, default "127.0.0.1:9092". Port 0 means
	// any free port; Broker.Addr reports the one chosen.
	Addr string
	// AdvertisedHost is the host the broker tells clients to connect to in
	// metadata responses. "" means the host in Addr, or 127.0.0.1 when that
	// host is a wildcard ("", "0.0.0.0", "::"), since a wildcard is not an
	// address a client can dial. Set it when clients on other machines must
	// reach a broker listening on a wildcard.
	AdvertisedHost string
	// DataDir is where records and committed offsets persist
	// (kfake.DataDir). "" keeps everything in memory only.
	DataDir string
	// SyncWrites fsyncs every produced batch and group-log entry
	// (kfake.SyncWrites). Without it, data reaches the OS page cache at once
	// (and so survives a crash of this process), and Close fsyncs DataDir;
	// only an OS crash or power loss can lose the unsynced tail.
	SyncWrites bool
	// Topics are created at start if missing, also on a restart over an
	// existing DataDir (kfake ignores its seed topics when it loads
	// persisted state).
	Topics []string
	// Partitions is the partition count of created topics, default 8.
	// Existing topics keep their partition count.
	Partitions int32
	// GroupMinSessionTimeout is the smallest consumer-group session timeout
	// accepted, default 1 s.
	GroupMinSessionTimeout time.Duration
	// Logger receives the broker's own logs; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns cfg with every zero field that has a default filled in.
func (cfg BrokerConfig) withDefaults() BrokerConfig {
	if cfg.Addr == "" {
		cfg.Addr = DefaultBrokerAddr
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.GroupMinSessionTimeout == 0 {
		cfg.GroupMinSessionTimeout = DefaultGroupMinSessionTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Broker is a running embedded Kafka-protocol broker (a one-node kfake
// cluster). It is safe for concurrent use.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
	dataDir string
	sync    bool
	log     *slog.Logger
	klog    *kfakeLogger
	unlock  func() error

	closeOnce sync.Once
	closeErr  error
}

// StartBroker starts an embedded broker and creates cfg.Topics. With a
// DataDir it reloads whatever an earlier broker persisted there; it fails with
// ErrDirInUse if another broker holds that DataDir.
func StartBroker(cfg BrokerConfig) (*Broker, error) {
	cfg = cfg.withDefaults()
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("start broker: parse Addr %q: %w", cfg.Addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("start broker: parse port of Addr %q: %w", cfg.Addr, err)
	}
	if cfg.Partitions < 0 {
		return nil, fmt.Errorf("start broker: Partitions must be positive, got %d", cfg.Partitions)
	}
	advertised := cfg.AdvertisedHost
	if advertised == "" {
		advertised = host
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			advertised = "127.0.0.1"
		}
	}

	b := &Broker{
		dataDir: cfg.DataDir,
		sync:    cfg.SyncWrites,
		log:     cfg.Logger,
		klog:    &kfakeLogger{log: cfg.Logger},
		unlock:  func() error { return nil },
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		// kfake always asks to listen on 127.0.0.1; we substitute the host
		// from Addr and keep the port it asks for (ours, or 0).
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			ln, err := net.Listen(network, net.JoinHostPort(host, p))
			if err != nil {
				return nil, err
			}
			// kfake advertises whatever the listener's Addr says.
			if advertised != host {
				_, actual, _ := net.SplitHostPort(ln.Addr().String())
				ln = advertisedListener{Listener: ln, addr: hostPortAddr(net.JoinHostPort(advertised, actual))}
			}
			return ln, nil
		}),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
		kfake.GroupMinSessionTimeout(cfg.GroupMinSessionTimeout),
		kfake.WithLogger(b.klog),
	}
	if port != 0 {
		opts = append(opts, kfake.Ports(int(port)))
	}
	if len(cfg.Topics) > 0 {
		// Seeding makes the topics exist the moment the listener accepts;
		// it only applies to a fresh DataDir, see createTopics.
		opts = append(opts, kfake.SeedTopics(cfg.Partitions, cfg.Topics...))
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("start broker: create DataDir: %w", err)
		}
		unlock, err := lockDir(filepath.Join(cfg.DataDir, ".chatgate-broker.lock"))
		if err != nil {
			return nil, fmt.Errorf("start broker on DataDir %s: %w", cfg.DataDir, err)
		}
		b.unlock = unlock
		opts = append(opts, kfake.DataDir(cfg.DataDir))
		if cfg.SyncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	}

	b.cluster, err = kfake.NewCluster(opts...)
	if err != nil {
		_ = b.unlock()
		return nil, fmt.Errorf("start broker on %s: %w", cfg.Addr, err)
	}
	b.addr = b.cluster.ListenAddrs()[0]
	if err := b.createTopics(cfg.Topics, cfg.Partitions); err != nil {
		return nil, errors.Join(fmt.Errorf("start broker: %w", err), b.Close())
	}
	cfg.Logger.Info("embedded kafka broker listening",
		"addr", b.addr, "listen", cfg.Addr, "data_dir", cfg.DataDir, "topics", cfg.Topics)
	return b, nil
}

// createTopics creates the topics that do not exist yet. kfake skips
// SeedTopics when it reloads a DataDir, so a topic added to the configuration
// after the first run is created here.
func (b *Broker) createTopics(topics []string, partitions int32) error {
	for _, t := range topics {
		err := b.cluster.CreateTopic(t, partitions, nil)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %q: %w", t, err)
		}
		if err == nil {
			b.log.Info("embedded kafka broker created topic", "topic", t, "partitions", partitions)
		}
	}
	return nil
}

// Addr returns the host:port clients should dial, e.g. "127.0.0.1:9092",
// with the port the broker actually listens on.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker. With a DataDir it persists all state (kfake writes
// partition snapshots and group state on shutdown), then fsyncs the
// directory so a later StartBroker on it sees every record and committed
// offset. Close is idempotent; later calls return the first call's result.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.klog.captureErrors()
		b.cluster.Close()
		errs := b.klog.capturedErrors()
		if b.dataDir != "" && !b.sync {
			// Without SyncWrites kfake closes segment files without
			// fsyncing them.
			if err := syncTree(b.dataDir); err != nil {
				errs = append(errs, err)
			}
		}
		if err := b.unlock(); err != nil {
			errs = append(errs, fmt.Errorf("unlock DataDir: %w", err))
		}
		if err := errors.Join(errs...); err != nil {
			b.closeErr = fmt.Errorf("close broker %s: %w", b.addr, err)
		}
		b.log.Info("embedded kafka broker stopped", "addr", b.addr, "data_dir", b.dataDir)
	})
	return b.closeErr
}

// syncTree fsyncs every file and directory under dir, directories included
// so that renames kfake made (snapshot.json.tmp -> snapshot.json) are durable.
func syncTree(dir string) error {
	var errs []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if err := f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("fsync %s: %w", path, err))
		}
		return f.Close()
	})
	if err := errors.Join(append(errs, err)...); err != nil {
		return fmt.Errorf("flush DataDir %s: %w", dir, err)
	}
	return nil
}

// advertisedListener reports addr instead of the address it is bound to,
// because kfake advertises its listener's address to clients and a wildcard
// bind address cannot be dialled.
type advertisedListener struct {
	net.Listener
	addr net.Addr
}

// Addr implements net.Listener.
func (l advertisedListener) Addr() net.Addr { return l.addr }

// hostPortAddr is a net.Addr that can carry a host name, which net.TCPAddr
// cannot.
type hostPortAddr string

// Network implements net.Addr.
func (hostPortAddr) Network() string { return "tcp" }

// String implements net.Addr.
func (a hostPortAddr) String() string { return string(a) }

// kfakeLogger forwards kfake's printf-style logs to slog, and records error
// logs during Close, the only way kfake reports a failure to persist.
type kfakeLogger struct {
	log *slog.Logger

	mu        sync.Mutex
	capturing bool
	errs      []error
}

// Logf implements kfake.Logger. kfake's Info level logs individual requests,
// so it maps to slog's Debug.
func (l *kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelNone:
		return
	case kfake.LogLevelError:
		lvl = slog.LevelError
		l.mu.Lock()
		if l.capturing {
			l.errs = append(l.errs, fmt.Errorf(format, args...))
		}
		l.mu.Unlock()
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		lvl = slog.LevelDebug
	default:
		lvl = slog.LevelDebug - 4
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, lvl) {
		return
	}
	// A static message, kfake's own words as an attribute, so that a log
	// search for the embedded broker's lines finds them all.
	l.log.Log(ctx, lvl, "kfake", "detail", fmt.Sprintf(format, args...))
}

// captureErrors starts recording error logs.
func (l *kfakeLogger) captureErrors() {
	l.mu.Lock()
	l.capturing = true
	l.mu.Unlock()
}

// capturedErrors returns the error logs recorded since captureErrors.
func (l *kfakeLogger) capturedErrors() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs
}
