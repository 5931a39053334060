package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
