package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatgate/chatgate/cmd/chatgate/internal/demo"
)

type demoOptions struct {
	// Timeout bounds the whole demo; StepTimeout each expectation.
	Timeout     time.Duration
	StepTimeout time.Duration
	Verbose     bool
}

func newDemoCmd(stdout, stderr io.Writer) *cobra.Command {
	opts := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Walk a scripted customer through the out-of-hours rules and print what happens",
		Long: `Start a private chatgate (embedded broker, managed PostgreSQL, in a temporary directory,
with a prompt expiry of 5 seconds) and a local web server standing in for the customer's
front end on the API channel, then play a scripted customer and an ops user through the
main paths of the rules (docs/departments.md):

  1. out of hours: prompt, YES, messages, //end: a ticket waits for agents;
  2. the same customer writes again: merged into the open ticket;
  3. another customer answers NO: no ticket; a customer writing from a Portuguese number
     gets the Portuguese texts (the department maps +351 to pt_PT);
  4. a third customer does not answer: the prompt expires;
  5. the department opens and an agent comes online: the first customer's next message
     starts a live chat, and the waiting ticket is closed (superseded_by_chat);
  6. that customer ends the live chat with //end: the desk is told and a reply is refused;
     the customer writes again and the same chat resumes; the front end's end_chat ends it.

It prints what the customer received and which ticket events were published, checks
each step, and exits non-zero if one did not happen as expected: a smoke test.
Nothing is left behind.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := "error"
			if opts.Verbose {
				level = "info"
			}
			return runDemo(cmd.Context(), opts, stdout, newLogger(stderr, level))
		},
	}
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 3*time.Minute, "give up after this long")
	cmd.Flags().DurationVar(&opts.StepTimeout, "step-timeout", 30*time.Second, "how long each step may take")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "also log what chatgate does (stderr)")
	return cmd
}

// runDemo starts the private chatgate and the front end, then runs the
// script (package demo), which drives the private chatgate from outside.
func runDemo(ctx context.Context, opts demoOptions, out io.Writer, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "chatgate-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // the server may run as the postgres user
		return err
	}
	secret, err := newToken()
	if err != nil {
		return err
	}
	front, err := demo.StartFrontEnd(secret)
	if err != nil {
		return err
	}
	defer front.Close()

	cfg := defaultConfig()
	cfg.DataDir = dir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.EmbeddedKafkaAddr = "127.0.0.1:0"
	cfg.Partitions = 4
	cfg.LogLevel = "warn"
	cfg.Rules.PromptExpiry, cfg.Rules.IntakeClose = demo.PromptExpiry, demo.IntakeClose
	cfg.TimerInterval = 200 * time.Millisecond
	for _, tok := range []*string{&cfg.APIToken, &cfg.OpsToken, &cfg.DeskToken} {
		if *tok, err = newToken(); err != nil {
			return err
		}
	}
	// Only the API channel, to the demo's front end: no provider account
	// in the environment is used.
	env := map[string]string{envAPICallbackURL: front.URL, envAPICallbackSecret: secret}
	cfg.lookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	fmt.Fprintln(out, "Starting a private chatgate (embedded broker, managed PostgreSQL, prompt expiry 5s)…")
	a, err := newApp(ctx, cfg, pipelineRoles, log)
	if err != nil {
		return err
	}
	defer a.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.run(runCtx) }()
	defer func() { stop(); <-done }() //nolint:errcheck // its error now is the stop we asked for
	select {
	case <-a.server.Listening():
	case err := <-done:
		return fmt.Errorf("chatgate stopped: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	return demo.Run(ctx, demo.Target{
		BaseURL: "http://" + a.server.Addr(), APIToken: cfg.APIToken, OpsToken: cfg.OpsToken, DeskToken: cfg.DeskToken,
		Brokers: a.brokers, Topics: a.topics, FrontEnd: front, PromptExpiry: cfg.Rules.PromptExpiry,
		StepTimeout: opts.StepTimeout,
	}, out)
}
