package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chatgate/chatgate/gateway/postgres"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// execute runs the CLI with args; errors are printed to stderr once.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "chatgate: %v\n", err)
	}
	return err
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "chatgate",
		Short: "Messaging-channel gateway worker for WhatsApp, SMS and API channels",
		Long: `chatgate turns customer messages from WhatsApp, SMS and a generic API channel into
conversations and tickets kept in PostgreSQL, and publishes every change on Kafka.

Configuration comes from CHATGATE_* environment variables (docs/configuration.md).
Without CHATGATE_KAFKA_BROKERS and CHATGATE_DATABASE_URL, 'chatgate run' starts an
embedded Kafka-protocol broker and a managed local PostgreSQL under CHATGATE_DATA_DIR.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(stdout, stderr), newMigrateCmd(stderr), newBenchCmd(stdout, stderr), newWhatsAppCmd(stdout, stderr), newTemplatesCmd(stdout, stderr), newDepartmentsCmd(stdout, stderr), newTokensCmd(stdout, stderr), newDemoCmd(stdout, stderr), &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), version) },
	})
	return root
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	var roles, httpAddr, dataDir string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run chatgate (every role, or those named by --roles)",
		Long: `Run chatgate. Without CHATGATE_KAFKA_BROKERS it starts an embedded Kafka-protocol
broker on CHATGATE_EMBEDDED_KAFKA_ADDR (127.0.0.1:9092); without CHATGATE_DATABASE_URL it
starts a managed local PostgreSQL from the installed server binaries. Data of both is
kept under CHATGATE_DATA_DIR (./.chatgate). Stops cleanly on SIGINT/SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(os.LookupEnv)
			if err != nil {
				return err
			}
			if httpAddr != "" {
				cfg.HTTPAddr = httpAddr
			}
			if dataDir != "" {
				cfg.DataDir = dataDir
			}
			if err := cfg.validate(); err != nil {
				return err
			}
			rs, err := parseRoles(roles)
			if err != nil {
				return err
			}
			log := newLogger(stderr, cfg.LogLevel)
			if cfg.embeddedKafka() || cfg.embeddedPostgres() {
				if err := cfg.ensureEmbeddedTokens(stdout); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			a, err := newApp(ctx, cfg, rs, log)
			if err != nil {
				return err
			}
			defer a.Close()
			log.InfoContext(ctx, "chatgate running", "version", version, "roles", strings.Join(rs, ","),
				"http", cfg.HTTPAddr, "kafka", strings.Join(a.brokers, ","), "embedded_kafka", cfg.embeddedKafka(),
				"embedded_postgres", cfg.embeddedPostgres(), "topic_prefix", cfg.TopicPrefix)
			err = a.run(ctx)
			log.InfoContext(context.WithoutCancel(ctx), "chatgate stopping")
			return err
		},
	}
	cmd.Flags().StringVar(&roles, "roles", "", "comma-separated roles to run: ingress, worker, relay (default: all)")
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "HTTP listen address (overrides CHATGATE_HTTP_ADDR)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory of the embedded parts (overrides CHATGATE_DATA_DIR)")
	return cmd
}

func newMigrateCmd(stderr io.Writer) *cobra.Command {
	var dbURL string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations to CHATGATE_DATABASE_URL (or --database-url)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dbURL == "" {
				dbURL = os.Getenv("CHATGATE_DATABASE_URL")
			}
			if dbURL == "" {
				return fmt.Errorf("no database: set CHATGATE_DATABASE_URL or pass --database-url (chatgate run migrates its embedded database itself)")
			}
			log := newLogger(stderr, "info")
			pool, err := postgres.Connect(cmd.Context(), dbURL, 2)
			if err != nil {
				return err
			}
			defer pool.Close()
			applied, err := postgres.Migrate(cmd.Context(), pool, log)
			if err != nil {
				return err
			}
			log.Info("migrations done", "applied", len(applied))
			return nil
		},
	}
	cmd.Flags().StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default CHATGATE_DATABASE_URL)")
	return cmd
}
