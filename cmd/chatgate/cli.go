package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chatgate/chatgate/gateway/postgres"
)

// execute runs the CLI with args; errors are printed to stderr once, a
// usage error with a pointer to the help. main exits with exitCode(err).
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "chatgate: %v\n", err)
		if errors.As(err, new(usageError)) {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	return err
}

// Exit codes: 2 for a mistake in how chatgate was called, 1 for a failure
// of what it was asked to do, as most command-line tools do.
const (
	exitFailure = 1
	exitUsage   = 2
)

// exitCode is the process status for what execute returned.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.As(err, new(usageError)):
		return exitUsage
	}
	return exitFailure
}

// usageError is a mistake in how chatgate was called: an unknown command
// or flag, a flag value it does not accept, a missing or extra argument.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf formats a usageError.
func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// markUsageErrors makes every way cobra refuses a command line a
// usageError: flag parsing, argument validation, required and grouped
// flags, and unknown subcommands (cobra shows the help of a command group
// and succeeds for `chatgate templates bogus`).
func markUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return usageError{err}
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return usageError{err}
		}
		return nil
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return cmd.Help()
				}
				msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
				if cmd.SuggestionsMinimumDistance <= 0 {
					cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only on its own path
				}
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += " (did you mean " + strings.Join(s, " or ") + "?)"
				}
				return usageError{errors.New(msg)}
			}
		} else if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError{err}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
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
		// --version prints what `chatgate version` prints.
		Version: build.String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newRunCmd(stdout, stderr), newMigrateCmd(stderr), newBenchCmd(stdout, stderr), newWhatsAppCmd(stdout, stderr), newTemplatesCmd(stdout, stderr), newDepartmentsCmd(stdout, stderr), newTokensCmd(stdout, stderr), newDeadletterCmd(stdout, stderr), newDemoCmd(stdout, stderr), &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and dirty flag of this build",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), build) },
	})
	markUsageErrors(root)
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
		Short: "Run chatgate: the default roles, or those named by --roles",
		Long: `Run chatgate. Without CHATGATE_KAFKA_BROKERS it starts an embedded Kafka-protocol
broker on CHATGATE_EMBEDDED_KAFKA_ADDR (127.0.0.1:9092); without CHATGATE_DATABASE_URL it
starts a managed local PostgreSQL from the installed server binaries. Data of both is
kept under CHATGATE_DATA_DIR (./.chatgate). SIGINT (Ctrl-C) or SIGTERM stops it cleanly, and
it then exits with status 0; a second SIGINT during the stop ends it at once.

Roles (--roles, comma-separated):
` + rolesHelp(),
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
				return usageError{err}
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
			log.InfoContext(ctx, "chatgate running", "version", version, "revision", build.Revision, "roles", strings.Join(rs, ","),
				"http", cfg.HTTPAddr, "kafka", strings.Join(a.brokers, ","), "embedded_kafka", cfg.embeddedKafka(),
				"embedded_postgres", cfg.embeddedPostgres(), "topic_prefix", cfg.TopicPrefix)
			err = a.run(ctx)
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				err = nil // a role that reports the stop it was asked for
			}
			log.InfoContext(context.WithoutCancel(ctx), "chatgate stopping")
			return err
		},
	}
	cmd.Flags().StringVar(&roles, "roles", "", "comma-separated roles to run: "+strings.Join(availableRoles, ", ")+
		" (default "+strings.Join(defaultRoles(), ",")+")")
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "HTTP listen address (overrides CHATGATE_HTTP_ADDR)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory of the embedded parts (overrides CHATGATE_DATA_DIR)")
	return cmd
}

// roleDescriptions say what each role runs, for run --help.
var roleDescriptions = map[string]string{
	roleIngress:   "the HTTP server: API channel, Twilio webhooks, desk and ops APIs, health, metrics",
	roleWorker:    "the ticketing worker on the inbound, commands and status topics (it sweeps timers too)",
	roleRelay:     "the outbox relay: publishes ticket events and outbound messages",
	roleSender:    "the channel senders on the outbound topic (API callback, Twilio)",
	roleWhatsApp:  "the linked WhatsApp device: intake, receipts and its sender",
	roleScheduler: "sweeps due timers only; the worker sweeps them too, so it is not a default",
}

// defaultRoles are the roles run without --roles.
func defaultRoles() []string {
	rs, _ := parseRoles("")
	return rs
}

// rolesHelp lists every role, what it runs, and the default set.
func rolesHelp() string {
	var b strings.Builder
	for _, r := range availableRoles {
		fmt.Fprintf(&b, "  %-10s %s\n", r, roleDescriptions[r])
	}
	fmt.Fprintf(&b, "Default: %s.", strings.Join(defaultRoles(), ", "))
	if !whatsAppBuilt {
		b.WriteString(" This build has no WhatsApp channel (-tags nowhatsapp).")
	}
	return b.String()
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
