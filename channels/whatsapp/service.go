package whatsapp

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"golang.org/x/time/rate"

	"github.com/chatgate/chatgate/gateway"
)

// Config configures the whatsapp role (Service).
type Config struct {
	// DatabaseURL holds the device store and the leases.
	DatabaseURL string
	// Device selects the paired device to serve: its JID, its number
	// (+E164), or "" for the only one.
	Device string
	// Name labels the device in metrics and state events (never the
	// number). Default "default".
	Name string
	// Publisher and Topics: where inbound, status and state records go.
	Publisher gateway.Publisher
	Topics    gateway.Topics
	// Blobs stores media; default a FileStore in MediaDir.
	Blobs    BlobStore
	MediaDir string
	// MaxMediaBytes bounds inbound attachments; default DefaultMaxMediaBytes.
	MaxMediaBytes int64
	// Groups admits group messages.
	Groups bool
	// Lease timing; see LeaseConfig.
	LeaseRetryInterval     time.Duration
	LeaseHeartbeatInterval time.Duration
	// Sending limits; see ProviderConfig.
	DeviceRate   rate.Limit
	DeviceBurst  int
	RecipientGap time.Duration
	// Serve runs while this process holds the device and is connected,
	// and is cancelled when it stops: wire the outbound sender here, so
	// that only the replica with the socket consumes WhatsApp sends.
	Serve func(ctx context.Context, p *Provider) error
	// PairCheckInterval is how often Run looks for a device when none is
	// paired yet. Default 30 s.
	PairCheckInterval time.Duration
	Logger            *slog.Logger

	// newClient builds the client of a device; tests replace it.
	newClient func(dev *store.Device, stopped *atomic.Bool) Client
}

// Service is the whatsapp role: it serves one device, holding its lease.
type Service struct {
	cfg   Config
	store *Store

	mu    sync.Mutex
	state State
}

// NewService validates cfg and applies defaults.
func NewService(cfg Config) (*Service, error) {
	if cfg.DatabaseURL == "" || cfg.Publisher == nil {
		return nil, errors.New("whatsapp: DatabaseURL and Publisher are required")
	}
	if cfg.Name == "" {
		cfg.Name = "default"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Blobs == nil {
		if cfg.MediaDir == "" {
			return nil, errors.New("whatsapp: Blobs or MediaDir is required")
		}
		cfg.Blobs = &FileStore{Dir: cfg.MediaDir}
	}
	if cfg.PairCheckInterval <= 0 {
		cfg.PairCheckInterval = 30 * time.Second
	}
	if cfg.newClient == nil {
		cfg.newClient = func(dev *store.Device, stopped *atomic.Bool) Client {
			cli := whatsmeow.NewClient(dev, WALogger(cfg.Logger.With("component", "whatsmeow")))
			cli.SynchronousAck = true             // ack only after our handler succeeded
			cli.EnableDecryptedEventBuffer = true // a redelivered message decrypts again
			cli.InitialAutoReconnect = true
			cli.AutoReconnectHook = func(error) bool { return !stopped.Load() }
			return cli
		}
	}
	return &Service{cfg: cfg, state: StateDisconnected}, nil
}

// State returns the device's current state.
func (s *Service) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Run serves the device until ctx ends: it waits for a paired device and
// for the device's lease, connects, and hands intake and sending their
// parts. When the lease is lost it stands by again. On a permanent state
// (logged_out, temporarily_banned, stream_replaced) it stops reconnecting,
// logs what the operator must do, and waits for ctx; it returns an error
// only if it cannot open the device store.
func (s *Service) Run(ctx context.Context) error {
	st, err := OpenStore(ctx, s.cfg.DatabaseURL, s.cfg.Logger)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: a clean stop
		}
		return err
	}
	defer st.Close()
	s.store = st
	log := s.cfg.Logger.With("device", s.cfg.Name)
	warned := false
	for ctx.Err() == nil {
		dev, err := st.device(ctx, s.cfg.Device)
		if err != nil {
			if !warned {
				log.WarnContext(ctx, "whatsapp: no device to serve; pair one with `chatgate whatsapp pair`", "err", err)
				warned = true
			}
			if !sleepCtx(ctx, s.cfg.PairCheckInterval) {
				break
			}
			continue
		}
		lease, err := AcquireLease(ctx, LeaseConfig{
			DatabaseURL: s.cfg.DatabaseURL, Device: infoOf(dev).LeaseDevice(), Logger: log,
			RetryInterval: s.cfg.LeaseRetryInterval, HeartbeatInterval: s.cfg.LeaseHeartbeatInterval,
		})
		if err != nil {
			break // ctx ended
		}
		final := s.serve(ctx, dev, lease, log)
		_ = lease.Release(context.WithoutCancel(ctx))
		if final.Permanent() {
			log.ErrorContext(ctx, "whatsapp: device stopped; operator action needed", "state", final, "code", final.Code(), "action", operatorAction(final))
			<-ctx.Done()
			break
		}
	}
	return nil
}

// serve connects the device and runs until ctx ends, the lease is lost or
// a permanent state arrives; it returns the last state.
func (s *Service) serve(ctx context.Context, dev *store.Device, lease *Lease, log *slog.Logger) State {
	var stopped atomic.Bool
	cli := s.cfg.newClient(dev, &stopped)
	permanent := make(chan State, 1)
	own, _ := AddressOfJID(deviceJID(dev).ToNonAD())
	intake := &Intake{
		Converter: &Converter{Own: own, Groups: s.cfg.Groups, LIDs: dev.LIDs,
			Media: &MediaSaver{Downloader: cli, Store: s.cfg.Blobs, MaxBytes: s.cfg.MaxMediaBytes}},
		Publisher: s.cfg.Publisher, Topics: s.cfg.Topics, Logger: log,
		OnState: func(st State, reason string) {
			s.setState(ctx, st, reason, log)
			if st.Permanent() {
				stopped.Store(true)
				select {
				case permanent <- st:
				default:
				}
			}
		},
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cli.AddEventHandlerWithSuccessStatus(intake.Handler(sctx))
	if err := cli.ConnectContext(sctx); err != nil {
		log.WarnContext(ctx, "whatsapp: connect failed; retrying", "err", err)
		// Give the lease back so that a healthier replica may try.
		sleepCtx(ctx, 5*time.Second)
		return StateDisconnected
	}
	defer cli.Disconnect()

	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	if s.cfg.Serve != nil {
		p, err := NewProvider(ProviderConfig{Client: cli, DeviceRate: s.cfg.DeviceRate, DeviceBurst: s.cfg.DeviceBurst, RecipientGap: s.cfg.RecipientGap})
		if err != nil {
			log.ErrorContext(ctx, "whatsapp: provider", "err", err)
			return StateDisconnected
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveErr <- s.cfg.Serve(sctx, p)
		}()
	}
	defer func() {
		cancel() // stop Serve before waiting for it
		wg.Wait()
	}()
	select {
	case <-ctx.Done():
		return s.State()
	case <-lease.Lost():
		log.WarnContext(ctx, "whatsapp: lease lost; disconnecting", "err", lease.Err())
		s.setState(ctx, StateDisconnected, "lease lost", log)
		return StateDisconnected
	case st := <-permanent:
		return st
	case err := <-serveErr:
		if err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "whatsapp: sender stopped; reconnecting", "err", err)
		}
		return StateDisconnected
	}
}

func (s *Service) setState(ctx context.Context, st State, reason string, log *slog.Logger) {
	s.mu.Lock()
	prev := s.state
	s.state = st
	s.mu.Unlock()
	setStateGauge(s.cfg.Name, st)
	if prev == st {
		return
	}
	level := slog.LevelInfo
	if st != StateConnected {
		level = slog.LevelWarn
	}
	if st.Permanent() {
		level = slog.LevelError
	}
	log.Log(ctx, level, "whatsapp device state", "state", st, "code", st.Code(), "reason", reason)
	// The state event is best effort: the gauge and the log already tell.
	ev := ChannelState{Channel: gateway.ChannelWhatsApp, Device: s.cfg.Name, State: st, Code: st.Code(), Reason: reason, At: time.Now().UTC()}
	if m, err := ev.Record(DefaultSource, s.cfg.Topics.Name(gateway.TopicStatus)); err == nil {
		go func() {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := s.cfg.Publisher.Publish(pctx, m); err != nil {
				log.WarnContext(pctx, "whatsapp: state event not published", "err", err)
			}
		}()
	}
}

func operatorAction(st State) string {
	switch st {
	case StateLoggedOut:
		return "the device was unlinked on the phone (or the client is outdated): run `chatgate whatsapp pair` again, then restart the whatsapp role"
	case StateTemporarilyBanned:
		return "WhatsApp banned the number for a while: send less, wait for the ban to expire, then restart the whatsapp role"
	case StateStreamReplaced:
		return "another client connected with this session (a second chatgate outside this database, or an old process): stop it, then restart the whatsapp role"
	}
	return ""
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
