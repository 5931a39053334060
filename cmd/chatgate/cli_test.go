package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
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

// asMainEnv, set in a child's environment, makes the test binary run
// chatgate's main instead of the tests, so that tests can check the exit
// codes and signal handling of a real chatgate process.
const asMainEnv = "CHATGATE_TEST_AS_MAIN"

func init() {
	if os.Getenv(asMainEnv) == "1" {
		main()
		os.Exit(0)
	}
}

// chatgateCommand returns the test binary set up to run as chatgate with args.
func chatgateCommand(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), asMainEnv+"=1"), env...)
	return cmd
}

// Usage errors exit with 2, failures with 1, success with 0 (issue 19:
// every error used to exit 1), and a usage error points at the help.
func TestCLI_ExitCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown command", []string{"bogus"}, exitUsage, `unknown command "bogus" for "chatgate"`},
		{"unknown subcommand", []string{"templates", "bogus"}, exitUsage, `unknown command "bogus" for "chatgate templates"`},
		{"misspelt subcommand", []string{"templates", "lsit"}, exitUsage, "did you mean list?"},
		{"unknown flag", []string{"run", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{"flag without its value", []string{"templates", "list", "--status"}, exitUsage, "flag needs an argument"},
		{"bad flag value", []string{"templates", "list", "--status", "nope"}, exitUsage, `--status "nope"`},
		{"bad int flag", []string{"templates", "show", "x", "--version", "two"}, exitUsage, "invalid argument"},
		{"unknown role", []string{"run", "--roles", "ingress,nope"}, exitUsage, `unknown role "nope"`},
		{"bad token role", []string{"tokens", "create", "--role", "king"}, exitUsage, `--role "king"`},
		{"bad token id", []string{"tokens", "revoke", "abc"}, exitUsage, "abc"},
		{"missing argument", []string{"templates", "show"}, exitUsage, "accepts 1 arg(s), received 0"},
		{"extra argument", []string{"version", "x"}, exitUsage, `unknown command "x"`},
		{"missing required flag", []string{"departments", "apply"}, exitUsage, `required flag(s) "file" not set`},
		{"failure", []string{"templates", "apply", "-f", "/nonexistent/templates.yaml"}, exitFailure, "read templates file"},
		{"success", []string{"version"}, 0, ""},
		{"help of a command group", []string{"templates"}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			err := execute(context.Background(), tc.args, &out, &errOut)
			if got := exitCode(err); got != tc.code {
				t.Fatalf("chatgate %s: exit code %d, want %d (err %v)", strings.Join(tc.args, " "), got, tc.code, err)
			}
			if !strings.Contains(errOut.String(), tc.stderr) {
				t.Fatalf("stderr %q, want it to say %q", errOut.String(), tc.stderr)
			}
			if tc.code == exitUsage && !strings.Contains(errOut.String(), "--help' for usage") {
				t.Fatalf("stderr %q does not point at the help", errOut.String())
			}
			if tc.code != 0 && strings.Count(errOut.String(), "chatgate: ") != 1 {
				t.Fatalf("the error is not printed once: %q", errOut.String())
			}
		})
	}
}

// The process itself exits with those codes.
func TestCLI_ProcessExitCodes(t *testing.T) {
	t.Parallel()
	for args, want := range map[string]int{"bogus": exitUsage, "templates apply -f /nonexistent.yaml": exitFailure, "version": 0} {
		t.Run(args, func(t *testing.T) {
			t.Parallel()
			out, err := chatgateCommand(t, nil, strings.Fields(args)...).CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != want {
				t.Fatalf("chatgate %s exited %d, want %d:\n%s", args, code, want, out)
			}
		})
	}
}

// run --help lists all six roles, what each runs, and the real default
// (issue 19: it listed three and called the default "all").
func TestCLI_RunHelpListsEveryRoleAndTheDefault(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if err := execute(context.Background(), []string{"run", "--help"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	help := out.String()
	for _, r := range []string{roleIngress, roleWhatsApp, roleWorker, roleSender, roleRelay, roleScheduler} {
		if !strings.Contains(help, "\n  "+r+" ") {
			t.Errorf("run --help does not describe role %s", r)
		}
	}
	def := defaultRoles()
	if slices.Contains(def, roleScheduler) || !slices.Contains(def, roleWorker) {
		t.Fatalf("default roles %v", def)
	}
	if !strings.Contains(help, "Default: "+strings.Join(def, ", ")+".") || !strings.Contains(help, "(default "+strings.Join(def, ",")+")") ||
		strings.Contains(help, "all)") {
		t.Fatalf("run --help does not say the default is %v:\n%s", def, help)
	}
}
