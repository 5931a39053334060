package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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

// syncBuffer is a bytes.Buffer a child process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// `chatgate run` on its embedded defaults (broker, managed PostgreSQL, in a
// fresh data directory) stops cleanly on SIGINT and SIGTERM and exits 0
// (issue 19: `make run` reported "Error 1" after a clean Ctrl-C).
func TestRun_ExitsZeroAfterACleanStopOnSignal(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if os.Geteuid() == 0 { // the managed PostgreSQL runs as postgres, who must traverse it
				for _, d := range []string{dir, filepath.Dir(dir)} {
					if err := os.Chmod(d, 0o711); err != nil {
						t.Fatal(err)
					}
				}
			}
			var env []string
			for _, kv := range os.Environ() { // the embedded defaults: no configured broker or database
				if !strings.HasPrefix(kv, "CHATGATE_") {
					env = append(env, kv)
				}
			}
			cmd := chatgateCommand(t, nil, "run")
			cmd.Env = append(env, asMainEnv+"=1", "CHATGATE_DATA_DIR="+filepath.Join(dir, "data"),
				"CHATGATE_EMBEDDED_KAFKA_ADDR=127.0.0.1:0", "CHATGATE_HTTP_ADDR=127.0.0.1:0")
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			stopped := false // set once exited was received from
			t.Cleanup(func() {
				if !stopped {
					_ = cmd.Process.Kill()
					<-exited
				}
			})

			// Up when /healthz answers on the address it logged.
			addr := regexp.MustCompile(`msg="http server listening" addr=(\S+)`)
			deadline := time.Now().Add(2 * time.Minute)
			for {
				if m := addr.FindStringSubmatch(stderr.String()); m != nil {
					if resp, err := http.Get("http://" + m[1] + "/healthz"); err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK && strings.Contains(stderr.String(), "chatgate running") {
							break
						}
					}
				}
				select {
				case err := <-exited:
					stopped = true
					t.Fatalf("chatgate run exited before it was up: %v\n%s", err, stderr.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("chatgate run not up in time:\n%s", stderr.String())
				}
				time.Sleep(50 * time.Millisecond)
			}

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				stopped = true
				if err != nil {
					t.Fatalf("chatgate run after %s: %v, want exit status 0\n%s", sig, err, stderr.String())
				}
			case <-time.After(time.Minute):
				t.Fatalf("chatgate run did not stop on %s:\n%s", sig, stderr.String())
			}
			logs := stderr.String()
			for _, want := range []string{"chatgate stopping", "postgres stopped", "embedded kafka broker stopped"} {
				if !strings.Contains(logs, want) {
					t.Errorf("stop logs lack %q", want)
				}
			}
			if strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "chatgate: ") {
				t.Fatalf("errors during a clean stop:\n%s", logs)
			}
		})
	}
}
