package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatgate/chatgate/cmd/chatgate/internal/loadtest"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
)

// benchOptions are the flags of `chatgate bench`.
type benchOptions struct {
	loadtest.Options
	// Timeout bounds the whole run, the private chatgate's start included.
	Timeout time.Duration
}

func newBenchCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := benchOptions{}
	var brokers, cpuProfile, memProfile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load test: push messages through the API channel and measure end to end",
		Long: `Push N messages through the API channel with C concurrent clients and measure the
rate and latency from the HTTP accept to the message_added event on the tickets
topic; then measure the machine's raw limits (PostgreSQL batched inserts, broker
produce) in the same run and print the ratio.

Without --target it starts a private chatgate (embedded broker and managed
PostgreSQL in a temporary directory) and removes it afterwards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Brokers = kafka.ParseBrokers(brokers)
			log := newLogger(stderr, "warn")
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			if memProfile != "" {
				runtime.MemProfileRate = 64 << 10
			}
			res, err := runBench(cmd.Context(), opts, log, stderr)
			if err != nil {
				return err
			}
			if memProfile != "" {
				f, err := os.Create(memProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
					return err
				}
			}
			res.Print(stdout)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&opts.Messages, "messages", "n", 20000, "messages to send")
	f.IntVarP(&opts.Concurrency, "concurrency", "c", 64, "concurrent HTTP clients")
	f.IntVar(&opts.Contacts, "contacts", 1000, "distinct contacts the messages come from")
	f.IntVar(&opts.RawRecords, "raw-records", 200000, "rows/records written by each raw-limit measurement")
	f.DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "give up after this long")
	f.StringVar(&opts.Target, "target", "", "base URL of a running chatgate (default: start a private one)")
	f.StringVar(&opts.Token, "token", os.Getenv("CHATGATE_API_TOKEN"), "API-channel token for --target")
	f.StringVar(&brokers, "brokers", os.Getenv("CHATGATE_KAFKA_BROKERS"), "Kafka brokers of --target")
	f.StringVar(&opts.DBURL, "database-url", os.Getenv("CHATGATE_DATABASE_URL"), "PostgreSQL of --target, for the raw insert measurement")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (private chatgate and load generator) to this file")
	f.StringVar(&memProfile, "memprofile", "", "write an allocation profile of the whole run to this file")
	return cmd
}

// runBench checks the flags, starts a private chatgate unless --target
// names one, and runs the load test (package loadtest) against it.
func runBench(ctx context.Context, opts benchOptions, log *slog.Logger, progress io.Writer) (loadtest.Result, error) {
	if opts.Messages < 1 || opts.Concurrency < 1 || opts.Contacts < 1 {
		return loadtest.Result{}, errors.New("bench: --messages, --concurrency and --contacts must be ≥ 1")
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	opts.Topics = gateway.Topics{Prefix: gateway.DefaultTopicPrefix}
	if opts.Target == "" {
		dir, err := os.MkdirTemp("", "chatgate-bench-")
		if err != nil {
			return loadtest.Result{}, err
		}
		defer os.RemoveAll(dir)
		if err := os.Chmod(dir, 0o755); err != nil { // the server may run as the postgres user
			return loadtest.Result{}, err
		}
		cfg := defaultConfig()
		cfg.DataDir = dir
		cfg.HTTPAddr = "127.0.0.1:0"
		cfg.EmbeddedKafkaAddr = "127.0.0.1:0"
		cfg.APIToken = "bench-token"
		cfg.LogLevel = "warn"
		fmt.Fprintln(progress, "starting a private chatgate (embedded broker, managed PostgreSQL)…")
		a, err := newApp(ctx, cfg, pipelineRoles, log)
		if err != nil {
			return loadtest.Result{}, err
		}
		defer a.Close()
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.run(runCtx) }()
		defer func() { stop(); <-done }() //nolint:errcheck // its error now is the stop we asked for
		select {
		case <-a.server.Listening():
		case err := <-done:
			return loadtest.Result{}, fmt.Errorf("chatgate stopped: %w", err)
		}
		opts.Target, opts.Token, opts.Brokers, opts.DBURL = "http://"+a.server.Addr(), cfg.APIToken, a.brokers, a.dbURL
		opts.Topics = a.topics
	}
	if len(opts.Brokers) == 0 {
		return loadtest.Result{}, errors.New("bench: --brokers is required with --target")
	}

	return loadtest.Run(ctx, opts.Options, progress)
}
