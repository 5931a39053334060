package httpapi_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/httpapi"
)

// roleEcho answers 200 with the role Require put into the context.
var roleEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	role, ok := httpapi.RoleFrom(r.Context())
	if !ok {
		httpapi.WriteError(w, http.StatusInternalServerError, "no_role", "no role in context")
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"role": string(role)})
})

func TestAuthenticatorRequire(t *testing.T) {
	t.Parallel()
	auth := httpapi.NewAuthenticator(map[string]httpapi.Role{
		"api-secret":  httpapi.RoleAPIChannel,
		"api-second":  httpapi.RoleAPIChannel, // rotation: two tokens, one role
		"desk-secret": httpapi.RoleDesk,
		"ops-secret":  httpapi.RoleOps,
		"":            httpapi.RoleOps, // ignored: an unset token must not admit anyone
	})

	tests := []struct {
		name          string
		roles         []httpapi.Role
		authorization string // "" sends no header
		wantStatus    int
		wantCode      string
		wantChallenge string // prefix of WWW-Authenticate, "" for none
		wantRole      httpapi.Role
	}{
		{name: "no header", roles: []httpapi.Role{httpapi.RoleAPIChannel}, wantStatus: 401, wantCode: "unauthorized", wantChallenge: "Bearer"},
		{name: "wrong scheme", roles: []httpapi.Role{httpapi.RoleAPIChannel}, authorization: "Basic YXBpLXNlY3JldDo=", wantStatus: 401, wantCode: "unauthorized", wantChallenge: "Bearer"},
		{name: "scheme without token", roles: []httpapi.Role{httpapi.RoleAPIChannel}, authorization: "Bearer", wantStatus: 401, wantCode: "unauthorized", wantChallenge: "Bearer"},
		{name: "scheme with blank token", roles: []httpapi.Role{httpapi.RoleAPIChannel}, authorization: "Bearer   ", wantStatus: 401, wantCode: "unauthorized", wantChallenge: "Bearer"},
		{name: "token with inner space", roles: []httpapi.Role{httpapi.RoleAPIChannel}, authorization: "Bearer api secret", wantStatus: 401, wantCode: "unauthorized", wantChallenge: "Bearer"},
		{name: "token glued to scheme", roles: []httpapi.Role{httpapi.RoleAPIChannel}, authorization: "Bearerapi-secret", wantStatus: 401, wantCode: "unauthorized", wantChallenge: "Bearer"},
		{name: "unknown token", roles: []httpapi.Role{httpapi.RoleAPIChannel}, authorization: "Bearer nope", wantStatus: 401, wantCode: "unauthorized", wantChallenge: `Bearer realm="chatgate", error="invalid_token"`},
		{name: "prefix of a token", roles: []httpapi.Role{httpapi.RoleAPIChannel}, authorization: "Bearer api-secre", wantStatus: 401, wantCode: "unauthorized", wantChallenge: "Bearer"},
		{name: "wrong role", roles: []httpapi.Role{httpapi.RoleAPIChannel}, authorization: "Bearer desk-secret", wantStatus: 403, wantCode: "forbidden"},
		{name: "right role", roles: []httpapi.Role{httpapi.RoleAPIChannel}, authorization: "Bearer api-secret", wantStatus: 200, wantRole: httpapi.RoleAPIChannel},
		{name: "second token of the role", roles: []httpapi.Role{httpapi.RoleAPIChannel}, authorization: "Bearer api-second", wantStatus: 200, wantRole: httpapi.RoleAPIChannel},
		{name: "scheme is case-insensitive", roles: []httpapi.Role{httpapi.RoleAPIChannel}, authorization: "bearer api-secret", wantStatus: 200, wantRole: httpapi.RoleAPIChannel},
		{name: "one of several roles", roles: []httpapi.Role{httpapi.RoleDesk, httpapi.RoleOps}, authorization: "Bearer ops-secret", wantStatus: 200, wantRole: httpapi.RoleOps},
		{name: "none of several roles", roles: []httpapi.Role{httpapi.RoleDesk, httpapi.RoleOps}, authorization: "Bearer api-secret", wantStatus: 403, wantCode: "forbidden"},
		{name: "no roles admits any known token", authorization: "Bearer desk-secret", wantStatus: 200, wantRole: httpapi.RoleDesk},
		{name: "no roles still refuses unknown tokens", authorization: "Bearer nope", wantStatus: 401, wantCode: "unauthorized", wantChallenge: "Bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			rec := httptest.NewRecorder()
			auth.Require(roleEcho, tt.roles...).ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			if tt.wantChallenge == "" && challenge != "" {
				t.Errorf("WWW-Authenticate = %q, want none", challenge)
			}
			if !strings.HasPrefix(challenge, tt.wantChallenge) {
				t.Errorf("WWW-Authenticate = %q, want prefix %q", challenge, tt.wantChallenge)
			}
			if tt.wantStatus != http.StatusOK {
				assertJSONError(t, rec.Result(), tt.wantStatus, tt.wantCode)
				return
			}
			var got map[string]string
			decodeJSON(t, rec.Body.Bytes(), &got)
			if got["role"] != string(tt.wantRole) {
				t.Errorf("role in context = %q, want %q", got["role"], tt.wantRole)
			}
		})
	}
}

func TestRoleFromWithoutRequire(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if role, ok := httpapi.RoleFrom(req.Context()); ok {
		t.Fatalf("RoleFrom = %q, true on a request that was not authenticated", role)
	}
	ctx := httpapi.WithRole(req.Context(), httpapi.RoleDesk)
	if role, ok := httpapi.RoleFrom(ctx); !ok || role != httpapi.RoleDesk {
		t.Fatalf("RoleFrom(WithRole(desk)) = %q, %v", role, ok)
	}
}

func TestNewAuthenticatorCopiesTokens(t *testing.T) {
	t.Parallel()
	tokens := map[string]httpapi.Role{"t1": httpapi.RoleOps}
	auth := httpapi.NewAuthenticator(tokens)
	delete(tokens, "t1")
	tokens["t2"] = httpapi.RoleOps

	for tok, want := range map[string]int{"t1": http.StatusOK, "t2": http.StatusUnauthorized} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		auth.Require(roleEcho).ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("token %s: status %d, want %d", tok, rec.Code, want)
		}
	}
}

// principalEcho answers 200 with the Principal Require put into the context.
var principalEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := httpapi.PrincipalFrom(r.Context())
	if !ok {
		httpapi.WriteError(w, http.StatusInternalServerError, "no_principal", "no principal in context")
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"role": string(p.Role), "agent": p.Agent, "token_id": p.TokenID})
})

// fakeLookup is a TokenLookup over a map of secrets that tests change, and
// counts its lookups.
type fakeLookup struct {
	mu      sync.Mutex
	tokens  map[string]httpapi.Principal // by secret
	err     error                        // returned by every lookup when set
	lookups int
}

func newFakeLookup(tokens map[string]httpapi.Principal) *fakeLookup {
	return &fakeLookup{tokens: tokens}
}

func (f *fakeLookup) Lookup(_ context.Context, digest [sha256.Size]byte) (httpapi.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.err != nil {
		return httpapi.Principal{}, f.err
	}
	for secret, p := range f.tokens {
		if sha256.Sum256([]byte(secret)) == digest {
			return p, nil
		}
	}
	return httpapi.Principal{}, fmt.Errorf("token store: %w", httpapi.ErrUnknownToken)
}

func (f *fakeLookup) set(secret string, p *httpapi.Principal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p == nil {
		delete(f.tokens, secret)
		return
	}
	f.tokens[secret] = *p
}

func (f *fakeLookup) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeLookup) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// serveToken sends one request with the bearer secret through auth.Require(h, roles...).
func serveToken(auth *httpapi.Authenticator, secret string, roles ...httpapi.Role) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	rec := httptest.NewRecorder()
	auth.Require(principalEcho, roles...).ServeHTTP(rec, req)
	return rec
}

func TestRequirePutsTheWholePrincipalInTheContext(t *testing.T) {
	t.Parallel()
	lookup := newFakeLookup(map[string]httpapi.Principal{
		"cg_ann": {Role: httpapi.RoleAgent, Agent: "ann", TokenID: "7"},
		"cg_bob": {Role: httpapi.RoleSupervisor, Agent: "bob", TokenID: "8"},
		"cg_crm": {Role: httpapi.RoleDesk, TokenID: "9"},
	})
	auth := httpapi.NewAuthenticator(map[string]httpapi.Role{"desk-secret": httpapi.RoleDesk}, httpapi.WithLookup(lookup))
	for secret, want := range map[string]map[string]string{
		"cg_ann":      {"role": "agent", "agent": "ann", "token_id": "7"},
		"cg_bob":      {"role": "supervisor", "agent": "bob", "token_id": "8"},
		"cg_crm":      {"role": "desk", "agent": "", "token_id": "9"},
		"desk-secret": {"role": "desk", "agent": "", "token_id": httpapi.BootstrapTokenID(httpapi.RoleDesk)},
	} {
		rec := serveToken(auth, secret)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", secret, rec.Code, rec.Body)
		}
		var got map[string]string
		decodeJSON(t, rec.Body.Bytes(), &got)
		if !maps.Equal(got, want) {
			t.Errorf("%s: principal %v, want %v", secret, got, want)
		}
	}
	if n := lookup.count(); n != 3 {
		t.Errorf("%d lookups, want 3 (bootstrap tokens are never looked up)", n)
	}
}

func TestRequireStoredTokens(t *testing.T) {
	t.Parallel()
	lookup := newFakeLookup(map[string]httpapi.Principal{
		"cg_ann": {Role: httpapi.RoleAgent, Agent: "ann", TokenID: "7"},
	})
	auth := httpapi.NewAuthenticator(nil, httpapi.WithLookup(lookup))

	if rec := serveToken(auth, "cg_ann", httpapi.RoleAgent, httpapi.RoleSupervisor); rec.Code != http.StatusOK {
		t.Fatalf("stored agent token on an agent route: %d %s", rec.Code, rec.Body)
	}
	rec := serveToken(auth, "cg_ann", httpapi.RoleOps)
	assertJSONError(t, rec.Result(), http.StatusForbidden, "forbidden")

	rec = serveToken(auth, "cg_nobody", httpapi.RoleAgent)
	assertJSONError(t, rec.Result(), http.StatusUnauthorized, "unauthorized")
	if c := rec.Header().Get("WWW-Authenticate"); !strings.Contains(c, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q", c)
	}

	// An unknown token is not remembered as unknown: once issued, it works
	// at once.
	lookup.set("cg_nobody", &httpapi.Principal{Role: httpapi.RoleAgent, Agent: "cy", TokenID: "10"})
	if rec := serveToken(auth, "cg_nobody", httpapi.RoleAgent); rec.Code != http.StatusOK {
		t.Fatalf("token issued after a failed attempt: %d %s", rec.Code, rec.Body)
	}
}

func TestRequireAnswers503WhenTheLookupFails(t *testing.T) {
	t.Parallel()
	lookup := newFakeLookup(map[string]httpapi.Principal{"cg_ann": {Role: httpapi.RoleAgent, Agent: "ann", TokenID: "7"}})
	auth := httpapi.NewAuthenticator(map[string]httpapi.Role{"ops-secret": httpapi.RoleOps}, httpapi.WithLookup(lookup))
	lookup.fail(errors.New("dial tcp 127.0.0.1:5432: connection refused"))

	rec := serveToken(auth, "cg_ann", httpapi.RoleAgent)
	body := assertJSONError(t, rec.Result(), http.StatusServiceUnavailable, "unavailable")
	if strings.Contains(body.Error.Message, "5432") {
		t.Errorf("503 message leaks the failure: %q", body.Error.Message)
	}
	if c := rec.Header().Get("WWW-Authenticate"); c != "" {
		t.Errorf("WWW-Authenticate = %q on a 503: the token was not refused", c)
	}
	// Bootstrap tokens keep working without the database.
	if rec := serveToken(auth, "ops-secret", httpapi.RoleOps); rec.Code != http.StatusOK {
		t.Fatalf("bootstrap token while the lookup fails: %d %s", rec.Code, rec.Body)
	}
	// A failure is not cached: the next request asks again.
	lookup.fail(nil)
	if rec := serveToken(auth, "cg_ann", httpapi.RoleAgent); rec.Code != http.StatusOK {
		t.Fatalf("after the database came back: %d %s", rec.Code, rec.Body)
	}
}

// A revoked token keeps working for at most the cache TTL on a server that
// saw it just before the revoke, then gets 401.
func TestRequireRevokedTokenIsRefusedWithinTheCacheTTL(t *testing.T) {
	t.Parallel()
	ann := httpapi.Principal{Role: httpapi.RoleAgent, Agent: "ann", TokenID: "7"}
	lookup := newFakeLookup(map[string]httpapi.Principal{"cg_ann": ann})
	clock := &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	auth := httpapi.NewAuthenticator(nil, httpapi.WithLookup(lookup), httpapi.WithClock(clock.Now))

	for range 5 {
		if rec := serveToken(auth, "cg_ann", httpapi.RoleAgent); rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	if n := lookup.count(); n != 1 {
		t.Fatalf("%d lookups for 5 requests within the TTL, want 1", n)
	}

	lookup.set("cg_ann", nil) // revoked
	clock.Advance(httpapi.DefaultTokenCacheTTL - time.Second)
	if rec := serveToken(auth, "cg_ann", httpapi.RoleAgent); rec.Code != http.StatusOK {
		t.Fatalf("within the TTL: status %d, want the cached 200", rec.Code)
	}
	clock.Advance(time.Second)
	rec := serveToken(auth, "cg_ann", httpapi.RoleAgent)
	assertJSONError(t, rec.Result(), http.StatusUnauthorized, "unauthorized")

	// Without a cache, a revoke takes effect on the next request.
	lookup.set("cg_ann", &ann)
	noCache := httpapi.NewAuthenticator(nil, httpapi.WithLookup(lookup), httpapi.WithClock(clock.Now), httpapi.WithTokenCacheTTL(0))
	if rec := serveToken(noCache, "cg_ann", httpapi.RoleAgent); rec.Code != http.StatusOK {
		t.Fatalf("no cache: status %d", rec.Code)
	}
	lookup.set("cg_ann", nil)
	rec = serveToken(noCache, "cg_ann", httpapi.RoleAgent)
	assertJSONError(t, rec.Result(), http.StatusUnauthorized, "unauthorized")
}

func TestRequireStoredTokenConcurrently(t *testing.T) {
	t.Parallel()
	lookup := newFakeLookup(map[string]httpapi.Principal{
		"cg_ann": {Role: httpapi.RoleAgent, Agent: "ann", TokenID: "7"},
		"cg_bob": {Role: httpapi.RoleSupervisor, Agent: "bob", TokenID: "8"},
	})
	clock := &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	auth := httpapi.NewAuthenticator(nil, httpapi.WithLookup(lookup), httpapi.WithClock(clock.Now))
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			secret := []string{"cg_ann", "cg_bob"}[i%2]
			if i%16 == 0 {
				clock.Advance(httpapi.DefaultTokenCacheTTL)
			}
			if rec := serveToken(auth, secret); rec.Code != http.StatusOK {
				t.Errorf("%s: status %d", secret, rec.Code)
			}
		})
	}
	wg.Wait()
	if n := lookup.count(); n > 64 {
		t.Errorf("%d lookups for 64 requests", n)
	}
}

// TestRoleMatrix is the authentication layer's part of the role matrix
// (issue 6 item 7): a token of every role, bootstrap or stored, on routes
// admitting each role set the wiring uses: admitted, or 403; never 401.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	static := map[string]httpapi.Role{}
	stored := map[string]httpapi.Principal{}
	for i, role := range httpapi.Roles() {
		static["env-"+string(role)] = role
		p := httpapi.Principal{Role: role, TokenID: fmt.Sprint(i + 1)}
		if role.ActsAsAgent() {
			p.Agent = "agent-" + string(role)
		}
		stored["cg_"+string(role)] = p
	}
	auth := httpapi.NewAuthenticator(static, httpapi.WithLookup(newFakeLookup(stored)))

	routes := map[string][]httpapi.Role{
		"api channel":            {httpapi.RoleAPIChannel},
		"templates, departments": {httpapi.RoleOps},
		"desk (today)":           {httpapi.RoleDesk},
		"desk with agents":       {httpapi.RoleAgent, httpapi.RoleSupervisor, httpapi.RoleDesk},
		"supervisors only":       {httpapi.RoleSupervisor},
	}
	for name, admitted := range routes {
		for _, role := range httpapi.Roles() {
			want := http.StatusForbidden
			if slices.Contains(admitted, role) {
				want = http.StatusOK
			}
			for _, secret := range []string{"env-" + string(role), "cg_" + string(role)} {
				rec := serveToken(auth, secret, admitted...)
				if rec.Code != want {
					t.Errorf("route %s, %s token %s: status %d, want %d", name, role, secret, rec.Code, want)
				}
				if want == http.StatusForbidden {
					assertJSONError(t, rec.Result(), want, "forbidden")
				}
			}
		}
		rec := serveToken(auth, "cg_unknown", admitted...)
		assertJSONError(t, rec.Result(), http.StatusUnauthorized, "unauthorized")
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	for _, r := range httpapi.Roles() {
		if !r.Valid() {
			t.Errorf("%s not Valid", r)
		}
		if got, want := r.ActsAsAgent(), r == httpapi.RoleAgent || r == httpapi.RoleSupervisor; got != want {
			t.Errorf("%s.ActsAsAgent() = %v", r, got)
		}
	}
	for _, r := range []httpapi.Role{"", "admin", "Agent"} {
		if r.Valid() {
			t.Errorf("%q is Valid", r)
		}
	}
}

// BenchmarkRequireStoredTokenCached is the cost of a stored token found in
// the cache (compare BenchmarkTokenStoreLookup in gateway/postgres).
func BenchmarkRequireStoredTokenCached(b *testing.B) {
	auth := httpapi.NewAuthenticator(nil, httpapi.WithLookup(newFakeLookup(map[string]httpapi.Principal{
		"cg_ann": {Role: httpapi.RoleAgent, Agent: "ann", TokenID: "7"},
	})))
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := auth.Require(ok, httpapi.RoleAgent)
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("Authorization", "Bearer cg_ann")
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
