package pgstore_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

// benchOpen is how many open tickets the desk benchmarks run on.
const benchOpen = 100_000

// seedQueue writes n unassigned WhatsApp tickets, one message each, queued a
// second apart, a quarter in department sales (agent cid), the rest in
// support (ann, bob), with multi-row INSERT … SELECT statements, then
// analyzes the tables.
func seedQueue(tb testing.TB, pool *pgxpool.Pool, svc *ticketing.Service, n int) {
	tb.Helper()
	ctx := context.Background()
	support := supportDepartment()
	support.Agents = []string{"ann", "bob"}
	sales := ticketing.Department{ID: "sales", TimeZone: "UTC", Agents: []string{"cid"}, Routing: ticketing.Routing{Numbers: []string{"+27600000001"}}}
	if _, err := svc.ApplyDepartments(ctx, []ticketing.Department{support, sales}, false); err != nil {
		tb.Fatal(err)
	}
	for _, sql := range []string{
		`INSERT INTO contacts (channel, address, name, created_at, updated_at, last_inbound_at)
		 SELECT 'whatsapp', '+2782' || lpad(g::text, 7, '0'), 'Contact ' || g, $1::timestamptz, $1::timestamptz, $1::timestamptz + g * interval '1 second'
		 FROM generate_series(1, $2::int) g`,
		`INSERT INTO conversations (id, contact_id, kind, state, created_at, updated_at, last_message_at, last_inbound_at,
		                            message_count, department_id, business_address, queued_at)
		 SELECT nextval('conversations_id_seq'), c.id, 'ticket', 'unassigned', c.last_inbound_at, c.last_inbound_at,
		        c.last_inbound_at, c.last_inbound_at, 1, CASE WHEN c.id % 4 = 0 THEN 'sales' ELSE 'support' END,
		        '+27600000000', c.last_inbound_at
		 FROM contacts c WHERE $1::timestamptz IS NOT NULL AND $2::int > 0`,
		`INSERT INTO messages (id, conversation_id, contact_id, channel, direction, provider_id, body, seq, sent_at, stored_at)
		 SELECT nextval('messages_id_seq'), v.id, v.contact_id, 'whatsapp', 'inbound', 'wamid.' || v.id,
		        (ARRAY['where is my parcel', 'refund for order', 'change my address', 'invoice missing'])[1 + v.id % 4]
		        || ' number ' || v.id, 1, v.created_at, v.created_at
		 FROM conversations v WHERE $1::timestamptz IS NOT NULL AND $2::int > 0`,
		`ANALYZE contacts, conversations, messages`,
	} {
		args := []any{t0, n}
		if strings.HasPrefix(sql, "ANALYZE") {
			args = nil
		}
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			tb.Fatalf("seed: %v", err)
		}
	}
}

// explain logs the plan of sql with args, executed (EXPLAIN ANALYZE).
func explain(tb testing.TB, pool *pgxpool.Pool, name, sql string, args ...any) {
	tb.Helper()
	rows, err := pool.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+sql, args...)
	if err != nil {
		tb.Fatalf("explain %s: %v", name, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			tb.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	tb.Logf("plan of %s:\n%s", name, b.String())
}

// BenchmarkDesk measures quick accept and the unassigned list on 100,000
// open tickets. Set CHATGATE_BENCH_EXPLAIN=1 to log the plans.
func BenchmarkDesk(b *testing.B) {
	pool := pgtest.Pool(b)
	c := newClock(t0)
	svc := rulesService(b, pool, c)
	seedQueue(b, pool, svc, benchOpen)
	ctx := context.Background()
	supervisor, err := svc.ScopeFor(ctx, ticketing.ActorSupervisor, "sue")
	if err != nil {
		b.Fatal(err)
	}
	cid, err := svc.ScopeFor(ctx, ticketing.ActorAgent, "cid")
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("CHATGATE_BENCH_EXPLAIN") != "" {
		sql, args := pgstore.ListSQL(ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: supervisor, Limit: 50})
		explain(b, pool, "unassigned, supervisor, first page", sql, args...)
		sql, args = pgstore.ListSQL(ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: cid, Limit: 50})
		explain(b, pool, "unassigned, agent of one department in four, first page", sql, args...)
		page, err := svc.List(ctx, ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: supervisor, Limit: 200})
		if err != nil {
			b.Fatal(err)
		}
		sql, args = pgstore.ListSQL(ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: supervisor, Limit: 50, After: page.Next})
		explain(b, pool, "unassigned, supervisor, next page", sql, args...)
		explain(b, pool, "quick accept claim of 5 (agent cid)", "SELECT * FROM ("+strings.TrimSuffix(strings.TrimSpace(pgstore.ClaimQueueSQL), "FOR UPDATE OF v, c SKIP LOCKED")+") x",
			false, cid.Mine, cid.Known, 5, []int64{})
		sql, args = pgstore.SearchTextSQL("refund", supervisor)
		explain(b, pool, "search a word (25,000 matches), supervisor", sql, args...)
	}

	b.Run("unassigned/supervisor/first-page-50", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.List(ctx, ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: supervisor, Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unassigned/agent-one-department/first-page-50", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.List(ctx, ticketing.ListParams{View: ticketing.ViewUnassigned, Scope: cid, Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("search/contact-number", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.Search(ctx, ticketing.SearchParams{Query: "+27820050000", Scope: supervisor, Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("search/word-first-page-50", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.Search(ctx, ticketing.SearchParams{Query: "invoice", Scope: supervisor, Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
	var n atomic.Int64
	b.Run("quick-accept-5/sequential", func(b *testing.B) {
		for b.Loop() {
			i := n.Add(1)
			out, err := svc.Execute(ctx, ticketing.Command{Type: ticketing.TypeCommandQuickAccept, RequestID: fmt.Sprintf("bq-%d", i),
				AgentID: "ann", Role: ticketing.ActorAgent, DeskArgs: &ticketing.DeskArgs{Count: 5}})
			if err != nil || !out.Accepted {
				b.Fatalf("%v %+v", err, out.Rejection)
			}
		}
	})
	b.Run("quick-accept-5/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				out, err := svc.Execute(ctx, ticketing.Command{Type: ticketing.TypeCommandQuickAccept, RequestID: fmt.Sprintf("bq-%d", i),
					AgentID: fmt.Sprintf("agent-%d", i%20), Role: ticketing.ActorSupervisor, DeskArgs: &ticketing.DeskArgs{Count: 5}})
				if err != nil || !out.Accepted {
					b.Fatalf("%v %+v", err, out.Rejection)
				}
			}
		})
	})
}
