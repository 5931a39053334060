package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	apichannel "github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/deadletter"
	"github.com/chatgate/chatgate/gateway/devstack"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/gateway/outbox"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/gateway/sender"
	"github.com/chatgate/chatgate/gateway/stream"
	"github.com/chatgate/chatgate/templates"
	"github.com/chatgate/chatgate/templates/opsapi"
	tplstore "github.com/chatgate/chatgate/templates/pgstore"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/deskapi"
	deptapi "github.com/chatgate/chatgate/ticketing/opsapi"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

// Roles a process can run (docs/configuration.md, `--roles`).
const (
	roleIngress   = "ingress"   // HTTP API and inbound webhooks
	roleWorker    = "worker"    // ticketing worker on the inbound topic
	roleRelay     = "relay"     // outbox relay
	roleSender    = "sender"    // channel senders on the outbound topic
	roleWhatsApp  = "whatsapp"  // the WhatsApp device socket: intake, and its sender while holding the device
	roleScheduler = "scheduler" // sweeps due timers only (the worker sweeps them too)
)

// availableRoles are the roles this version implements, in start order.
var availableRoles = []string{roleIngress, roleWorker, roleRelay, roleSender, roleWhatsApp, roleScheduler}

// pipelineRoles are the roles that need no provider account: the load
// command and the end-to-end tests run them.
var pipelineRoles = []string{roleIngress, roleWorker, roleRelay, roleSender}

func parseRoles(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" || s == "all" {
		// The worker sweeps timers itself, so the default leaves out the
		// sweep-only scheduler role.
		roles := slices.DeleteFunc(slices.Clone(availableRoles), func(r string) bool { return r == roleScheduler })
		if !whatsAppBuilt {
			roles = slices.DeleteFunc(roles, func(r string) bool { return r == roleWhatsApp })
		}
		return roles, nil
	}
	var roles []string
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		switch {
		case slices.Contains(availableRoles, r):
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		default:
			return nil, fmt.Errorf("--roles: unknown role %q (available: %s)", r, strings.Join(availableRoles, ", "))
		}
	}
	return roles, nil
}

// app is chatgate's wiring: the embedded parts it started, the shared
// clients, and the roles it runs. End-to-end tests build it the same way
// `chatgate run` does.
type app struct {
	cfg    config
	log    *slog.Logger
	roles  []string
	topics gateway.Topics
	now    func() time.Time
	twilio twilio.Config

	pg       *devstack.Postgres
	broker   *devstack.Broker
	brokers  []string
	dbURL    string
	pool     *pgxpool.Pool
	service  *ticketing.Service
	producer *kafka.Producer // request path: small batches, low latency
	bulk     *kafka.Producer // outbox relay: large batches
	server   *httpapi.Server // the public HTTP server, with the ingress role
	hub      *stream.Hub     // the live stream's fan-out of the tickets topic, with the ingress role
	admin    *httpapi.Server // health, readiness and metrics on CHATGATE_ADMIN_ADDR, or nil

	closeOnce sync.Once
}

// newApp starts what the configuration asks for: embedded broker and
// database when none are configured, migrations, clients. On error it
// releases whatever it had started.
func newApp(ctx context.Context, cfg config, roles []string, log *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, roles: roles, topics: gateway.Topics{Prefix: cfg.TopicPrefix}, now: time.Now}
	if off := cfg.ClockOffset; off != 0 {
		log.WarnContext(ctx, "CHATGATE_CLOCK_OFFSET moves chatgate's clock: for trying rules by hand only", "offset", off)
		a.now = func() time.Time { return time.Now().Add(off) }
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if cfg.embeddedPostgres() {
		a.pg, err = devstack.StartPostgres(ctx, devstack.PostgresConfig{Dir: cfg.dataPath("postgres"), Logger: log})
		if err != nil {
			if errors.Is(err, devstack.ErrNoPostgresBinaries) {
				return nil, fmt.Errorf("%w\n(or point chatgate at a server with CHATGATE_DATABASE_URL)", err)
			}
			return nil, fmt.Errorf("start embedded postgres: %w", err)
		}
		a.dbURL = a.pg.URL()
	} else {
		a.dbURL = cfg.DatabaseURL
	}
	if cfg.embeddedKafka() {
		a.broker, err = devstack.StartBroker(devstack.BrokerConfig{
			Addr: cfg.EmbeddedKafkaAddr, DataDir: cfg.dataPath("kafka"),
			Topics: a.topics.All(), Partitions: int32(cfg.Partitions), Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("start embedded kafka broker on %s (set CHATGATE_EMBEDDED_KAFKA_ADDR to use another address): %w", cfg.EmbeddedKafkaAddr, err)
		}
		a.brokers = []string{a.broker.Addr()}
	} else {
		a.brokers = cfg.Brokers
	}

	startCtx, cancel := context.WithTimeout(ctx, cfg.StartupTimeout)
	defer cancel()
	log.InfoContext(ctx, "connecting to kafka", "brokers", strings.Join(a.brokers, ","), "up_to", cfg.StartupTimeout)
	answered, err := kafka.WaitReachable(startCtx, a.brokers, log)
	if err != nil {
		return nil, startupError(ctx, startCtx, "kafka", cfg.StartupTimeout, err)
	}
	if err := kafka.EnsureTopics(startCtx, answeredFirst(a.brokers, answered), a.topics.All(), cfg.Partitions, cfg.ReplicationFactor); err != nil {
		return nil, startupError(ctx, startCtx, "kafka topics", cfg.StartupTimeout, err)
	}
	log.InfoContext(ctx, "connecting to postgres", "database", describeDatabase(a.dbURL), "up_to", cfg.StartupTimeout)
	if a.pool, err = connectPostgres(startCtx, a.dbURL, int32(cfg.DBMaxConns), log); err != nil {
		return nil, startupError(ctx, startCtx, "postgres", cfg.StartupTimeout, err)
	}
	if _, err := postgres.Migrate(startCtx, a.pool, log); err != nil {
		return nil, startupError(ctx, startCtx, "migrations", cfg.StartupTimeout, err)
	}
	// kafka-go allocates a whole BatchSize of message slots for every batch
	// it opens, so a request-path producer whose batches hold a few
	// concurrent records wants a small BatchSize, and the relay, which
	// publishes up to a thousand records at once, a large one.
	a.producer, err = kafka.NewProducer(kafka.ProducerConfig{Brokers: a.brokers, BatchSize: 64})
	if err != nil {
		return nil, err
	}
	a.bulk, err = kafka.NewProducer(kafka.ProducerConfig{Brokers: a.brokers, BatchSize: 1000})
	if err != nil {
		return nil, err
	}
	if err := cfg.Rules.Validate(); err != nil {
		return nil, fmt.Errorf("rule times: %w", err)
	}
	if a.twilio, err = twilioSettings(cfg); err != nil {
		return nil, err
	}
	store := pgstore.New(a.pool)
	a.service = &ticketing.Service{Store: store, Directory: store, Now: a.now, Logger: log, Config: cfg.Rules,
		Desk: ticketing.DeskConfig{
			Templates:         tplstore.New(a.pool),
			Fallback:          templates.FallbackOrder{Default: cfg.TemplateLanguage},
			WindowClosingLead: cfg.WindowClosingLead,
		}}
	if err := a.service.Desk.Fallback.Validate(); err != nil {
		return nil, fmt.Errorf("CHATGATE_TEMPLATE_DEFAULT_LANGUAGE: %w", err)
	}
	if slices.Contains(roles, roleIngress) {
		if a.server, err = a.buildServer(cfg.tokenMap()); err != nil {
			return nil, err
		}
	}
	if addr, ok := cfg.adminAddr(roles); ok {
		a.admin = a.buildAdminServer(addr)
	}
	return a, nil
}

// buildServer mounts every HTTP handler on a new server.
func (a *app) buildServer(tokens map[string]httpapi.Role) (*httpapi.Server, error) {
	required, optional := a.readyChecks()
	srv := httpapi.New(httpapi.Config{
		Addr:           a.cfg.HTTPAddr,
		Logger:         a.log,
		ReadyChecks:    required,
		OptionalChecks: optional,
		Version:        version,
	})
	// The env's bootstrap tokens, then those of `chatgate tokens create`,
	// cached for httpapi.DefaultTokenCacheTTL (docs/tokens.md).
	auth := httpapi.NewAuthenticator(tokens, httpapi.WithLookup(postgres.NewTokenStore(a.pool)),
		httpapi.WithClock(a.now), httpapi.WithLogger(a.log))
	srv.Handle(apichannel.Pattern, auth.Require(&apichannel.Handler{
		Publisher: a.producer,
		Topics:    a.topics,
		Now:       a.now,
		Logger:    a.log,
	}, httpapi.RoleAPIChannel))
	if a.twilio.Enabled() {
		// Twilio's signature is the authentication of its webhooks.
		wh, err := twilio.NewWebhooks(a.twilio, twilio.WebhookOptions{Publisher: a.producer, Topics: a.topics, Logger: a.log, Now: a.now})
		if err != nil {
			return nil, twilioVariables.name(err)
		}
		wh.Mount(srv)
	}
	ops := func(h http.Handler) http.Handler { return auth.Require(h, httpapi.RoleOps) }
	(&opsapi.Handlers{Store: tplstore.New(a.pool), Now: a.now, Logger: a.log}).Mount(srv.Handle, ops)
	(&deskapi.Handlers{Service: a.service, Logger: a.log}).MountWithRoles(srv.Handle, auth.Require)
	(&deptapi.Handlers{
		Service: a.service, Plan: deptapi.NewPlanService(a.service.Directory, a.now),
		PresenceTTL: a.cfg.Rules.WithDefaults().PresenceTTL, Logger: a.log,
	}).Mount(srv.Handle, auth.Require)
	// The live stream (R41, docs/stream.md): every ingress process follows
	// the tickets topic itself and serves its own clients.
	hub, err := stream.NewHub(stream.Config{
		Source:  kafka.NewFollower(a.brokers, a.topics.Name(gateway.TopicTickets), a.log),
		Count:   pgstore.New(a.pool).QueueTotals,
		History: a.cfg.StreamHistory,
		Logger:  a.log,
	})
	if err != nil {
		return nil, fmt.Errorf("live stream: %w", err)
	}
	a.hub = hub
	(&stream.Handler{Hub: hub, Logger: a.log,
		Resolve: func(ctx context.Context, role httpapi.Role, agent string) (stream.Viewer, error) {
			return a.service.ScopeFor(ctx, ticketing.ActorRole(role), agent)
		}}).Mount(srv.Handle, auth.Require)
	return srv, nil
}

// run runs the configured roles until ctx ends or one fails.
func (a *app) run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	if a.admin != nil {
		g.Go(func() error { return a.admin.ListenAndServe(ctx) })
	}
	for _, role := range a.roles {
		switch role {
		case roleIngress:
			g.Go(func() error { return a.hub.Run(ctx) })
			g.Go(func() error { return a.server.ListenAndServe(ctx) })
		case roleWorker, roleScheduler:
			svc := a.service
			g.Go(func() error { return svc.RunTimers(ctx, a.cfg.TimerInterval, 500) })
			if role == roleScheduler {
				continue
			}
			topics := []string{a.topics.Name(gateway.TopicInbound), a.topics.Name(gateway.TopicCommands), a.topics.Name(gateway.TopicStatus)}
			consumer, err := kafka.NewConsumer(kafka.ConsumerConfig{
				Brokers:  a.brokers,
				GroupID:  a.cfg.WorkerGroup,
				Topics:   topics,
				MaxBatch: a.cfg.WorkerMaxBatch,
				Logger:   a.log,
				// A record that fails even alone (say it breaks a
				// constraint) must not hold its partition for ever.
				Deadletter: a.deadletter,
				Permanent:  postgres.IsPermanent,
			}, svc.HandleBatch)
			if err != nil {
				return err
			}
			a.log.InfoContext(ctx, "ticketing worker consuming", "topics", strings.Join(topics, ","), "group", a.cfg.WorkerGroup)
			g.Go(func() error {
				defer consumer.Close()
				return consumer.Run(ctx)
			})
		case roleRelay:
			relay, err := outbox.New(outbox.Config{Pool: a.pool, Publisher: a.bulk, Topics: a.topics, Logger: a.log})
			if err != nil {
				return err
			}
			g.Go(func() error { return relay.Run(ctx) })
		case roleWhatsApp:
			run, err := whatsAppRole(a)
			if err != nil {
				return err
			}
			g.Go(func() error { return run(ctx) })
		case roleSender:
			consumers, err := a.senders()
			if err != nil {
				return err
			}
			for _, c := range consumers {
				g.Go(func() error {
					defer c.Close()
					return c.Run(ctx)
				})
			}
		}
	}
	return g.Wait()
}

// providers returns the channel providers the configuration enables.
func (a *app) providers() ([]sender.Provider, error) {
	var ps []sender.Provider
	apiCfg, err := apiCallbackSettings(a.cfg)
	if err != nil {
		return nil, err
	}
	if apiCfg.Enabled() {
		p, err := apichannel.NewSender(apiCfg)
		if err != nil {
			return nil, apiCallbackVariables.name(err)
		}
		ps = append(ps, p)
	}
	if a.twilio.Enabled() {
		for _, ch := range a.twilio.Channels() {
			p, err := twilio.NewProvider(a.twilio, ch, twilio.ProviderOptions{Logger: a.log, Now: a.now})
			if err != nil {
				return nil, twilioVariables.name(err)
			}
			ps = append(ps, p)
		}
	}
	return ps, nil
}

// senders builds one consumer group per enabled channel on the outbound
// topic, so a slow provider never holds back another channel's sends.
func (a *app) senders() ([]*kafka.Consumer, error) {
	ps, err := a.providers()
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		a.log.Warn("sender role: no channel sender is configured; outbound messages wait on the outbound topic (see docs/configuration.md)")
	}
	log := postgres.NewSendLog(a.pool)
	var cs []*kafka.Consumer
	for _, p := range ps {
		r, err := sender.New(sender.Config{Provider: p, Log: log, Publisher: a.producer, Topics: a.topics, Logger: a.log, Now: a.now})
		if err != nil {
			return nil, err
		}
		group := a.senderGroup(p.Channel())
		c, err := kafka.NewConsumer(kafka.ConsumerConfig{
			Brokers: a.brokers, GroupID: group, Topics: []string{a.topics.Name(gateway.TopicOutbound)},
			MaxBatch: 100, Logger: a.log,
		}, r.HandleBatch)
		if err != nil {
			return nil, err
		}
		a.log.Info("sender consuming", "channel", p.Channel(), "topic", a.topics.Name(gateway.TopicOutbound), "group", group)
		cs = append(cs, c)
	}
	return cs, nil
}

// deadletter publishes a record a consumer could not handle to the
// deadletter topic, with the reason (counted and logged by the builder).
func (a *app) deadletter(ctx context.Context, m gateway.Message, cause error) error {
	rec, err := deadletter.New(ctx, a.log, gateway.DeadletterParams{
		Topic: a.topics.Name(gateway.TopicDeadletter), Source: deadletterSource, Original: m, Cause: cause, At: a.now(),
	})
	if err != nil {
		return err
	}
	return a.producer.Publish(ctx, rec)
}

// deadletterSource is the CloudEvents source of the records the worker's
// consumer dead-letters: poison records that fail even on their own.
const deadletterSource = "chatgate/worker"

// senderGroup is the consumer group of a channel's sender on the outbound
// topic: derived from CHATGATE_WORKER_GROUP so that deployments sharing a
// Kafka cluster do not share groups.
func (a *app) senderGroup(ch gateway.Channel) string {
	return a.cfg.WorkerGroup + "-sender-" + string(ch)
}

// Close stops what newApp started, in reverse order; safe to call twice.
func (a *app) Close() {
	a.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		for _, p := range []*kafka.Producer{a.producer, a.bulk} {
			if p != nil {
				_ = p.Close()
			}
		}
		if a.pool != nil {
			a.pool.Close()
		}
		if a.broker != nil {
			if err := a.broker.Close(); err != nil {
				a.log.Error("stop embedded kafka broker", "error", err)
			}
		}
		if a.pg != nil {
			if err := a.pg.Stop(ctx); err != nil {
				a.log.Error("stop embedded postgres", "error", err)
			}
		}
	})
}
