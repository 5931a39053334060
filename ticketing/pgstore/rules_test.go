package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
	"github.com/chatgate/chatgate/ticketing/pgstore"
)

// 2026-11-22 is a Sunday: the support department below is closed all day;
// Monday 2026-11-23 10:00 UTC it is open.
var (
	sunday = time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC)
	monday = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
)

const businessNumber = "+27600000000"

func supportDepartment() ticketing.Department {
	return ticketing.Department{
		ID: "support", Name: "Support", TimeZone: "UTC",
		Schedule: map[string][]string{"monday": {"08:00-17:00"}, "tuesday": {"08:00-17:00"}},
		Agents:   []string{"ann"},
		Routing:  ticketing.Routing{Default: true, Numbers: []string{businessNumber}},
		Texts:    map[string]ticketing.Texts{"en": {OutOfHours: "We are closed."}},
	}
}

// clock is a settable clock shared by a test's services.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }

func rulesService(t testing.TB, pool *pgxpool.Pool, c *clock) *ticketing.Service {
	t.Helper()
	st := pgstore.New(pool)
	return &ticketing.Service{Store: st, Directory: st, Now: c.now}
}

func withDepartment(t testing.TB, svc *ticketing.Service) {
	t.Helper()
	if _, err := svc.ApplyDepartments(context.Background(), []ticketing.Department{supportDepartment()}, false); err != nil {
		t.Fatal(err)
	}
}

func textRecord(t testing.TB, from, id, text string, at time.Time) gateway.Message {
	t.Helper()
	in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: id, From: from, To: businessNumber, Text: text, ReceivedAt: at}
	m, err := in.Record("test", "chatgate.inbound")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func handle(t testing.TB, svc *ticketing.Service, msgs ...gateway.Message) {
	t.Helper()
	if err := svc.HandleBatch(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

// outboundTexts returns the texts of the outbound records in the outbox, in order.
func outboundTexts(t testing.TB, pool *pgxpool.Pool) []gateway.Outbound {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT value FROM outbox WHERE topic = 'outbound' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []gateway.Outbound
	for rows.Next() {
		var v []byte
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		ev, o, err := gateway.DecodeRecord[gateway.Outbound](v)
		if err != nil || ev.Type != gateway.TypeOutboundMessage || o.Validate() != nil {
			t.Fatalf("outbound record: %v %v", err, o.Validate())
		}
		out = append(out, o)
	}
	return out
}

// ticketEvents returns type:reason of the ticket events in the outbox, and the last snapshot.
func ticketEvents(t testing.TB, pool *pgxpool.Pool) ([]string, gateway.TicketEvent) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT value FROM outbox WHERE topic = 'tickets' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	var last gateway.TicketEvent
	for rows.Next() {
		var v []byte
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		ev, data, err := gateway.DecodeRecord[gateway.TicketEvent](v)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.TrimPrefix(ev.Type, "chatgate.ticket.")
		if data.Reason != "" {
			s += ":" + data.Reason
		}
		out = append(out, s)
		last = data
	}
	return out, last
}

func TestR6_R7_R12_LeaveAMessageFlowThroughTheStore(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(sunday)
	svc := rulesService(t, pool, clk)
	withDepartment(t, svc)
	const from = "+27821234567"

	first := textRecord(t, from, "w1", "Hello, my order is late", sunday)
	handle(t, svc, first)
	clk.set(sunday.Add(time.Minute))
	handle(t, svc, textRecord(t, from, "w2", " Yes ", sunday.Add(time.Minute)))
	clk.set(sunday.Add(2 * time.Minute))
	handle(t, svc, textRecord(t, from, "w3", "Order 1234", sunday.Add(2*time.Minute)), textRecord(t, from, "w4", "no", sunday.Add(2*time.Minute)))
	var intake string
	var closes time.Time
	if err := pool.QueryRow(context.Background(), `SELECT intake, next_due_at FROM conversations`).Scan(&intake, &closes); err != nil {
		t.Fatal(err)
	}
	if intake != "leaving" || !closes.Equal(sunday.Add(12*time.Minute)) {
		t.Fatalf("intake %q closes %v, want leaving at +12m", intake, closes)
	}
	clk.set(sunday.Add(3 * time.Minute))
	handle(t, svc, textRecord(t, from, "w5", "//END", sunday.Add(3*time.Minute)))
	handle(t, svc, first) // a replay sends nothing again

	events, last := ticketEvents(t, pool)
	// Each text is a message_added too (R37): two after w1, one after //END.
	want := "[created message_added message_added message_added message_added intake_started message_added message_added message_added intake_closed:ended_by_contact message_added]"
	if fmt.Sprint(events) != want {
		t.Fatalf("events %v\nwant   %s", events, want)
	}
	c := last.Conversation
	if c.Kind != "ticket" || c.State != "unassigned" || c.Intake != "" || c.Department != "support" || c.MessageCount != 5 ||
		c.BusinessAddress != businessNumber || c.IntakeClosesAt != nil || c.PromptExpiresAt != nil {
		t.Fatalf("last snapshot %+v", c)
	}
	outs := outboundTexts(t, pool)
	var texts []string
	for _, o := range outs {
		texts = append(texts, o.Text)
		if o.To != from || o.From != businessNumber || o.Channel != gateway.ChannelAPI || o.ConversationID != c.ID {
			t.Fatalf("outbound %+v", o)
		}
	}
	wantTexts := []string{"We are closed.", ticketing.DefaultTexts.LeaveMessagePrompt, ticketing.DefaultTexts.IntakeClosed}
	if fmt.Sprint(texts) != fmt.Sprint(wantTexts) {
		t.Fatalf("outbound texts %q\nwant %q", texts, wantTexts)
	}
	if outs[0].RequestID != "auto:api:w1:out_of_hours" {
		t.Fatalf("request id %q", outs[0].RequestID)
	}
}

func TestR14_ChatReplacesTheOpenTicketInOneBatch(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(sunday)
	svc := rulesService(t, pool, clk)
	withDepartment(t, svc)
	const from = "+27821234567"
	handle(t, svc, textRecord(t, from, "w1", "hi", sunday), textRecord(t, from, "w2", "YES", sunday), textRecord(t, from, "w3", "//end", sunday))

	clk.set(monday)
	if err := svc.SetPresence(context.Background(), "ann", ticketing.PresenceOnline); err != nil {
		t.Fatal(err)
	}
	handle(t, svc, textRecord(t, from, "w4", "Are you there now?", monday))
	rows, err := pool.Query(context.Background(), `SELECT kind, state, coalesce(close_reason, ''), archive_at IS NOT NULL, message_count FROM conversations ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var kind, state, reason string
		var archive bool
		var n int
		if err := rows.Scan(&kind, &state, &reason, &archive, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(kind, "/", state, "/", reason, "/", archive, "/", n))
	}
	want := "[ticket/closed/superseded_by_chat/true/3 live_chat/unassigned//false/1]"
	if fmt.Sprint(got) != want {
		t.Fatalf("conversations %v, want %s", got, want)
	}
}

func TestR16_SpamIsStoredWithoutConversation(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(sunday)
	svc := rulesService(t, pool, clk)
	withDepartment(t, svc)
	handle(t, svc, textRecord(t, "+1555", "s0", "first", sunday))
	if _, err := pool.Exec(context.Background(), `UPDATE contacts SET spam = true`); err != nil {
		t.Fatal(err)
	}
	before := count(t, pool, `SELECT count(*) FROM outbox`)
	handle(t, svc, textRecord(t, "+1555", "s1", "spam", sunday), textRecord(t, "+1555", "s2", "more spam", sunday))
	if n := count(t, pool, `SELECT count(*) FROM messages WHERE conversation_id IS NULL`); n != 2 {
		t.Fatalf("quarantined messages = %d, want 2", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != before {
		t.Fatalf("spam produced %d outbox records", n-before)
	}
}

// Two sweepers running at once fire each due timer exactly once.
func TestSweepTimers_ConcurrentSweepersFireEachTimerOnce(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(sunday)
	svc := rulesService(t, pool, clk)
	withDepartment(t, svc)
	const contacts = 120
	var batch []gateway.Message
	for i := range contacts {
		batch = append(batch, textRecord(t, fmt.Sprintf("+1555%04d", i), fmt.Sprint("p", i), "hello", sunday))
	}
	handle(t, svc, batch...)
	if n, err := svc.SweepTimers(context.Background(), sunday.Add(ticketing.DefaultPromptExpiry-time.Second), 1000); err != nil || n != 0 {
		t.Fatalf("early sweep fired %d (%v)", n, err)
	}
	var fired atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := rulesService(t, pool, clk)
			for {
				n, err := s.SweepTimers(context.Background(), sunday.Add(time.Hour), 7)
				if err != nil {
					errs <- err
					return
				}
				fired.Add(int64(n))
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if fired.Load() != contacts {
		t.Fatalf("fired %d timers, want %d", fired.Load(), contacts)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE topic = 'tickets' AND convert_from(value, 'UTF8') LIKE '%"reason":"prompt_expired"%'`); n != contacts {
		t.Fatalf("prompt_expired events = %d, want %d", n, contacts)
	}
	if n := count(t, pool, `SELECT count(*) FROM conversations WHERE state = 'closed' AND next_due_at IS NULL AND close_reason = 'prompt_expired'`); n != contacts {
		t.Fatalf("expired conversations = %d, want %d", n, contacts)
	}
}

// Workers replaying overlapping batches while sweepers fire timers on the
// same contacts: every message is stored once, no contact ever has two
// open conversations, and nothing fails but retryable conflicts.
func TestR13_OneOpenConversationUnderConcurrentWritersAndSweepers(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(sunday)
	svc := rulesService(t, pool, clk)
	withDepartment(t, svc)
	const contacts = 12
	script := []string{"hi", "what", "yes", "details", "no", "//end", "again", "no", "back", "YES"}
	var batch []gateway.Message
	for step, text := range script {
		for c := range contacts {
			batch = append(batch, textRecord(t, fmt.Sprintf("+1666%04d", c), fmt.Sprintf("c%d-%d", c, step), text, sunday))
		}
	}
	ctx := context.Background()
	retry := func(f func() error) error {
		var err error
		for range 20 {
			if err = f(); err == nil || !postgres.IsRetryable(err) {
				return err
			}
		}
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := rulesService(t, pool, clk)
			for i := w * 7; i < len(batch); i += 23 { // overlapping windows
				end := min(i+30, len(batch))
				if err := retry(func() error { return s.HandleBatch(ctx, batch[i:end]) }); err != nil {
					errs <- err
					return
				}
			}
			errs <- retry(func() error { return s.HandleBatch(ctx, batch) })
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := rulesService(t, pool, clk)
			for range 20 {
				if err := retry(func() error { _, err := s.SweepTimers(ctx, sunday.Add(time.Hour), 5); return err }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM messages WHERE direction = 'inbound'`); n != len(batch) {
		t.Fatalf("messages = %d, want %d", n, len(batch))
	}
	if n := count(t, pool, `SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM conversations WHERE state IN ('unassigned','assigned','snoozed') GROUP BY contact_id) x`); n > 1 {
		t.Fatalf("a contact has %d open conversations", n)
	}
}

func TestApplyDepartmentsIsDeclarativeAndIdempotent(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(sunday)
	svc := rulesService(t, pool, clk)
	ctx := context.Background()
	sales := ticketing.Department{ID: "sales", TimeZone: "Europe/Berlin", Routing: ticketing.Routing{Keywords: []string{"quote"}},
		DefaultLanguage: "DE", Texts: map[string]ticketing.Texts{"de": {OutOfHours: "Geschlossen."}}}
	file := []ticketing.Department{supportDepartment(), sales}

	ch, err := svc.ApplyDepartments(ctx, file, false)
	if err != nil || fmt.Sprint(ch.Created) != "[sales support]" {
		t.Fatalf("first apply: %+v %v", ch, err)
	}
	ch, err = svc.ApplyDepartments(ctx, file, false)
	if err != nil || len(ch.Created)+len(ch.Updated)+len(ch.Deleted) != 0 || len(ch.Unchanged) != 2 {
		t.Fatalf("second apply changed something: %+v %v", ch, err)
	}
	if n := count(t, pool, `SELECT max(version) FROM departments`); n != 1 {
		t.Fatalf("version %d after an idempotent apply", n)
	}
	got, err := svc.Department(ctx, "sales")
	if err != nil || got.DefaultLanguage != "de" || got.Texts["de"].OutOfHours != "Geschlossen." {
		t.Fatalf("stored department %+v %v", got, err)
	}

	file[1].Routing.Keywords = []string{"quote", "price"}
	if ch, err = svc.ApplyDepartments(ctx, file, false); err != nil || fmt.Sprint(ch.Updated) != "[sales]" {
		t.Fatalf("change: %+v %v", ch, err)
	}

	bad := []ticketing.Department{{ID: "night", TimeZone: "Mars/Base", Routing: ticketing.Routing{Default: true}}}
	if _, err := svc.ApplyDepartments(ctx, bad, false); !errors.Is(err, ticketing.ErrInvalidDepartment) || !strings.Contains(err.Error(), "time_zone") {
		t.Fatalf("invalid zone: %v", err)
	}
	second := []ticketing.Department{{ID: "night", TimeZone: "UTC", Routing: ticketing.Routing{Default: true}}}
	if _, err := svc.ApplyDepartments(ctx, second, false); err == nil || !strings.Contains(err.Error(), "routing.default") {
		t.Fatalf("second default: %v", err)
	}
	if n := count(t, pool, `SELECT count(*) FROM departments`); n != 2 {
		t.Fatalf("a refused apply wrote something: %d departments", n)
	}
	if ch, err = svc.ApplyDepartments(ctx, second, true); err != nil || fmt.Sprint(ch.Deleted) != "[sales support]" || fmt.Sprint(ch.Created) != "[night]" {
		t.Fatalf("prune: %+v %v", ch, err)
	}
	if err := svc.DeleteDepartment(ctx, "nope"); !errors.Is(err, ticketing.ErrDepartmentNotFound) {
		t.Fatalf("delete unknown: %v", err)
	}
}

func TestR4_PresenceExpiresWithoutHeartbeat(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(monday)
	svc := rulesService(t, pool, clk)
	withDepartment(t, svc)
	ctx := context.Background()
	if err := svc.SetPresence(ctx, "ann", "busy"); !errors.Is(err, ticketing.ErrInvalidPresence) {
		t.Fatalf("bad status: %v", err)
	}
	if err := svc.SetPresence(ctx, "ann", ticketing.PresenceOnline); err != nil {
		t.Fatal(err)
	}
	// A delayed, older report does not overwrite the newer one.
	if err := pgstore.New(pool).SetPresence(ctx, ticketing.Presence{AgentID: "ann", Status: ticketing.PresenceOffline, HeartbeatAt: monday.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	handle(t, svc, textRecord(t, "+1777", "a1", "hi", monday)) // ann online: live chat
	clk.set(monday.Add(ticketing.DefaultPresenceTTL + time.Second))
	handle(t, svc, textRecord(t, "+1778", "b1", "hi", monday)) // heartbeat too old: prompt
	rows, err := pool.Query(ctx, `SELECT c.address, v.intake FROM conversations v JOIN contacts c ON c.id = v.contact_id ORDER BY c.address`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var addr, intake string
		if err := rows.Scan(&addr, &intake); err != nil {
			t.Fatal(err)
		}
		got = append(got, addr+":"+intake)
	}
	if fmt.Sprint(got) != "[+1777: +1778:prompted]" {
		t.Fatalf("conversations %v", got)
	}
}

// R37: the auto-responder texts are in the conversation's history, written
// by "system", and published as message_added with their author, after the
// contact's message.
func TestR37_SystemTextsAreInTheHistoryAndPublished(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := rulesService(t, pool, newClock(sunday))
	withDepartment(t, svc)
	handle(t, svc, textRecord(t, "+27821234567", "w1", "Hello?", sunday))

	type line struct{ direction, sentBy, text string }
	want := []line{{"inbound", "", "Hello?"}, {"outbound", "system", "We are closed."}, {"outbound", "system", ticketing.DefaultTexts.LeaveMessagePrompt}}
	var convID int64
	if err := pool.QueryRow(context.Background(), `SELECT id FROM conversations`).Scan(&convID); err != nil {
		t.Fatal(err)
	}
	d, err := svc.Conversation(context.Background(), ticketing.Scope{All: true}, convID)
	if err != nil {
		t.Fatal(err)
	}
	var history []line
	for _, m := range d.Messages {
		history = append(history, line{m.Direction, m.SentBy, m.Text})
	}
	if fmt.Sprint(history) != fmt.Sprint(want) {
		t.Fatalf("history %q\nwant    %q", history, want)
	}

	rows, err := pool.Query(context.Background(), `SELECT value FROM outbox WHERE topic = 'tickets' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var published []line
	for rows.Next() {
		var v []byte
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		ev, data, err := gateway.DecodeRecord[gateway.TicketEvent](v)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == gateway.TypeTicketMessageAdded {
			published = append(published, line{data.Message.Direction, data.Message.SentBy, data.Message.Text})
		}
	}
	if fmt.Sprint(published) != fmt.Sprint(want) {
		t.Fatalf("message_added %q\nwant          %q", published, want)
	}
}
