package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	apichannel "github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/kafka"
	"github.com/chatgate/chatgate/ticketing"
)

// demoMessage is the body of POST /v1/channels/api/messages.
type demoMessage struct {
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
	// Type is "end_chat" when the front end's "end chat" button was
	// pressed (R24); empty for a message.
	Type string `json:"type,omitempty"`
	Text string `json:"text,omitempty"`
}

// demoEvent is a ticket event as the script sees it.
type demoEvent struct {
	Type string // without the "chatgate.ticket." prefix
	Data gateway.TicketEvent
}

// demoWant is one expected ticket event. Conv labels the conversation:
// events with one label are on one conversation, a label seen for the first
// time must be a conversation not seen before.
type demoWant struct {
	Conv, Type, Reason string
	// Kind and State, when set, are checked on the conversation after the event.
	Kind, State string
	// SentBy, when set, is the author of the event's message.
	SentBy string
	// Language, when set, is the contact's language on the event (R34).
	Language string
}

// demoText is the message_added event of a text chatgate sent on conv:
// its own texts are messages of the conversation (R37).
func demoText(conv string) demoWant {
	return demoWant{Conv: conv, Type: "message_added", SentBy: ticketing.SentBySystem}
}

func (r *demoRun) text(kind ticketing.TextKind) string {
	s, _ := r.dep.Text(kind, "")
	return s
}

func (r *demoRun) section(title string) {
	r.step++
	fmt.Fprintf(r.out, "\n%s\n", title)
}

func (r *demoRun) note(format string, args ...any) {
	fmt.Fprintf(r.out, "             %s\n", fmt.Sprintf(format, args...))
}

func (r *demoRun) ok(format string, args ...any) {
	fmt.Fprintf(r.out, "  ✓          %s\n", fmt.Sprintf(format, args...))
}

func (r *demoRun) line(who, format string, args ...any) {
	fmt.Fprintf(r.out, "  %-10s %s\n", who, fmt.Sprintf(format, args...))
}

// call sends one HTTP request to the target and checks the status.
func (r *demoRun) call(method, path, token string, body any, want int) error {
	_, err := r.answer(method, path, token, body, want)
	return err
}

// refused sends one HTTP request that must be refused with status want and
// the error code.
func (r *demoRun) refused(method, path, token string, body any, want int, code string) error {
	answer, err := r.answer(method, path, token, body, want)
	if err != nil {
		return err
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(answer, &e); err != nil || e.Error.Code != code {
		return fmt.Errorf("%s %s: %s, want the error %s", method, path, bytes.TrimSpace(answer), code)
	}
	return nil
}

// answer sends one HTTP request to the target, checks the status and
// returns the body.
func (r *demoRun) answer(method, path, token string, body any, want int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.tgt.StepTimeout)
	defer cancel()
	js, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, r.tgt.BaseURL+path, bytes.NewReader(js))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %d %s, want %d", method, path, resp.StatusCode, bytes.TrimSpace(answer), want)
	}
	return answer, nil
}

func (r *demoRun) ops(method, path string, body any, want int, what string) error {
	r.line("ops", "%s %s (%s)", method, path, what)
	return r.call(method, path, r.tgt.OpsToken, body, want)
}

func (r *demoRun) presence(agent, status string) error {
	r.line("desk", "PUT /v1/agents/%s/presence %s", agent, status)
	return r.call("PUT", "/v1/agents/"+agent+"/presence", r.tgt.DeskToken, map[string]string{"status": status}, http.StatusOK)
}

// demoNames name the demo's customers in the transcript.
var demoNames = map[string]string{demoThandi: "Thandi", demoSipho: "Sipho", demoLerato: "Lerato", demoJoao: "João"}

// say posts one message of contact on the API channel.
func (r *demoRun) say(contact, text string) error {
	r.line(demoNames[contact], "→ \"%s\"", text)
	r.sent++
	msg := demoMessage{ID: fmt.Sprintf("demo-%d-%d", r.started.UnixNano(), r.sent), From: contact, To: demoBusiness, Text: text}
	return r.call("POST", "/v1/channels/api/messages", r.tgt.APIToken, msg, http.StatusAccepted)
}

// endChat posts the front end's end_chat event for contact (R24).
func (r *demoRun) endChat(contact string) error {
	r.line(demoNames[contact], "→ (presses \"end chat\": type end_chat)")
	r.sent++
	msg := demoMessage{ID: fmt.Sprintf("demo-%d-%d", r.started.UnixNano(), r.sent), From: contact, To: demoBusiness, Type: "end_chat"}
	return r.call("POST", "/v1/channels/api/messages", r.tgt.APIToken, msg, http.StatusAccepted)
}

// turn is one turn of the script: contact says text, then chatgate must
// answer with texts and publish events.
func (r *demoRun) turn(contact, text string, texts []string, events []demoWant) error {
	if err := r.say(contact, text); err != nil {
		return err
	}
	return r.expect(contact, texts, events)
}

func (r *demoRun) expect(contact string, texts []string, events []demoWant) error {
	return r.expectWithin(contact, texts, events, r.tgt.StepTimeout)
}

// expectWithin waits until contact received texts (in order) and events
// were published for it, then checks them: exactly these, nothing else
// since the previous expectation for the contact.
func (r *demoRun) expectWithin(contact string, texts []string, events []demoWant, within time.Duration) error {
	ctx, cancel := context.WithTimeout(r.ctx, within)
	defer cancel()
	from := r.seenEvents[contact]
	var got []demoEvent
	err := r.events.wait(ctx, func(all []demoEvent) bool {
		got = got[:0]
		for _, ev := range all {
			if ev.Data.Conversation.Contact.Address == contact {
				got = append(got, ev)
			}
		}
		got = got[min(from, len(got)):]
		return len(got) >= len(events)
	})
	if err != nil {
		return fmt.Errorf("%s: %d of the %d expected ticket events arrived within %v (%s)", contact, len(got), len(events), within, describeEvents(got))
	}
	got = got[:len(events)]
	if err := r.matchEvents(contact, got, events); err != nil {
		return err
	}
	r.seenEvents[contact] = from + len(events)

	fromText := r.seenTexts[contact]
	var received []apichannel.Callback
	err = r.tgt.FrontEnd.inbox.wait(ctx, func(all []apichannel.Callback) bool {
		received = received[:0]
		for _, cb := range all {
			if cb.To == contact {
				received = append(received, cb)
			}
		}
		received = received[min(fromText, len(received)):]
		return len(received) >= len(texts)
	})
	if refused := r.tgt.FrontEnd.refuse.snapshot(); len(refused) > 0 {
		return fmt.Errorf("the front end refused callbacks: %s", strings.Join(refused, "; "))
	}
	if err != nil {
		return fmt.Errorf("%s received %d of the %d expected messages within %v", contact, len(received), len(texts), within)
	}
	for i, want := range texts {
		cb := received[i]
		if cb.Text != want {
			return fmt.Errorf("%s received %q, want %q", contact, cb.Text, want)
		}
		if cb.From != demoBusiness {
			return fmt.Errorf("%s received a message from %q, want %q", contact, cb.From, demoBusiness)
		}
		r.line(demoNames[contact], "← \"%s\"", cb.Text)
	}
	if len(received) > len(texts) {
		return fmt.Errorf("%s received an unexpected message %q", contact, received[len(texts)].Text)
	}
	r.seenTexts[contact] = fromText + len(texts)
	r.texts += len(texts)
	return nil
}

// matchEvents checks got against want: per conversation label, the same
// types and reasons in the same order (events of different conversations
// may interleave on the topic), and prints them.
func (r *demoRun) matchEvents(contact string, got []demoEvent, want []demoWant) error {
	byConv := map[int64][]demoEvent{}
	var order []int64
	for _, ev := range got {
		id := ev.Data.Conversation.ID
		if _, ok := byConv[id]; !ok {
			order = append(order, id)
		}
		byConv[id] = append(byConv[id], ev)
	}
	wantBy := map[string][]demoWant{}
	var labels []string
	for _, w := range want {
		if _, ok := wantBy[w.Conv]; !ok {
			labels = append(labels, w.Conv)
		}
		wantBy[w.Conv] = append(wantBy[w.Conv], w)
	}
	bound := map[int64]string{}
	for l, id := range r.convs {
		bound[id] = l
	}
	for _, l := range labels {
		id, ok := r.convs[l]
		if !ok {
			// A new conversation: the one not seen before among got's.
			for _, cand := range order {
				if _, taken := bound[cand]; !taken {
					id, ok = cand, true
					break
				}
			}
			if !ok {
				return fmt.Errorf("%s: expected a new conversation, got events on %s", contact, describeEvents(got))
			}
			r.convs[l], bound[id] = id, l
		}
		evs, ws := byConv[id], wantBy[l]
		if len(evs) != len(ws) {
			return fmt.Errorf("%s: conversation #%d got %s, want %d events", contact, id, describeEvents(evs), len(ws))
		}
		for i, w := range ws {
			ev, c := evs[i], evs[i].Data.Conversation
			sentBy := ""
			if ev.Data.Message != nil {
				sentBy = ev.Data.Message.SentBy
			}
			if ev.Type != w.Type || ev.Data.Reason != w.Reason || (w.Kind != "" && c.Kind != w.Kind) || (w.State != "" && c.State != w.State) ||
				(w.SentBy != "" && sentBy != w.SentBy) || (w.Language != "" && c.Contact.Language != w.Language) {
				return fmt.Errorf("%s: conversation #%d event %d is %s (reason %q, %s, %s, by %q), want %s (reason %q, %s, %s, by %q)",
					contact, id, i+1, ev.Type, ev.Data.Reason, c.Kind, c.State, sentBy, w.Type, w.Reason, orAny(w.Kind), orAny(w.State), w.SentBy)
			}
		}
		delete(byConv, id)
	}
	if len(byConv) > 0 {
		return fmt.Errorf("%s: unexpected events %s", contact, describeEvents(got))
	}
	for _, ev := range got {
		c := ev.Data.Conversation
		detail := c.Kind + ", " + c.State
		if ev.Data.Reason != "" {
			detail += ", reason " + ev.Data.Reason
		}
		if c.Intake != "" {
			detail += ", intake " + c.Intake
		}
		if m := ev.Data.Message; m != nil && m.SentBy != "" {
			detail += fmt.Sprintf(", message %d by %s %q", m.Seq, m.SentBy, m.Text)
		} else if m != nil {
			detail += fmt.Sprintf(", message %d %q", m.Seq, m.Text)
		}
		r.line("tickets", "#%d %s (%s)", c.ID, ev.Type, detail)
	}
	return nil
}

// noStrayTexts checks that chatgate sent nothing the script did not
// expect: the outbound topic holds exactly the texts checked. Ticket events
// and texts of one decision are published together, after those of earlier
// decisions, so once the last events arrived every text is on the topic.
func (r *demoRun) noStrayTexts() error {
	ctx, cancel := context.WithTimeout(r.ctx, r.tgt.StepTimeout)
	defer cancel()
	ends, err := kafka.EndOffsets(ctx, r.tgt.Brokers, r.tgt.Topics.Name(gateway.TopicOutbound))
	if err != nil {
		return err
	}
	var n int64
	for _, off := range ends {
		n += off
	}
	if n != int64(r.texts) {
		return fmt.Errorf("chatgate queued %d messages for the customers, the script expected %d", n, r.texts)
	}
	r.ok("chatgate sent exactly the %d messages shown, each signed and verified by the front end", r.texts)
	return nil
}

func describeEvents(evs []demoEvent) string {
	if len(evs) == 0 {
		return "none"
	}
	var parts []string
	for _, ev := range evs {
		s := fmt.Sprintf("#%d %s", ev.Data.Conversation.ID, ev.Type)
		if ev.Data.Reason != "" {
			s += "(" + ev.Data.Reason + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func orAny(s string) string {
	if s == "" {
		return "any"
	}
	return s
}

// alwaysOpenSchedule is a schedule open around the clock.
func alwaysOpenSchedule() map[string][]string {
	s := map[string][]string{}
	for d := time.Sunday; d <= time.Saturday; d++ {
		s[strings.ToLower(d.String())] = []string{"00:00-24:00"}
	}
	return s
}
