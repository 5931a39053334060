package postgres_test

import (
	"context"
	"testing"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/hostile"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

// TestR38_WhatTheChecksAcceptPostgreSQLStores is the property R38 rests
// on: every value gateway's text rules accept (and every normal form they
// produce) is one PostgreSQL stores as text and as jsonb, unchanged; and
// every value they refuse for being undecodable is one PostgreSQL refuses
// too, which is why it must be refused before the acknowledgement.
func TestR38_WhatTheChecksAcceptPostgreSQLStores(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	roundTrip := func(v string) (text, fromJSON string, err error) {
		err = pool.QueryRow(ctx, `SELECT $1::text, (jsonb_build_object('v', $1::text))->>'v'`, v).Scan(&text, &fromJSON)
		return text, fromJSON, err
	}
	for _, h := range hostile.Strings() {
		normal, _ := gateway.NormalizeText(h.Value)
		line, _ := gateway.NormalizeLine(h.Value, gateway.MaxContactNameLen)
		for what, v := range map[string]string{"value": h.Value, "NormalizeText": normal, "NormalizeLine": line} {
			if what == "value" && gateway.CheckText(v, hostile.MB) != "" {
				continue
			}
			text, fromJSON, err := roundTrip(v)
			if err != nil || text != v || fromJSON != v {
				t.Errorf("%s of %s: accepted by the checks but PostgreSQL gave %q, %q, %v", what, h.Name, clip(text), clip(fromJSON), err)
			}
		}
	}
	for _, refused := range []string{"a\x00b", "a\xffb", "\xed\xa0\x80"} {
		if gateway.CheckText(refused, 10) == "" {
			t.Errorf("%q: the checks accept it", refused)
		}
		if _, _, err := roundTrip(refused); err == nil || !gateway.IsInvalidData(err) {
			t.Errorf("%q: PostgreSQL answered %v, want a data exception (SQLSTATE class 22)", refused, err)
		}
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
