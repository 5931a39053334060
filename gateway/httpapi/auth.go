package httpapi

import (
	"context"
	"crypto/sha256"
	"net/http"
	"slices"
	"strings"
)

// Role is what a bearer token may do. Each route names the roles it admits.
type Role string

// The roles of SPEC.md and the desk API.
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

// Authenticator checks bearer tokens (RFC 6750) against a fixed set of
// secrets, each bound to one role.
//
// Tokens are kept only as SHA-256 digests and a presented token is hashed
// before the lookup, so how long a lookup takes depends on the digest, which
// an attacker cannot steer towards a secret, and not on how many leading
// bytes of a secret a guess got right.
type Authenticator struct {
	roles map[[sha256.Size]byte]Role
}

// NewAuthenticator returns an Authenticator admitting the given tokens, each
// with its role. Empty tokens are ignored, so an unset CHATGATE_*_TOKEN never
// lets an empty bearer in. The map is copied.
func NewAuthenticator(tokens map[string]Role) *Authenticator {
	a := &Authenticator{roles: make(map[[sha256.Size]byte]Role, len(tokens))}
	for tok, role := range tokens {
		if tok == "" {
			continue
		}
		a.roles[sha256.Sum256([]byte(tok))] = role
	}
	return a
}

// Require wraps h so that only requests with a known bearer token of one of
// the given roles reach it; with no roles, any known token is admitted.
//
// A missing or malformed Authorization header, or an unknown token, is
// answered 401 "unauthorized" with a WWW-Authenticate: Bearer challenge; a
// known token of another role is answered 403 "forbidden". The admitted role
// is put into the request context for RoleFrom.
func (a *Authenticator) Require(h http.Handler, roles ...Role) http.Handler {
	roles = slices.Clone(roles)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chatgate"`)
			WriteError(w, http.StatusUnauthorized, CodeUnauthorized, "missing or malformed bearer token")
			return
		}
		role, known := a.roles[sha256.Sum256([]byte(tok))]
		if !known {
			w.Header().Set("WWW-Authenticate", `Bearer realm="chatgate", error="invalid_token"`)
			WriteError(w, http.StatusUnauthorized, CodeUnauthorized, "unknown bearer token")
			return
		}
		if len(roles) > 0 && !slices.Contains(roles, role) {
			WriteError(w, http.StatusForbidden, CodeForbidden, "this token's role may not use this route")
			return
		}
		h.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), Principal{Role: role})))
	})
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
	// TokenID identifies the token (not its secret), for audit logs.
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
