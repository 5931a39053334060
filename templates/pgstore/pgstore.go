// Package pgstore implements templates.Store on PostgreSQL with pgx (table
// templates, migration 0004).
//
// Every version of a template is a row keyed by (name, language, version);
// the latest is flagged current, and at most one is approved. Writers of one
// (name, language) are serialised by a transaction-scoped advisory lock, so
// concurrent updates get consecutive versions instead of conflicting.
package pgstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/templates"
)

// Store is the template store on a pgx pool. Its methods are safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var _ templates.Store = (*Store)(nil)

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// columns is the select list every read scans with scanRow.
const columns = `t.name, t.language, t.version, t.status, t.category, t.channel, t.header, t.body, t.footer,
       t.buttons, t.twilio_content_sid, t.whatsapp_name, t.whatsapp_namespace, t.created_at, t.updated_at,
       coalesce((SELECT a.version FROM templates a
                 WHERE a.name = t.name AND a.language = t.language AND a.status = 'approved'), 0)`

const (
	// One key per (name, language); a hash collision only serialises two
	// unrelated templates for a moment.
	sqlLock = `SELECT pg_advisory_xact_lock(hashtextextended('chatgate.templates/' || $1 || '/' || $2, 0))`

	sqlInsert = `
INSERT INTO templates AS t (name, language, version, status, category, channel, header, body, footer, buttons,
                       twilio_content_sid, whatsapp_name, whatsapp_namespace, is_current, created_at, updated_at)
VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8, $9, $10, $11, $12, true,
        coalesce($13::timestamptz, now()), coalesce($13::timestamptz, now()))
RETURNING ` + columns

	sqlCurrentVersion = `SELECT version FROM templates WHERE name = $1 AND language = $2 AND is_current`

	sqlRetire = `UPDATE templates SET is_current = false WHERE name = $1 AND language = $2 AND is_current`

	sqlGetCurrent = `SELECT ` + columns + ` FROM templates t WHERE t.name = $1 AND t.language = $2 AND t.is_current`

	sqlGetVersion = `SELECT ` + columns + ` FROM templates t WHERE t.name = $1 AND t.language = $2 AND t.version = $3`

	sqlGetApproved = `SELECT ` + columns + ` FROM templates t WHERE t.name = $1 AND t.language = $2 AND t.status = 'approved'`

	// Empty filters match everything. starts_with, not LIKE: "_" is both a
	// wildcard and a common character of template names.
	sqlList = `
SELECT ` + columns + `
FROM templates t
WHERE t.is_current
  AND ($1 = '' OR t.status = $1)
  AND ($2 = '' OR t.language = $2)
  AND ($3 = '' OR t.channel = $3 OR ($3 <> 'any' AND t.channel = 'any'))
  AND ($4 = '' OR t.category = $4)
  AND ($5 = '' OR t.name = $5)
  AND ($6 = '' OR starts_with(t.name, $6))
  AND ($7 = '' OR (t.name, t.language) > ($7, $8))
ORDER BY t.name, t.language
LIMIT $9`

	// Approving retires the version it replaces first: the unique index on
	// approved rows is checked per statement.
	sqlSupersede = `
UPDATE templates SET status = 'disabled', updated_at = coalesce($3::timestamptz, now())
WHERE name = $1 AND language = $2 AND status = 'approved'`

	sqlSetStatus = `
UPDATE templates t SET status = $4, updated_at = coalesce($5::timestamptz, now())
WHERE t.name = $1 AND t.language = $2 AND t.version = $3`

	sqlDelete = `DELETE FROM templates WHERE name = $1 AND language = $2 AND version = $3`

	sqlRestoreCurrent = `
UPDATE templates SET is_current = true
WHERE name = $1 AND language = $2
  AND version = (SELECT max(version) FROM templates WHERE name = $1 AND language = $2)`

	sqlApproved = `
SELECT ` + columns + `
FROM templates t
WHERE t.status = 'approved'
  AND (t.channel = 'any' OR t.channel = $1)
  AND (cardinality($2::text[]) = 0 OR t.language = ANY($2::text[]))
ORDER BY t.name, t.language`
)

// Create implements templates.Store.
func (s *Store) Create(ctx context.Context, p *templates.CreateParams) (*templates.Row, error) {
	t := &p.Template
	var row *templates.Row
	err := s.inTx(ctx, t.Name, t.Language, func(tx pgx.Tx) error {
		var err error
		row, err = scanRow(tx.QueryRow(ctx, sqlInsert, insertArgs(t, 1, p.At)...))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create template %s (%s): %w", t.Name, t.Language, translate(err))
	}
	return row, nil
}

// Update implements templates.Store.
func (s *Store) Update(ctx context.Context, p *templates.UpdateParams) (*templates.Row, error) {
	t := &p.Template
	var row *templates.Row
	err := s.inTx(ctx, t.Name, t.Language, func(tx pgx.Tx) error {
		var cur int
		if err := tx.QueryRow(ctx, sqlCurrentVersion, t.Name, t.Language).Scan(&cur); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlRetire, t.Name, t.Language); err != nil {
			return err
		}
		var err error
		row, err = scanRow(tx.QueryRow(ctx, sqlInsert, insertArgs(t, cur+1, p.At)...))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update template %s (%s): %w", t.Name, t.Language, translate(err))
	}
	return row, nil
}

// Get implements templates.Store.
func (s *Store) Get(ctx context.Context, p *templates.GetParams) (*templates.Row, error) {
	var (
		row *templates.Row
		err error
	)
	if p.Version == 0 {
		row, err = scanRow(s.pool.QueryRow(ctx, sqlGetCurrent, p.Name, p.Language))
	} else {
		row, err = scanRow(s.pool.QueryRow(ctx, sqlGetVersion, p.Name, p.Language, p.Version))
	}
	if err != nil {
		if p.Version != 0 {
			return nil, fmt.Errorf("get template %s (%s) version %d: %w", p.Name, p.Language, p.Version, translate(err))
		}
		return nil, fmt.Errorf("get template %s (%s): %w", p.Name, p.Language, translate(err))
	}
	return row, nil
}

// List implements templates.Store.
func (s *Store) List(ctx context.Context, p *templates.ListParams) (*templates.ListResult, error) {
	limit := p.Limit
	switch {
	case limit <= 0:
		limit = templates.DefaultPageSize
	case limit > templates.MaxPageSize:
		limit = templates.MaxPageSize
	}
	afterName, afterLang, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	// One row more than the page tells whether there is a next page.
	rows, err := s.pool.Query(ctx, sqlList, string(p.Status), p.Language, string(p.Channel), string(p.Category),
		p.Name, p.NamePrefix, afterName, afterLang, limit+1)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", translate(err))
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*templates.Row, error) { return scanRow(r) })
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", translate(err))
	}
	res := &templates.ListResult{Rows: list}
	if len(list) > limit {
		res.Rows = list[:limit]
		last := res.Rows[limit-1]
		res.NextCursor = encodeCursor(last.Name, last.Language)
	}
	return res, nil
}

// SetStatus implements templates.Store.
func (s *Store) SetStatus(ctx context.Context, p *templates.SetStatusParams) (*templates.Row, error) {
	var row *templates.Row
	err := s.inTx(ctx, p.Name, p.Language, func(tx pgx.Tx) error {
		target, err := scanRow(tx.QueryRow(ctx, sqlGetCurrent, p.Name, p.Language))
		if err != nil {
			return err
		}
		if p.Status == templates.StatusDisabled && target.Status != templates.StatusApproved {
			// Disabling acts on what is sent, even while a newer draft is current.
			live, err := scanRow(tx.QueryRow(ctx, sqlGetApproved, p.Name, p.Language))
			switch {
			case err == nil:
				target = live
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		if err := templates.Transition(target.Status, p.Status); err != nil {
			return fmt.Errorf("version %d: %w", target.Version, err)
		}
		if p.Status == templates.StatusApproved {
			if _, err := tx.Exec(ctx, sqlSupersede, p.Name, p.Language, at(p.At)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, sqlSetStatus, p.Name, p.Language, target.Version, string(p.Status), at(p.At)); err != nil {
			return err
		}
		// Read back rather than RETURNING: the live version's subquery would
		// see the rows as they were before the update.
		row, err = scanRow(tx.QueryRow(ctx, sqlGetVersion, p.Name, p.Language, target.Version))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set template %s (%s) %s: %w", p.Name, p.Language, p.Status, translate(err))
	}
	return row, nil
}

// DeleteDraft implements templates.Store.
func (s *Store) DeleteDraft(ctx context.Context, p *templates.DeleteDraftParams) (*templates.Row, error) {
	var row *templates.Row
	err := s.inTx(ctx, p.Name, p.Language, func(tx pgx.Tx) error {
		var err error
		row, err = scanRow(tx.QueryRow(ctx, sqlGetCurrent, p.Name, p.Language))
		if err != nil {
			return err
		}
		if row.Status != templates.StatusDraft {
			return fmt.Errorf("current version %d is %s: %w", row.Version, row.Status, templates.ErrNotDraft)
		}
		if _, err := tx.Exec(ctx, sqlDelete, p.Name, p.Language, row.Version); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, sqlRestoreCurrent, p.Name, p.Language)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete draft of template %s (%s): %w", p.Name, p.Language, translate(err))
	}
	return row, nil
}

// Approved implements templates.Store.
func (s *Store) Approved(ctx context.Context, channel, lang string, fallback templates.FallbackOrder) ([]*templates.Template, error) {
	channel = strings.ToLower(strings.TrimSpace(channel))
	chain := []string{}
	if strings.TrimSpace(lang) != "" {
		chain = fallback.Chain(lang)
		if len(chain) == 0 {
			return nil, nil
		}
	}
	rows, err := s.pool.Query(ctx, sqlApproved, channel, chain)
	if err != nil {
		return nil, fmt.Errorf("approved templates for %s (%s): %w", channel, lang, translate(err))
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*templates.Row, error) { return scanRow(r) })
	if err != nil {
		return nil, fmt.Errorf("approved templates for %s (%s): %w", channel, lang, translate(err))
	}
	var out []*templates.Template
	if len(chain) == 0 {
		for _, r := range list {
			if fallback.Fits(&r.Template, channel, lang) {
				out = append(out, &r.Template)
			}
		}
		return out, nil
	}
	// Rows come ordered by name: resolve each name among its approved copies.
	for i := 0; i < len(list); {
		j := i
		var copies []*templates.Template
		for ; j < len(list) && list[j].Name == list[i].Name; j++ {
			copies = append(copies, &list[j].Template)
		}
		if t, err := templates.Resolve(copies, list[i].Name, lang, fallback); err == nil && fallback.Fits(t, channel, lang) {
			out = append(out, t)
		}
		i = j
	}
	return out, nil
}

// inTx runs fn in a transaction holding the advisory lock of (name, language).
func (s *Store) inTx(ctx context.Context, name, language string, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlLock, name, language); err != nil {
			return err
		}
		return fn(tx)
	})
}

// insertArgs are the arguments of sqlInsert.
func insertArgs(t *templates.Template, version int, stamp time.Time) []any {
	buttons := t.Buttons
	if buttons == nil {
		buttons = []templates.QuickReply{} // the column holds an array, never null
	}
	return []any{t.Name, t.Language, version, string(t.Category), string(t.Channel), t.Header, t.Body, t.Footer,
		buttons, t.Twilio.ContentSID, t.WhatsApp.Name, t.WhatsApp.Namespace, at(stamp)}
}

// at passes the zero time as NULL, so that the database's clock stamps the row.
func at(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// scanRow reads one row of the columns select list.
func scanRow(r pgx.Row) (*templates.Row, error) {
	var (
		row                         templates.Row
		status, category, channel   string
		contentSID, waName, waSpace string
	)
	err := r.Scan(&row.Name, &row.Language, &row.Version, &status, &category, &channel, &row.Header, &row.Body,
		&row.Footer, &row.Buttons, &contentSID, &waName, &waSpace, &row.CreatedAt, &row.UpdatedAt, &row.LiveVersion)
	if err != nil {
		return nil, err
	}
	row.Status, row.Category, row.Channel = templates.Status(status), templates.Category(category), templates.ChannelScope(channel)
	row.Twilio = templates.TwilioRef{ContentSID: contentSID}
	row.WhatsApp = templates.WhatsAppRef{Name: waName, Namespace: waSpace}
	if len(row.Buttons) == 0 {
		row.Buttons = nil // one spelling of "no buttons", as Validate and SameContent see it
	}
	row.CreatedAt, row.UpdatedAt = row.CreatedAt.UTC(), row.UpdatedAt.UTC()
	return &row, nil
}

// translate turns pgx and PostgreSQL errors into the store contract's
// errors, once, for every method.
func translate(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return templates.ErrNotFound
	case postgres.IsUniqueViolation(err, ""):
		return templates.ErrDuplicate
	case errors.As(err, &pgErr) && pgErr.Code == "23514": // check_violation: a caller skipped Normalize/Validate
		return fmt.Errorf("%w: %s", templates.ErrInvalid, pgErr.Message)
	case errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
		return fmt.Errorf("table templates is missing, run `chatgate migrate`: %w", err)
	case errors.As(err, &pgErr), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isConnError(err):
		return fmt.Errorf("%w: %w", gateway.ErrUnavailable, err)
	}
	return err
}

// isConnError reports whether err is a failure to reach the server.
func isConnError(err error) bool {
	var connErr *pgconn.ConnectError
	return errors.As(err, &connErr)
}

// The cursor is opaque to clients: base64url of the last row's name and
// language. Names and languages never contain a slash.
func encodeCursor(name, language string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(name + "/" + language))
}

func decodeCursor(c string) (name, language string, err error) {
	if c == "" {
		return "", "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", "", templates.ErrInvalidCursor
	}
	name, language, ok := strings.Cut(string(b), "/")
	if !ok || name == "" || language == "" {
		return "", "", templates.ErrInvalidCursor
	}
	return name, language, nil
}
