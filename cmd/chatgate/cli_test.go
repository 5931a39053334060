package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCLI runs the command newCmd builds with ARGS --database-url URL and
// returns what it printed.
func runCLI(t *testing.T, newCmd func(stdout, stderr io.Writer) *cobra.Command, dbURL string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newCmd(&out, &errOut)
	cmd.SetArgs(append(args, "--database-url", dbURL))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// mustRunCLI is runCLI failing the test on an error.
func mustRunCLI(t *testing.T, newCmd func(stdout, stderr io.Writer) *cobra.Command, dbURL string, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := runCLI(t, newCmd, dbURL, args...)
	if err != nil {
		t.Fatalf("chatgate %s %s: %v\n%s%s", newCmd(io.Discard, io.Discard).Name(), strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr
}
