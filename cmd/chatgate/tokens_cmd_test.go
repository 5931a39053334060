package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apichannel "github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	tplapi "github.com/chatgate/chatgate/templates/opsapi"
	"github.com/chatgate/chatgate/ticketing/deskapi"
	deptapi "github.com/chatgate/chatgate/ticketing/opsapi"
)

// runTokens runs `chatgate tokens ARGS --database-url URL`.
func runTokens(t *testing.T, dbURL string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCLI(t, newTokensCmd, dbURL, args...)
}

func mustRunTokens(t *testing.T, dbURL string, args ...string) (stdout, stderr string) {
	t.Helper()
	return mustRunCLI(t, newTokensCmd, dbURL, args...)
}

var secretLine = regexp.MustCompile(`^cg_[A-Za-z0-9_-]{43}\n$`)

// createToken runs `chatgate tokens create ARGS` and returns the secret.
func createToken(t *testing.T, dbURL string, args ...string) string {
	t.Helper()
	out, _ := mustRunTokens(t, dbURL, append([]string{"create"}, args...)...)
	if !secretLine.MatchString(out) {
		t.Fatalf("create %v printed %q, want the secret alone on its line", args, out)
	}
	return strings.TrimSpace(out)
}

func TestTokensCLICreateListRevoke(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)

	out, errOut := mustRunTokens(t, db, "create", "--role", "agent", "--agent", "ann", "--label", "Ann's laptop")
	if !secretLine.MatchString(out) {
		t.Fatalf("stdout %q: want the secret alone", out)
	}
	annSecret := strings.TrimSpace(out)
	if !strings.Contains(errOut, "Created token 1: agent token of ann (Ann's laptop)") || strings.Contains(errOut, annSecret) {
		t.Fatalf("stderr %q", errOut)
	}
	createToken(t, db, "--role", "desk", "--label", "CRM")

	var created postgres.CreatedToken
	out, _ = mustRunTokens(t, db, "create", "--role", "supervisor", "--agent", "sam", "--json")
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create --json: %v\n%s", err, out)
	}
	if created.ID != 3 || created.Role != httpapi.RoleSupervisor || created.AgentID != "sam" || !strings.HasPrefix(created.Secret, "cg_") {
		t.Fatalf("create --json: %+v", created)
	}

	out, _ = mustRunTokens(t, db, "list")
	for _, want := range []string{"ID  ROLE", "1   agent       ann    Ann's laptop", "2   desk        -      CRM", "3   supervisor  sam    -"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, annSecret) || strings.Contains(out, created.Secret) || strings.Contains(out, "cg_") {
		t.Fatalf("list shows a secret:\n%s", out)
	}

	out, _ = mustRunTokens(t, db, "revoke", "1")
	if !strings.Contains(out, "Revoked token 1 (agent token of ann (Ann's laptop)); servers that cached it refuse it within 30s.") {
		t.Fatalf("revoke: %q", out)
	}
	out, _ = mustRunTokens(t, db, "revoke", "1")
	if !strings.Contains(out, "Token 1 (agent token of ann (Ann's laptop)) was already revoked at ") {
		t.Fatalf("revoke again: %q", out)
	}
	if out, _ := mustRunTokens(t, db, "list"); strings.Contains(out, "ann") {
		t.Fatalf("list shows a revoked token:\n%s", out)
	}
	var all []postgres.Token
	out, _ = mustRunTokens(t, db, "list", "--all", "--json")
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("list --all --json: %v\n%s", err, out)
	}
	if len(all) != 3 || !all[0].Revoked() || all[1].Revoked() || strings.Contains(out, "cg_") {
		t.Fatalf("list --all --json:\n%s", out)
	}

	// The secrets are the ones the store admits.
	store := tokenStoreAt(t, db)
	if _, err := store.Lookup(context.Background(), sha256Of(annSecret)); !errors.Is(err, httpapi.ErrUnknownToken) {
		t.Fatalf("revoked secret: %v", err)
	}
	if p, err := store.Lookup(context.Background(), sha256Of(created.Secret)); err != nil || p.Agent != "sam" || p.TokenID != "3" {
		t.Fatalf("supervisor secret: %+v, %v", p, err)
	}
}

func TestTokensCLIRefusesBadInput(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"create"}, `"role" not set`},
		{[]string{"create", "--role", "admin"}, `--role "admin": want one of agent, supervisor, desk, ops, api-channel`},
		{[]string{"create", "--role", "agent"}, "--agent is required for a agent token"},
		{[]string{"create", "--role", "supervisor"}, "--agent is required for a supervisor token"},
		{[]string{"create", "--role", "ops", "--agent", "ann"}, "--agent is only for agent and supervisor tokens"},
		{[]string{"create", "--role", "agent", "--agent", "ann ", "--label", "x"}, "invalid token"},
		{[]string{"revoke"}, "requires at least 1 arg"},
		{[]string{"revoke", "abc"}, `"abc" is not a token id`},
		{[]string{"revoke", "42"}, "revoke token 42: token not found"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, err := runTokens(t, db, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("tokens %v: err %v, want %q", tt.args, err, tt.want)
			}
			if out != "" || strings.Contains(errOut, "cg_") {
				t.Errorf("tokens %v printed %q / %q", tt.args, out, errOut)
			}
		})
	}
	if out, _ := mustRunTokens(t, db, "list", "--all", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("refused commands wrote tokens:\n%s", out)
	}
}

func tokenStoreAt(t *testing.T, dbURL string) *postgres.TokenStore {
	t.Helper()
	pool, err := postgres.Connect(context.Background(), dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return postgres.NewTokenStore(pool)
}

func sha256Of(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

// offsetClock is the real time plus an offset tests move forward, for the
// token cache of a running stack.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// startTokenStack is startRulesStack (bootstrap tokens set) with the HTTP
// server's clock, and so its token cache, on clock.
func startTokenStack(t *testing.T, dbURL string, clock *offsetClock) *stack {
	t.Helper()
	cfg := defaultConfig()
	cfg.Brokers = startBroker(t)
	cfg.DatabaseURL = dbURL
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.AdminAddr = "127.0.0.1:0" // no fixed port in tests
	cfg.APIToken, cfg.OpsToken, cfg.DeskToken = testToken, testOpsToken, testDeskToken
	cfg.Partitions = 4
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.lookupEnv = func(string) (string, bool) { return "", false }
	roles := slices.DeleteFunc(slices.Clone(pipelineRoles), func(r string) bool { return r == roleIngress })
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, roles, testLog(t))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// The server is built as newApp builds it, after the clock is set.
	a.now = clock.Now
	if a.server, err = a.buildServer(cfg.tokenMap()); err != nil {
		cancel()
		a.Close()
		t.Fatal(err)
	}
	a.roles = append([]string{roleIngress}, a.roles...)
	s := &stack{t: t, app: a, brokers: cfg.Brokers, cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- a.run(ctx) }()
	select {
	case <-a.server.Listening():
	case err := <-s.done:
		t.Fatalf("app stopped before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("http server did not start listening")
	}
	s.base = "http://" + a.server.Addr()
	t.Cleanup(s.stop)
	return s
}

// Tokens created with the CLI work on the running server at once, carry
// their role, and once revoked get 401 within the cache TTL (at once if the
// server had not seen them). Bootstrap tokens keep working.
func TestTokensCreatedWithTheCLIOnTheRunningServer(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	clock := &offsetClock{}
	s := startTokenStack(t, db, clock)
	online := map[string]string{"status": "online"}

	desk := createToken(t, db, "--role", "desk", "--label", "CRM")
	agent := createToken(t, db, "--role", "agent", "--agent", "ann")
	ops := createToken(t, db, "--role", "ops")
	unused := createToken(t, db, "--role", "desk")

	// The desk token reports any agent; the agent token only its own agent,
	// and an ops token is no desk at all.
	s.mustCall(t, http.MethodPut, "/v1/agents/ann/presence", desk, online, http.StatusOK)
	s.mustCall(t, http.MethodPut, "/v1/agents/ann/presence", agent, online, http.StatusOK)
	s.mustCall(t, http.MethodPut, "/v1/agents/bob/presence", agent, online, http.StatusForbidden)
	body := s.mustCall(t, http.MethodPut, "/v1/agents/ann/presence", ops, online, http.StatusForbidden)
	if !strings.Contains(string(body), `"forbidden"`) {
		t.Fatalf("ops token on the presence route: %s", body)
	}
	s.mustCall(t, http.MethodGet, "/v1/departments", ops, nil, http.StatusOK)
	s.mustCall(t, http.MethodGet, "/v1/departments", desk, nil, http.StatusForbidden)
	// Bootstrap tokens keep working next to stored ones.
	s.mustCall(t, http.MethodPut, "/v1/agents/ann/presence", testDeskToken, online, http.StatusOK)
	s.mustCall(t, http.MethodGet, "/v1/departments", testOpsToken, nil, http.StatusOK)

	mustRunTokens(t, db, "revoke", "1", "4") // desk, unused
	// A revoked token the server never saw is refused at once.
	s.mustCall(t, http.MethodPut, "/v1/agents/ann/presence", unused, online, http.StatusUnauthorized)
	// One it saw a moment ago is admitted until its cache entry expires …
	s.mustCall(t, http.MethodPut, "/v1/agents/ann/presence", desk, online, http.StatusOK)
	// … and refused from then on.
	clock.Advance(httpapi.DefaultTokenCacheTTL)
	body = s.mustCall(t, http.MethodPut, "/v1/agents/ann/presence", desk, online, http.StatusUnauthorized)
	if !strings.Contains(string(body), `"unauthorized"`) {
		t.Fatalf("revoked token: %s", body)
	}
	s.mustCall(t, http.MethodGet, "/v1/departments", ops, nil, http.StatusOK)

	// The use was recorded.
	var all []postgres.Token
	out, _ := mustRunTokens(t, db, "list", "--all", "--json")
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatal(err)
	}
	for _, tok := range all {
		if used := !tok.LastUsedAt.IsZero(); used != (tok.ID != 4) {
			t.Errorf("token %d (%s): last used %v", tok.ID, tok.Role, tok.LastUsedAt)
		}
	}
}

// TestRoleMatrixOnTheRunningServer: every route the server mounts, with a
// stored token of every role, admits the roles the route declares (the
// handler answers: anything but 401 and 403) and answers 403 "forbidden" to
// the others; an unknown token gets 401. The routes come from the handler
// packages, so a new route is in the matrix without editing this test; its
// roles are what the wiring in app.go gives it.
func TestRoleMatrixOnTheRunningServer(t *testing.T) {
	t.Parallel()
	db := pgtest.URL(t)
	s := startTokenStack(t, db, &offsetClock{})

	secrets := map[httpapi.Role]string{}
	for _, role := range httpapi.Roles() {
		args := []string{"--role", string(role)}
		if role.ActsAsAgent() {
			args = append(args, "--agent", "agent-"+string(role))
		}
		secrets[role] = createToken(t, db, args...)
	}

	type route struct {
		pattern string
		roles   []httpapi.Role
	}
	routes := []route{{apichannel.Pattern, []httpapi.Role{httpapi.RoleAPIChannel}}}
	for _, rt := range (&tplapi.Handlers{}).Routes() {
		routes = append(routes, route{rt.Pattern, []httpapi.Role{httpapi.RoleOps}})
	}
	for _, rt := range (&deptapi.Handlers{}).Routes() {
		routes = append(routes, route{rt.Pattern, rt.Roles})
	}
	for _, rt := range (&deskapi.Handlers{}).Routes() {
		routes = append(routes, route{rt.Pattern, rt.Roles})
	}
	params := regexp.MustCompile(`\{[^}]+\}`)
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = params.ReplaceAllString(path, "matrix-1")
		for _, role := range httpapi.Roles() {
			code, body := s.call(t, method, path, secrets[role], nil)
			admitted := slices.Contains(rt.roles, role)
			switch {
			// An admitted role reaches the handler, which may still refuse
			// with its own 403 (not_permitted: another agent's resource).
			case admitted && (code == http.StatusUnauthorized || (code == http.StatusForbidden && strings.Contains(string(body), `"code":"forbidden"`))):
				t.Errorf("%s as %s: %d, want the route to answer: %s", rt.pattern, role, code, body)
			case !admitted && (code != http.StatusForbidden || !strings.Contains(string(body), `"code":"forbidden"`)):
				t.Errorf("%s as %s: %d, want 403 forbidden: %s", rt.pattern, role, code, body)
			}
		}
		if code, body := s.call(t, method, path, "cg_unknown", nil); code != http.StatusUnauthorized {
			t.Errorf("%s with an unknown token: %d, want 401: %s", rt.pattern, code, body)
		}
	}
	for _, rt := range routes {
		t.Logf("%-45s %v", rt.pattern, rt.roles)
	}
}
