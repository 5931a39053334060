package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Role is what a bearer token may do. Each route names the roles it admits.
type Role string

// The roles of the HTTP API (docs/tokens.md).
const (
	// RoleAgent is one agent's own desk client: it acts as that agent.
	RoleAgent Role = "agent"
	// RoleSupervisor is an agent who also sees and manages every agent's work.
	RoleSupervisor Role = "supervisor"
	// RoleAPIChannel is a system posting inbound messages on the generic API
	// channel (POST /v1/channels/api/messages).
	RoleAPIChannel Role = "api-channel"
	// RoleDesk is an agent desk integration (the /v1/tickets… API).
	RoleDesk Role = "desk"
	// RoleOps manages templates, departments and business hours.
	RoleOps Role = "ops"
)

// Roles returns every role, in a stable order.
func Roles() []Role {
	return []Role{RoleAgent, RoleSupervisor, RoleDesk, RoleOps, RoleAPIChannel}
}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// ActsAsAgent reports whether a token of role r belongs to one agent and
// acts as that agent (agent, supervisor), so the token names the agent; the
// service roles (desk, ops, api-channel) name no agent.
func (r Role) ActsAsAgent() bool { return r == RoleAgent || r == RoleSupervisor }

// ErrUnknownToken is what a TokenLookup returns for a digest that belongs to
// no live token: never issued, or revoked. Require answers it with 401.
var ErrUnknownToken = errors.New("unknown or revoked token")

// TokenLookup finds stored tokens (gateway/postgres.TokenStore).
type TokenLookup interface {
	// Lookup returns the principal of the live token whose secret has the
	// given SHA-256 digest; ErrUnknownToken (possibly wrapped) if there is
	// none; any other error if it could not tell (database down), which
	// Require answers with 503, not 401.
	Lookup(ctx context.Context, digest [sha256.Size]byte) (Principal, error)
}

// TokenLookupFunc adapts a function to TokenLookup.
type TokenLookupFunc func(ctx context.Context, digest [sha256.Size]byte) (Principal, error)

// Lookup implements TokenLookup.
func (f TokenLookupFunc) Lookup(ctx context.Context, digest [sha256.Size]byte) (Principal, error) {
	return f(ctx, digest)
}

// Defaults of the stored-token cache.
const (
	// DefaultTokenCacheTTL is how long a stored token found by the lookup is
	// admitted without asking again: the longest a revoked token keeps
	// working on a server that saw it just before the revoke.
	DefaultTokenCacheTTL = 30 * time.Second
	// MaxCachedTokens bounds the cache; when it is full, expired entries are
	// dropped, then arbitrary ones (each costs one more lookup, nothing else).
	MaxCachedTokens = 10_000
	// tokenLookupTimeout bounds one lookup. It runs detached from the
	// request that started it, because requests presenting the same token
	// at the same time share it.
	tokenLookupTimeout = 5 * time.Second
)

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithLookup makes the Authenticator also admit stored tokens: a token that
// is not one of the static ones is looked up by its digest.
func WithLookup(l TokenLookup) Option { return func(a *Authenticator) { a.lookup = l } }

// WithTokenCacheTTL sets how long a stored token, once found, is admitted
// without a new lookup (default DefaultTokenCacheTTL). It bounds how long a
// revoked token keeps working; zero or less turns the cache off, so every
// request with a stored token costs a lookup. Only found tokens are cached:
// an unknown token is looked up every time, so a token created a moment ago
// works at once.
func WithTokenCacheTTL(d time.Duration) Option { return func(a *Authenticator) { a.ttl = d } }

// WithClock sets the clock of the cache (default time.Now).
func WithClock(now func() time.Time) Option { return func(a *Authenticator) { a.now = now } }

// WithLogger sets where failed lookups are logged (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(a *Authenticator) { a.log = l } }

// Authenticator checks bearer tokens (RFC 6750): the static bootstrap
// tokens of the environment, each bound to one role, and, WithLookup, the
// tokens stored in the database.
//
// Tokens are kept only as SHA-256 digests and a presented token is hashed
// before the lookup, so how long a lookup takes depends on the digest, which
// an attacker cannot steer towards a secret, and not on how many leading
// bytes of a secret a guess got right. The same holds for stored tokens,
// which are looked up (and cached) by digest.
type Authenticator struct {
	static map[[sha256.Size]byte]Role
	lookup TokenLookup
	ttl    time.Duration
	now    func() time.Time
	log    *slog.Logger

	flight singleflight.Group
	mu     sync.Mutex
	cache  map[[sha256.Size]byte]cachedToken
}

type cachedToken struct {
	p       Principal
	expires time.Time
}

// BootstrapTokenID is the Principal.TokenID of the static token of role.
func BootstrapTokenID(role Role) string { return "bootstrap:" + string(role) }

// NewAuthenticator returns an Authenticator admitting the given static
// tokens, each with its role, and whatever the options add. Empty tokens are
// ignored, so an unset CHATGATE_*_TOKEN never lets an empty bearer in. The
// map is copied.
func NewAuthenticator(tokens map[string]Role, opts ...Option) *Authenticator {
	a := &Authenticator{
		static: make(map[[sha256.Size]byte]Role, len(tokens)),
		ttl:    DefaultTokenCacheTTL,
		now:    time.Now,
		log:    slog.New(slog.DiscardHandler),
		cache:  map[[sha256.Size]byte]cachedToken{},
	}
	for tok, role := range tokens {
		if tok == "" {
			continue
		}
		a.static[sha256.Sum256([]byte(tok))] = role
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Require wraps h so that only requests with a known bearer token of one of
// the given roles reach it; with no roles, any known token is admitted.
//
// A missing or malformed Authorization header, or an unknown or revoked
// token, is answered 401 "unauthorized" with a WWW-Authenticate: Bearer
// challenge; a known token of another role is answered 403 "forbidden"; a
// stored token that could not be looked up (database down) 503
// "unavailable". The admitted Principal (role, agent, token id) is put into
// the request context for PrincipalFrom.
func (a *Authenticator) Require(h http.Handler, roles ...Role) http.Handler {
	roles = slices.Clone(roles)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chatgate"`)
			WriteError(w, http.StatusUnauthorized, CodeUnauthorized, "missing or malformed bearer token")
			return
		}
		p, err := a.authenticate(r.Context(), sha256.Sum256([]byte(tok)))
		switch {
		case errors.Is(err, ErrUnknownToken):
			w.Header().Set("WWW-Authenticate", `Bearer realm="chatgate", error="invalid_token"`)
			WriteError(w, http.StatusUnauthorized, CodeUnauthorized, "unknown or revoked bearer token")
			return
		case err != nil:
			a.log.ErrorContext(r.Context(), "bearer token lookup failed", "err", err)
			w.Header().Set("Retry-After", "1")
			WriteError(w, http.StatusServiceUnavailable, CodeUnavailable, "bearer token could not be checked; retry")
			return
		}
		if len(roles) > 0 && !slices.Contains(roles, p.Role) {
			WriteError(w, http.StatusForbidden, CodeForbidden, "this token's role may not use this route")
			return
		}
		h.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// authenticate returns the principal of the token with digest d: a static
// token, else a cached stored one, else what the lookup says.
func (a *Authenticator) authenticate(ctx context.Context, d [sha256.Size]byte) (Principal, error) {
	if role, ok := a.static[d]; ok {
		return Principal{Role: role, TokenID: BootstrapTokenID(role)}, nil
	}
	if a.lookup == nil {
		return Principal{}, ErrUnknownToken
	}
	if p, ok := a.cached(d); ok {
		return p, nil
	}
	// Requests presenting one token at once share one lookup.
	v, err, _ := a.flight.Do(string(d[:]), func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenLookupTimeout)
		defer cancel()
		p, err := a.lookup.Lookup(lctx, d)
		if err != nil {
			return Principal{}, err
		}
		a.remember(d, p)
		return p, nil
	})
	if err != nil {
		return Principal{}, fmt.Errorf("look up bearer token: %w", err)
	}
	return v.(Principal), nil
}

// cached returns the unexpired cache entry of d.
func (a *Authenticator) cached(d [sha256.Size]byte) (Principal, bool) {
	if a.ttl <= 0 {
		return Principal{}, false
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.cache[d]
	if !ok {
		return Principal{}, false
	}
	if !now.Before(e.expires) {
		delete(a.cache, d)
		return Principal{}, false
	}
	return e.p, true
}

// remember caches p for d for the TTL, making room if the cache is full.
func (a *Authenticator) remember(d [sha256.Size]byte, p Principal) {
	if a.ttl <= 0 {
		return
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= MaxCachedTokens {
		for k, e := range a.cache {
			if !now.Before(e.expires) {
				delete(a.cache, k)
			}
		}
		for k := range a.cache {
			if len(a.cache) < MaxCachedTokens {
				break
			}
			delete(a.cache, k)
		}
	}
	a.cache[d] = cachedToken{p: p, expires: now.Add(a.ttl)}
}

// bearerToken extracts the token of "Bearer <token>". The scheme is
// case-insensitive (RFC 7235); the token is one run of non-blank characters.
func bearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.Trim(tok, " ")
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// Principal is who a request acts as: the role of its token and, for agent
// and supervisor tokens, the agent the token belongs to.
type Principal struct {
	Role Role
	// Agent is the agent id of an agent or supervisor token; empty for
	// service roles (desk, ops, api-channel), which name the agent they act
	// for in the request.
	Agent string
	// TokenID identifies the token (not its secret), for audit logs: the
	// id of a stored token (`chatgate tokens list`), or BootstrapTokenID
	// of the role for a token of the environment.
	TokenID string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p. Require calls it; tests of handlers
// call it directly.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns who Require admitted the request as, and false if
// the request did not pass through Require.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithRole returns ctx carrying a principal of role (no agent).
func WithRole(ctx context.Context, role Role) context.Context {
	return WithPrincipal(ctx, Principal{Role: role})
}

// RoleFrom returns the role Require admitted the request with, and false if
// the request did not pass through Require.
func RoleFrom(ctx context.Context) (Role, bool) {
	p, ok := PrincipalFrom(ctx)
	return p.Role, ok
}
