package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
)

// The status tests run on the rules tests' support department, closed on
// Sunday: a contact's first message gets two auto-responder texts, stored
// as queued outbound messages with request ids auto:<channel>:<id>:<kind>.

func inboundOn(t testing.TB, ch gateway.Channel, from, id, text string, at time.Time) gateway.Message {
	t.Helper()
	in := gateway.Inbound{Channel: ch, ProviderID: id, From: from, To: businessNumber, Text: text, ReceivedAt: at}
	m, err := in.Record("test", "chatgate.inbound")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func statusRecord(t testing.TB, s gateway.Status) gateway.Message {
	t.Helper()
	if s.At.IsZero() {
		s.At = sunday.Add(time.Minute)
	}
	m, err := s.Record("test", "chatgate.status")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type storedStatus struct {
	Status, ProviderID, ErrorCode string
	Rank                          int
}

func messageStatus(t testing.TB, pool *pgxpool.Pool, requestID string) storedStatus {
	t.Helper()
	var s storedStatus
	err := pool.QueryRow(context.Background(),
		`SELECT status, coalesce(provider_id, ''), error_code, status_rank FROM messages WHERE request_id = $1`, requestID).
		Scan(&s.Status, &s.ProviderID, &s.ErrorCode, &s.Rank)
	if err != nil {
		t.Fatalf("message %s: %v", requestID, err)
	}
	return s
}

// statusEvents returns the message_status events in the outbox, in order.
func statusEvents(t testing.TB, pool *pgxpool.Pool) []ticketing.MessageStatusEvent {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT value FROM outbox WHERE topic = 'tickets' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []ticketing.MessageStatusEvent
	for rows.Next() {
		var v []byte
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		ev, data, err := gateway.DecodeRecord[ticketing.MessageStatusEvent](v)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == gateway.TypeTicketMessageStatus {
			out = append(out, data)
		}
	}
	return out
}

func deliveries(evs []ticketing.MessageStatusEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Message.Text[:min(4, len(e.Message.Text))]+":"+string(e.Delivery.Status))
	}
	return out
}

// outOfHours stores a first message of contact from on channel ch out of
// hours and returns the request id of its out-of-hours text.
func outOfHours(t *testing.T, svc *ticketing.Service, ch gateway.Channel, from, id string) string {
	t.Helper()
	handle(t, svc, inboundOn(t, ch, from, id, "Hello, is anyone there?", sunday))
	return "auto:" + string(ch) + ":" + id + ":out_of_hours"
}

func TestR32_AutoResponderTextsAreStoredWithTheirOutboundRecords(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := rulesService(t, pool, newClock(sunday))
	withDepartment(t, svc)
	rid := outOfHours(t, svc, gateway.ChannelSMS, "+15550001", "w1")
	handle(t, svc, inboundOn(t, gateway.ChannelSMS, "+15550001", "w1", "Hello, is anyone there?", sunday)) // replay
	if n := count(t, pool, `SELECT count(*) FROM messages WHERE direction = 'outbound' AND status = 'queued' AND sent_by = 'system' AND seq = 1`); n != 2 {
		t.Fatalf("outbound messages = %d, want the two texts", n)
	}
	outs := outboundTexts(t, pool)
	var id int64
	if err := pool.QueryRow(context.Background(), `SELECT id FROM messages WHERE request_id = $1`, rid).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || outs[0].RequestID != rid || outs[0].MessageID != id {
		t.Fatalf("outbound records %+v, want message id %d", outs, id)
	}
	if n := count(t, pool, `SELECT message_count FROM conversations`); n != 1 {
		t.Fatalf("message_count %d: outbound texts are not the contact's messages", n)
	}
}

func TestR32_StatusesInAndOutOfOrderNeverMoveBackwards(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := rulesService(t, pool, newClock(sunday))
	withDepartment(t, svc)
	const from = "+15550002"
	rid := outOfHours(t, svc, gateway.ChannelSMS, from, "w1")
	prompt := "auto:sms:w1:leave_message_prompt"
	st := func(rid string, s gateway.DeliveryStatus, code string) gateway.Message {
		return statusRecord(t, gateway.Status{Channel: gateway.ChannelSMS, Contact: from, RequestID: rid, ProviderID: "SM-" + rid[len(rid)-6:], Status: s, ErrorCode: code})
	}
	// Twilio's callbacks, delivered first, then the sender's late "sent",
	// then repeats; the prompt's statuses arrive reversed in one batch.
	handle(t, svc, st(rid, gateway.StatusDelivered, ""))
	handle(t, svc, st(rid, gateway.StatusSent, ""))
	handle(t, svc, st(rid, gateway.StatusDelivered, ""), st(rid, gateway.StatusQueued, ""))
	handle(t, svc, st(prompt, gateway.StatusDelivered, ""), st(prompt, gateway.StatusSending, ""), st(prompt, gateway.StatusSent, ""))
	handle(t, svc, st(prompt, gateway.StatusDelivered, ""), st(prompt, gateway.StatusSending, "")) // a replayed batch

	if got := messageStatus(t, pool, rid); got != (storedStatus{"delivered", "SM-_hours", "", 4}) {
		t.Fatalf("out-of-hours text: %+v", got)
	}
	if got := messageStatus(t, pool, prompt); got != (storedStatus{"delivered", "SM-prompt", "", 4}) {
		t.Fatalf("prompt: %+v", got)
	}
	evs := statusEvents(t, pool)
	if fmt.Sprint(deliveries(evs)) != "[We a:delivered Woul:delivered]" {
		t.Fatalf("message_status events %v, want one per move forward", deliveries(evs))
	}
	e := evs[0]
	if e.Conversation.ID == 0 || e.Conversation.Contact.Address != from || e.Conversation.Intake != "prompted" ||
		e.Message.Direction != "outbound" || e.Message.ProviderID != "SM-_hours" || e.Delivery.RequestID != rid {
		t.Fatalf("event %+v", e)
	}
	// Failed outranks delivered; read outranks failed (gateway.DeliveryStatus.Rank).
	handle(t, svc, st(rid, gateway.StatusFailed, "30003"))
	handle(t, svc, st(rid, gateway.StatusRead, ""), st(rid, gateway.StatusFailed, "30005"))
	if got := messageStatus(t, pool, rid); got != (storedStatus{"read", "SM-_hours", "", 6}) {
		t.Fatalf("after failed and read: %+v", got)
	}
	if n := count(t, pool, `SELECT count(*) FROM pending_statuses`); n != 0 {
		t.Fatalf("%d statuses kept pending although their messages are known", n)
	}
}

func TestR32_ReceiptBeforeTheSendersStatusIsKeptThenApplied(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := rulesService(t, pool, newClock(sunday))
	withDepartment(t, svc)
	const from = "+27820000003"
	rid := outOfHours(t, svc, gateway.ChannelWhatsApp, from, "wa1")
	receipt := func(s gateway.DeliveryStatus) gateway.Message {
		return statusRecord(t, gateway.Status{Channel: gateway.ChannelWhatsApp, Contact: from, ProviderID: "3EB0AAA", Status: s, ProviderStatus: string(s)})
	}
	// WhatsApp's receipts name only the message id, and overtake the
	// sender's "sent", which ties the id to the request.
	handle(t, svc, receipt(gateway.StatusDelivered))
	handle(t, svc, receipt(gateway.StatusDelivered)) // redelivered: kept once
	if n := count(t, pool, `SELECT count(*) FROM pending_statuses`); n != 1 {
		t.Fatalf("pending statuses = %d, want 1", n)
	}
	if got := messageStatus(t, pool, rid); got.Status != "queued" {
		t.Fatalf("applied to an unknown message: %+v", got)
	}
	handle(t, svc, receipt(gateway.StatusRead), statusRecord(t, gateway.Status{Channel: gateway.ChannelWhatsApp, Contact: from, RequestID: rid, ProviderID: "3EB0AAA", Status: gateway.StatusSent}))
	if got := messageStatus(t, pool, rid); got != (storedStatus{"read", "3EB0AAA", "", 6}) {
		t.Fatalf("after the sender's status: %+v", got)
	}
	if n := count(t, pool, `SELECT count(*) FROM pending_statuses`); n != 0 {
		t.Fatalf("pending statuses = %d after resolution", n)
	}
	// Every move forward is published, the kept statuses after the one
	// that made their message known, oldest first.
	if got := fmt.Sprint(deliveries(statusEvents(t, pool))); got != "[We a:sent We a:delivered We a:read]" {
		t.Fatalf("events %s", got)
	}

	// With the send log already holding the id, a receipt finds its
	// message at once: nothing is kept pending.
	prompt := "auto:whatsapp:wa1:leave_message_prompt"
	if _, err := pool.Exec(context.Background(), `INSERT INTO sends (request_id, channel, provider_id, status, started_at, finished_at)
		VALUES ($1, 'whatsapp', '3EB0BBB', 'sent', now(), now())`, prompt); err != nil {
		t.Fatal(err)
	}
	handle(t, svc, statusRecord(t, gateway.Status{Channel: gateway.ChannelWhatsApp, Contact: from, ProviderID: "3EB0BBB", Status: gateway.StatusDelivered}))
	if got := messageStatus(t, pool, prompt); got != (storedStatus{"delivered", "3EB0BBB", "", 4}) {
		t.Fatalf("receipt through the send log: %+v", got)
	}
	if n := count(t, pool, `SELECT count(*) FROM pending_statuses`); n != 0 {
		t.Fatalf("pending statuses = %d", n)
	}
}

// A batch holding a contact's message and a status of the same contact
// publishes the status with the snapshot the message left, never an older one.
func TestR32_StatusEventsOfAMixedBatchCarryTheBatchsLatestSnapshot(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := rulesService(t, pool, newClock(sunday))
	withDepartment(t, svc)
	const from = "+15550008"
	rid := outOfHours(t, svc, gateway.ChannelSMS, from, "w1")
	handle(t, svc, inboundOn(t, gateway.ChannelSMS, from, "w2", "yes", sunday),
		statusRecord(t, gateway.Status{Channel: gateway.ChannelSMS, Contact: from, RequestID: rid, ProviderID: "SM1", Status: gateway.StatusDelivered}))
	evs := statusEvents(t, pool)
	if len(evs) != 1 || evs[0].Conversation.Kind != "ticket" || evs[0].Conversation.Intake != "leaving" || evs[0].Conversation.MessageCount != 2 {
		t.Fatalf("status event snapshot %+v", evs)
	}
}

func TestR32_StatusOfAnUnknownRequestIsKeptNotLost(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := rulesService(t, pool, newClock(sunday))
	// A send recorded by nobody yet (say, from before outbound messages were stored).
	s := gateway.Status{Channel: gateway.ChannelSMS, Contact: "+15550004", RequestID: "desk:42", ProviderID: "SM42", Status: gateway.StatusFailed, ErrorCode: "30003", ErrorMessage: "unreachable"}
	handle(t, svc, statusRecord(t, s))
	handle(t, svc, statusRecord(t, s))
	var status, code string
	if err := pool.QueryRow(context.Background(), `SELECT status, error_code FROM pending_statuses WHERE request_id = 'desk:42' AND provider_id = 'SM42'`).Scan(&status, &code); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || code != "30003" || count(t, pool, `SELECT count(*) FROM pending_statuses`) != 1 {
		t.Fatalf("pending %s %s", status, code)
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox WHERE topic = 'deadletter'`); n != 0 {
		t.Fatalf("%d dead-lettered", n)
	}
}

func TestR33_Failed21610MarksTheContactOptedOutAndNothingMoreIsSent(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(sunday)
	svc := rulesService(t, pool, clk)
	withDepartment(t, svc)
	const from = "+15550005"
	rid := outOfHours(t, svc, gateway.ChannelSMS, from, "w1")
	handle(t, svc, statusRecord(t, gateway.Status{Channel: gateway.ChannelSMS, Contact: from, RequestID: rid, Status: gateway.StatusFailed,
		ErrorCode: ticketing.TwilioOptedOutCode, ErrorMessage: "the contact opted out by replying STOP"}))
	if got := messageStatus(t, pool, rid); got != (storedStatus{"failed", "", "21610", 5}) {
		t.Fatalf("failed send: %+v", got)
	}
	if n := count(t, pool, `SELECT count(*) FROM contacts WHERE opted_out AND opted_out_at IS NOT NULL`); n != 1 {
		t.Fatal("contact not opted out")
	}
	events, last := ticketEvents(t, pool)
	if !strings.Contains(fmt.Sprint(events), "message_status contact_opted_out:provider_opted_out") {
		t.Fatalf("events %v", events)
	}
	if last.Conversation.Contact.Address != from {
		t.Fatalf("opt-out event on %+v", last.Conversation)
	}

	// The contact writes again: stored, nothing sent, the refusal recorded.
	before := len(outboundTexts(t, pool))
	clk.set(sunday.Add(time.Minute))
	handle(t, svc, inboundOn(t, gateway.ChannelSMS, from, "w2", "Why no answer?", sunday.Add(time.Minute)))
	if n := len(outboundTexts(t, pool)); n != before {
		t.Fatalf("%d outbound records to an opted-out contact", n-before)
	}
	if n := count(t, pool, `SELECT count(*) FROM messages WHERE status = 'failed' AND error_code = 'opted_out'`); n != 1 {
		t.Fatalf("refusals recorded = %d, want the out-of-hours text", n)
	}
	// START opts back in; HELP is answered again.
	handle(t, svc, inboundOn(t, gateway.ChannelSMS, from, "w3", "start", sunday.Add(time.Minute)), inboundOn(t, gateway.ChannelSMS, from, "w4", "HELP", sunday.Add(time.Minute)))
	if n := count(t, pool, `SELECT count(*) FROM contacts WHERE opted_out OR opted_out_at IS NOT NULL`); n != 0 {
		t.Fatal("START did not opt back in")
	}
	outs := outboundTexts(t, pool)
	if len(outs) != before+1 || outs[len(outs)-1].Text != ticketing.DefaultTexts.Help || outs[len(outs)-1].RequestID != "auto:sms:w4:help" {
		t.Fatalf("HELP answer: %+v", outs[len(outs)-1])
	}
}

func TestR33_StopOpensNoTicketThroughTheStore(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := rulesService(t, pool, newClock(sunday))
	withDepartment(t, svc)
	handle(t, svc, inboundOn(t, gateway.ChannelSMS, "+15550006", "k1", "Stop", sunday))
	if n := count(t, pool, `SELECT count(*) FROM conversations`); n != 0 {
		t.Fatalf("%d conversations opened by STOP", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM messages WHERE conversation_id IS NULL AND body = 'Stop'`); n != 1 {
		t.Fatal("STOP not stored")
	}
	if n := count(t, pool, `SELECT count(*) FROM contacts WHERE opted_out`); n != 1 {
		t.Fatal("not opted out")
	}
	if n := count(t, pool, `SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("%d outbox records for a STOP", n)
	}
}

func TestStatusTopic_OtherRecordsAreStoredIgnoredOrDeadLettered(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	clk := newClock(monday)
	svc := rulesService(t, pool, clk)
	const from = "+27820000007"
	handle(t, svc, inboundOn(t, gateway.ChannelWhatsApp, from, "wa1", "Hi", monday)) // opens a live chat

	phone := func(id, kind, text string) gateway.Message {
		m, err := gateway.EncodeRecord("chatgate.status", "whatsapp:"+from, "phone:whatsapp:"+id, "test", "chatgate.whatsapp.phone_message",
			"whatsapp:"+from, monday, map[string]any{"channel": "whatsapp", "provider_id": id, "contact": from, "from": businessNumber,
				"sent_by": "phone", "kind": kind, "text": text, "sent_at": monday.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	state, err := gateway.EncodeRecord("chatgate.status", "whatsapp:device:main", "state:1", "test", "chatgate.channel.state", "",
		monday, map[string]any{"channel": "whatsapp", "device": "main", "state": "connected", "code": "wa-connected", "at": monday})
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := gateway.EncodeRecord("chatgate.status", "x", "u:1", "test", "chatgate.status.mystery", "", monday, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	invalid := statusRecord(t, gateway.Status{Channel: gateway.ChannelSMS, RequestID: "r", Status: "teleported"})
	garbage := gateway.Message{Topic: "chatgate.status", Key: []byte("sms:+1"), Value: []byte("{not json")}

	batch := []gateway.Message{phone("3EB0PHONE1", "text", "Hi, this is Ann from the shop"), state, unknown, invalid, garbage,
		phone("3EB0PHONE1", "text", "Hi, this is Ann from the shop"), phone("3EB0REACT", "reaction", "")}
	handle(t, svc, batch...)
	handle(t, svc, phone("3EB0PHONE1", "text", "Hi, this is Ann from the shop")) // replay

	var dir, sentBy, status, body string
	var conv *int64
	if err := pool.QueryRow(context.Background(), `SELECT direction, sent_by, status, body, conversation_id FROM messages WHERE provider_id = '3EB0PHONE1'`).
		Scan(&dir, &sentBy, &status, &body, &conv); err != nil {
		t.Fatal(err)
	}
	if dir != "outbound" || sentBy != "phone" || status != "sent" || body != "Hi, this is Ann from the shop" || conv == nil {
		t.Fatalf("phone message stored as %s/%s/%s %q in %v", dir, sentBy, status, body, conv)
	}
	if n := count(t, pool, `SELECT count(*) FROM messages`); n != 2 {
		t.Fatalf("messages = %d, want the contact's and the phone's", n)
	}
	events, last := ticketEvents(t, pool)
	if fmt.Sprint(events) != "[created message_added message_added]" || last.Message == nil || last.Message.Direction != "outbound" {
		t.Fatalf("events %v, last %+v", events, last.Message)
	}
	rows, err := pool.Query(context.Background(), `SELECT convert_from(value, 'UTF8') FROM outbox WHERE topic = 'deadletter' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var reasons []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		_, dl, err := gateway.DecodeRecord[gateway.Deadletter]([]byte(v))
		if err != nil {
			t.Fatal(err)
		}
		reasons = append(reasons, dl.Reason)
	}
	if len(reasons) != 3 || !strings.Contains(reasons[0], "chatgate.status.mystery") || !strings.Contains(reasons[1], "invalid status") ||
		!strings.Contains(reasons[2], "decode cloudevent") {
		t.Fatalf("dead-letter reasons %q", reasons)
	}
}

// BenchmarkHandleBatchStatuses1000 applies 1000 delivery statuses (500
// contacts, two auto-responder texts each) in one batch.
func BenchmarkHandleBatchStatuses1000(b *testing.B) {
	pool := pgtest.Pool(b)
	clk := newClock(sunday)
	svc := rulesService(b, pool, clk)
	withDepartment(b, svc)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		in := make([]gateway.Message, 500)
		statuses := make([]gateway.Message, 0, 1000)
		for j := range in {
			from, id := fmt.Sprintf("+1556%07d", i*500+j), fmt.Sprintf("b%d-%d", i, j)
			in[j] = inboundOn(b, gateway.ChannelSMS, from, id, "hello", sunday)
			for _, kind := range []string{"out_of_hours", "leave_message_prompt"} {
				rid := "auto:sms:" + id + ":" + kind
				statuses = append(statuses, statusRecord(b, gateway.Status{Channel: gateway.ChannelSMS, Contact: from, RequestID: rid, ProviderID: "SM" + rid, Status: gateway.StatusDelivered}))
			}
		}
		if err := svc.HandleBatch(ctx, in); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := svc.HandleBatch(ctx, statuses); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "statuses/s")
}
