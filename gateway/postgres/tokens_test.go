package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

// newTokenStore returns a store on a fresh database whose clock reads *now.
func newTokenStore(t testing.TB, now *time.Time) *postgres.TokenStore {
	t.Helper()
	s := postgres.NewTokenStore(pgtest.Pool(t))
	s.Now = func() time.Time { return *now }
	return s
}

func TestTokenStoreCreateReturnsTheSecretOnceAndStoresItsDigest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	pool := pgtest.Pool(t)
	s := postgres.NewTokenStore(pool)
	s.Now = func() time.Time { return now }

	tok, err := s.Create(ctx, &postgres.CreateTokenParams{Role: httpapi.RoleAgent, AgentID: "ann", Label: "Ann's desk"})
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := strings.CutPrefix(tok.Secret, postgres.TokenSecretPrefix)
	if !ok {
		t.Fatalf("secret %q does not start with %q", tok.Secret, postgres.TokenSecretPrefix)
	}
	if b, err := base64.RawURLEncoding.DecodeString(raw); err != nil || len(b) != 32 {
		t.Fatalf("secret %q: want 32 random bytes in base64url (%d bytes, %v)", tok.Secret, len(b), err)
	}
	if tok.ID <= 0 || tok.Role != httpapi.RoleAgent || tok.AgentID != "ann" || tok.Label != "Ann's desk" ||
		!tok.CreatedAt.Equal(now) || tok.Revoked() || !tok.LastUsedAt.IsZero() {
		t.Fatalf("created %+v", tok.Token)
	}
	other, err := s.Create(ctx, &postgres.CreateTokenParams{Role: httpapi.RoleAgent, AgentID: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if other.Secret == tok.Secret || other.ID == tok.ID {
		t.Fatalf("two tokens share a secret or an id: %+v, %+v", tok, other)
	}

	// The table holds the digest, nowhere the secret.
	var digest []byte
	var row string
	if err := pool.QueryRow(ctx, `SELECT digest, t::text FROM api_tokens t WHERE id = $1`, tok.ID).Scan(&digest, &row); err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256([]byte(tok.Secret)); string(digest) != string(want[:]) {
		t.Fatalf("stored digest %x, want SHA-256 of the secret %x", digest, want)
	}
	if strings.Contains(row, raw) {
		t.Fatalf("row %s contains the secret", row)
	}

	// Listing never shows a secret.
	list, err := s.List(ctx, &postgres.ListTokensParams{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || strings.Contains(string(js), raw) || strings.Contains(string(js), "secret") {
		t.Fatalf("list: %s", js)
	}
}

func TestTokenStoreCreateRefusesInvalidParameters(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := newTokenStore(t, &now)
	tests := []struct {
		name string
		p    postgres.CreateTokenParams
	}{
		{"no role", postgres.CreateTokenParams{}},
		{"unknown role", postgres.CreateTokenParams{Role: "admin"}},
		{"agent without agent id", postgres.CreateTokenParams{Role: httpapi.RoleAgent}},
		{"supervisor without agent id", postgres.CreateTokenParams{Role: httpapi.RoleSupervisor}},
		{"desk with an agent id", postgres.CreateTokenParams{Role: httpapi.RoleDesk, AgentID: "ann"}},
		{"ops with an agent id", postgres.CreateTokenParams{Role: httpapi.RoleOps, AgentID: "ann"}},
		{"agent id with blanks around", postgres.CreateTokenParams{Role: httpapi.RoleAgent, AgentID: " ann"}},
		{"agent id too long", postgres.CreateTokenParams{Role: httpapi.RoleAgent, AgentID: strings.Repeat("a", postgres.MaxTokenAgentIDLen+1)}},
		{"label too long", postgres.CreateTokenParams{Role: httpapi.RoleOps, Label: strings.Repeat("l", postgres.MaxTokenLabelLen+1)}},
		{"label with a newline", postgres.CreateTokenParams{Role: httpapi.RoleOps, Label: "a\nb"}},
		// R38: the one agent id rule, and what PostgreSQL cannot store.
		{"agent id as a path", postgres.CreateTokenParams{Role: httpapi.RoleAgent, AgentID: "../../etc/passwd"}},
		{"agent id with a slash", postgres.CreateTokenParams{Role: httpapi.RoleAgent, AgentID: "a/b"}},
		{"agent id with a space", postgres.CreateTokenParams{Role: httpapi.RoleAgent, AgentID: "ann smith"}},
		{"agent id with a NUL", postgres.CreateTokenParams{Role: httpapi.RoleAgent, AgentID: "ann\x00"}},
		{"label not UTF-8", postgres.CreateTokenParams{Role: httpapi.RoleOps, Label: "laptop \xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := s.Create(context.Background(), &tt.p); !errors.Is(err, postgres.ErrInvalidToken) {
				t.Fatalf("Create(%+v) = %v, want ErrInvalidToken", tt.p, err)
			}
		})
	}
}

func TestTokenStoreLookupFindsLiveTokensOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := newTokenStore(t, &now)

	ann, err := s.Create(ctx, &postgres.CreateTokenParams{Role: httpapi.RoleSupervisor, AgentID: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	desk, err := s.Create(ctx, &postgres.CreateTokenParams{Role: httpapi.RoleDesk, Label: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tok  *postgres.CreatedToken
		want httpapi.Principal
	}{
		{ann, httpapi.Principal{Role: httpapi.RoleSupervisor, Agent: "ann", TokenID: itoa(ann.ID)}},
		{desk, httpapi.Principal{Role: httpapi.RoleDesk, TokenID: itoa(desk.ID)}},
	} {
		got, err := s.Lookup(ctx, sha256.Sum256([]byte(c.tok.Secret)))
		if err != nil || got != c.want {
			t.Fatalf("Lookup(%d) = %+v, %v; want %+v", c.tok.ID, got, err, c.want)
		}
	}
	if _, err := s.Lookup(ctx, sha256.Sum256([]byte(ann.Secret+"x"))); !errors.Is(err, httpapi.ErrUnknownToken) {
		t.Fatalf("Lookup(unknown) = %v, want ErrUnknownToken", err)
	}

	revokedAt := now.Add(time.Hour)
	now = revokedAt
	r, err := s.Revoke(ctx, ann.ID)
	if err != nil || !r.RevokedAt.Equal(revokedAt) || r.AlreadyRevoked {
		t.Fatalf("Revoke = %+v, %v", r, err)
	}
	if _, err := s.Lookup(ctx, sha256.Sum256([]byte(ann.Secret))); !errors.Is(err, httpapi.ErrUnknownToken) {
		t.Fatalf("Lookup(revoked) = %v, want ErrUnknownToken", err)
	}
	if _, err := s.Lookup(ctx, sha256.Sum256([]byte(desk.Secret))); err != nil {
		t.Fatalf("revoking one token revoked another: %v", err)
	}

	// Revoking again keeps the first time; an unknown id is not found.
	now = now.Add(time.Hour)
	if r, err := s.Revoke(ctx, ann.ID); err != nil || !r.RevokedAt.Equal(revokedAt) || !r.AlreadyRevoked {
		t.Fatalf("second Revoke = %+v, %v; want revoked_at kept at %v", r, err, revokedAt)
	}
	if _, err := s.Revoke(ctx, desk.ID+100); !errors.Is(err, postgres.ErrTokenNotFound) {
		t.Fatalf("Revoke(unknown) = %v, want ErrTokenNotFound", err)
	}

	live, err := s.List(ctx, &postgres.ListTokensParams{})
	if err != nil || len(live) != 1 || live[0].ID != desk.ID {
		t.Fatalf("List = %+v, %v; want the desk token only", live, err)
	}
	all, err := s.List(ctx, &postgres.ListTokensParams{IncludeRevoked: true})
	if err != nil || len(all) != 2 || all[0].ID != ann.ID || !all[0].Revoked() || all[1].Revoked() {
		t.Fatalf("List(IncludeRevoked) = %+v, %v", all, err)
	}
}

func TestTokenStoreLookupRecordsUseAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	now := t0
	pool := pgtest.Pool(t)
	s := postgres.NewTokenStore(pool)
	s.Now = func() time.Time { return now }
	tok, err := s.Create(ctx, &postgres.CreateTokenParams{Role: httpapi.RoleOps})
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() time.Time {
		t.Helper()
		all, err := s.List(ctx, &postgres.ListTokensParams{})
		if err != nil || len(all) != 1 {
			t.Fatalf("List = %+v, %v", all, err)
		}
		return all[0].LastUsedAt
	}
	if got := lastUsed(); !got.IsZero() {
		t.Fatalf("last used %v before any use", got)
	}
	digest := sha256.Sum256([]byte(tok.Secret))
	for _, step := range []struct {
		at   time.Duration // since t0
		want time.Duration // last_used_at since t0
	}{
		{0, 0},
		{30 * time.Second, 0},                // within the minute: no write
		{59 * time.Second, 0},                // still within
		{61 * time.Second, 61 * time.Second}, // a minute on: written
		{90 * time.Second, 61 * time.Second},
		{5 * time.Minute, 5 * time.Minute},
	} {
		now = t0.Add(step.at)
		if _, err := s.Lookup(ctx, digest); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); !got.Equal(t0.Add(step.want)) {
			t.Fatalf("after a lookup at +%v: last used %v, want +%v", step.at, got.Sub(t0), step.want)
		}
	}
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// BenchmarkTokenStoreLookup measures one uncached lookup of a stored token
// (with the last-used write skipped, as it is for all but one lookup a
// minute), among 10,000 tokens: the cost the Authenticator's cache saves.
func BenchmarkTokenStoreLookup(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.Pool(b)
	s := postgres.NewTokenStore(pool)
	if _, err := pool.Exec(ctx, `INSERT INTO api_tokens (role, digest, created_at)
SELECT 'desk', sha256(i::text::bytea), now() FROM generate_series(1, 10000) i`); err != nil {
		b.Fatal(err)
	}
	tok, err := s.Create(ctx, &postgres.CreateTokenParams{Role: httpapi.RoleDesk})
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte(tok.Secret))
	if _, err := s.Lookup(ctx, digest); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Lookup(ctx, digest); err != nil {
			b.Fatal(err)
		}
	}
}
