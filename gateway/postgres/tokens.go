package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
)

// Errors of the token store that callers branch on.
var (
	// ErrTokenNotFound: no token has that id.
	ErrTokenNotFound = errors.New("token not found")
	// ErrInvalidToken: create parameters break a rule (role, agent id, label).
	ErrInvalidToken = errors.New("invalid token")
)

// TokenSecretPrefix starts every secret TokenStore issues, so a leaked one
// is easy to recognise (secret scanners, logs).
const TokenSecretPrefix = "cg_"

// Limits of the free-text fields of a token, in characters.
const (
	// MaxTokenAgentIDLen bounds CreateTokenParams.AgentID: gateway's
	// agent id rule (gateway.CheckAgentID) applies.
	MaxTokenAgentIDLen = gateway.MaxAgentIDLen
	// MaxTokenLabelLen bounds CreateTokenParams.Label.
	MaxTokenLabelLen = 200
)

// lastUsedEvery is how stale last_used_at may get: Lookup writes it only if
// it is older, so a busy token costs one write a minute, not one a request.
const lastUsedEvery = time.Minute

// TokenStore keeps the bearer tokens issued with `chatgate tokens create`
// (table api_tokens). It stores only the SHA-256 digest of each secret and
// implements httpapi.TokenLookup.
type TokenStore struct {
	pool *pgxpool.Pool
	// Now is the clock of created_at, revoked_at and last_used_at
	// (time.Now unless set).
	Now func() time.Time
}

var _ httpapi.TokenLookup = (*TokenStore)(nil)

// NewTokenStore returns a token store on pool.
func NewTokenStore(pool *pgxpool.Pool) *TokenStore { return &TokenStore{pool: pool, Now: time.Now} }

// Token is a stored token as `chatgate tokens list` shows it: never its
// secret, which is not stored.
type Token struct {
	// ID identifies the token in `chatgate tokens revoke` and in logs
	// (httpapi.Principal.TokenID).
	ID int64 `json:"id"`
	// Role is what the token may do.
	Role httpapi.Role `json:"role"`
	// AgentID is the agent an agent or supervisor token acts as; empty for
	// the other roles.
	AgentID string `json:"agent_id,omitempty"`
	// Label says whose token it is or what it is for.
	Label string `json:"label,omitempty"`
	// CreatedAt is when it was issued.
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is when it was revoked; zero while it is live.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// LastUsedAt is when a request last presented it, to within a minute
	// plus the servers' token cache time; zero if never.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// Revoked reports whether the token was revoked.
func (t *Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// CreateTokenParams are the parameters of TokenStore.Create.
type CreateTokenParams struct {
	// Role is one of httpapi.Roles. Required.
	Role httpapi.Role
	// AgentID is required for agent and supervisor tokens and must be empty
	// for the others.
	AgentID string
	// Label is optional free text.
	Label string
}

// CreatedToken is a new token with its secret: the only time the secret is
// known, since only its digest is stored.
type CreatedToken struct {
	Token
	// Secret is the bearer token to hand to its user.
	Secret string `json:"secret"`
}

// ListTokensParams are the parameters of TokenStore.List.
type ListTokensParams struct {
	// IncludeRevoked lists revoked tokens too.
	IncludeRevoked bool
}

const (
	tokenColumns   = `id, role, agent_id, label, created_at, revoked_at, last_used_at`
	sqlCreateToken = `INSERT INTO api_tokens (role, agent_id, label, digest, created_at) VALUES ($1, $2, $3, $4, $5)
RETURNING ` + tokenColumns
	sqlListTokens  = `SELECT ` + tokenColumns + ` FROM api_tokens WHERE $1 OR revoked_at IS NULL ORDER BY id`
	sqlRevokeToken = `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING ` + tokenColumns
	sqlGetToken    = `SELECT ` + tokenColumns + ` FROM api_tokens WHERE id = $1`
	// The UPDATE in the WITH runs whether or not the SELECT reads it, and
	// writes only when last_used_at is older than $3.
	sqlLookupToken = `WITH t AS (
    SELECT id, role, agent_id, last_used_at FROM api_tokens WHERE digest = $1 AND revoked_at IS NULL
), touch AS (
    UPDATE api_tokens a SET last_used_at = $2 FROM t
    WHERE a.id = t.id AND (t.last_used_at IS NULL OR t.last_used_at < $3)
)
SELECT id, role, agent_id FROM t`
)

// Create issues a token: it draws a secret ("cg_" and 32 random bytes in
// base64url), stores the digest, and returns the secret once.
func (s *TokenStore) Create(ctx context.Context, p *CreateTokenParams) (*CreatedToken, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("create token: draw secret: %w", err)
	}
	secret := TokenSecretPrefix + base64.RawURLEncoding.EncodeToString(raw)
	digest := sha256.Sum256([]byte(secret))
	row, err := s.pool.Query(ctx, sqlCreateToken, string(p.Role), p.AgentID, p.Label, digest[:], s.Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("create %s token: %w", p.Role, err)
	}
	t, err := pgx.CollectExactlyOneRow(row, scanToken)
	if err != nil {
		return nil, fmt.Errorf("create %s token: %w", p.Role, err)
	}
	return &CreatedToken{Token: *t, Secret: secret}, nil
}

func (p *CreateTokenParams) validate() error {
	switch {
	case !p.Role.Valid():
		return fmt.Errorf("%w: role %q (want one of %s)", ErrInvalidToken, p.Role, joinRoles())
	case p.Role.ActsAsAgent() && p.AgentID == "":
		return fmt.Errorf("%w: a %s token needs the agent it acts as", ErrInvalidToken, p.Role)
	case !p.Role.ActsAsAgent() && p.AgentID != "":
		return fmt.Errorf("%w: a %s token acts for no single agent; leave the agent out", ErrInvalidToken, p.Role)
	case p.AgentID != "" && gateway.CheckAgentID(p.AgentID) != "":
		// The one agent id rule (R38): a token for an agent the desk API
		// refuses to act for would be useless.
		return fmt.Errorf("%w: agent %q %s", ErrInvalidToken, p.AgentID, gateway.CheckAgentID(p.AgentID))
	case gateway.CheckLine(p.Label, MaxTokenLabelLen) != "":
		return fmt.Errorf("%w: label %s", ErrInvalidToken, gateway.CheckLine(p.Label, MaxTokenLabelLen))
	}
	return nil
}

func joinRoles() string {
	var b strings.Builder
	for i, r := range httpapi.Roles() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(r))
	}
	return b.String()
}

// List returns the live tokens (and revoked ones if asked), oldest first.
func (s *TokenStore) List(ctx context.Context, p *ListTokensParams) ([]Token, error) {
	rows, err := s.pool.Query(ctx, sqlListTokens, p.IncludeRevoked)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Token, error) {
		t, err := scanToken(r)
		if err != nil {
			return Token{}, err
		}
		return *t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// RevokedToken is the answer of TokenStore.Revoke.
type RevokedToken struct {
	Token
	// AlreadyRevoked: the token had been revoked before; nothing changed and
	// RevokedAt is the first revoke's time.
	AlreadyRevoked bool `json:"already_revoked"`
}

// Revoke revokes the token with id: from then on Lookup no longer finds it
// (servers that cached it admit it until their cache entry expires,
// httpapi.DefaultTokenCacheTTL). Revoking a revoked token changes nothing;
// an unknown id is ErrTokenNotFound.
func (s *TokenStore) Revoke(ctx context.Context, id int64) (*RevokedToken, error) {
	rows, err := s.pool.Query(ctx, sqlRevokeToken, id, s.Now().UTC())
	if err != nil {
		return nil, fmt.Errorf("revoke token %d: %w", id, err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanToken)
	if err == nil {
		return &RevokedToken{Token: *t}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("revoke token %d: %w", id, err)
	}
	// Revoked before, or no such token.
	rows, err = s.pool.Query(ctx, sqlGetToken, id)
	if err != nil {
		return nil, fmt.Errorf("revoke token %d: %w", id, err)
	}
	t, err = pgx.CollectExactlyOneRow(rows, scanToken)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("revoke token %d: %w", id, ErrTokenNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("revoke token %d: %w", id, err)
	}
	return &RevokedToken{Token: *t, AlreadyRevoked: true}, nil
}

// Lookup implements httpapi.TokenLookup: the principal of the live token
// whose secret has digest, or httpapi.ErrUnknownToken. It records the use
// (last_used_at) if the last record is more than a minute old.
func (s *TokenStore) Lookup(ctx context.Context, digest [sha256.Size]byte) (httpapi.Principal, error) {
	now := s.Now().UTC()
	var id int64
	var role, agent string
	err := s.pool.QueryRow(ctx, sqlLookupToken, digest[:], now, now.Add(-lastUsedEvery)).Scan(&id, &role, &agent)
	if errors.Is(err, pgx.ErrNoRows) {
		return httpapi.Principal{}, httpapi.ErrUnknownToken
	}
	if err != nil {
		return httpapi.Principal{}, fmt.Errorf("look up token: %w", err)
	}
	return httpapi.Principal{Role: httpapi.Role(role), Agent: agent, TokenID: strconv.FormatInt(id, 10)}, nil
}

// ParseTokenID parses a token id as `chatgate tokens list` shows it.
func ParseTokenID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: %q is not a token id (a number from `chatgate tokens list`)", ErrTokenNotFound, s)
	}
	return id, nil
}

func scanToken(r pgx.CollectableRow) (*Token, error) {
	var t Token
	var role string
	var revoked, used pgtype.Timestamptz
	if err := r.Scan(&t.ID, &role, &t.AgentID, &t.Label, &t.CreatedAt, &revoked, &used); err != nil {
		return nil, err
	}
	t.Role, t.CreatedAt = httpapi.Role(role), t.CreatedAt.UTC()
	if revoked.Valid {
		t.RevokedAt = revoked.Time.UTC()
	}
	if used.Valid {
		t.LastUsedAt = used.Time.UTC()
	}
	return &t, nil
}
