package ticketing

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/templates"
)

// gateway.TypeTicketWindowClosing is published once per window, a
// configurable time before WhatsApp's customer-service window of a
// conversation still waiting on an agent closes, so a desk can act in time.
//
// DefaultWindowClosingLead is how long before the window closes
// gateway.TypeTicketWindowClosing is published, unless DeskConfig says otherwise.
const DefaultWindowClosingLead = time.Hour

var windowWarnings = promauto.NewCounter(prometheus.CounterOpts{
	Name: "chatgate_worker_window_closing_total",
	Help: "chatgate.ticket.window_closing events published (WhatsApp windows about to close on unassigned conversations).",
})

// Window is the state of a contact's customer-service window at one moment
// (R28). Only WhatsApp has one; on every other channel free text may always
// be sent.
type Window struct {
	// Applies is true on WhatsApp, the only channel with a window.
	Applies bool
	// Open says whether free text may be sent now. Always true when the
	// window does not apply.
	Open bool
	// ExpiresAt is when the window opened by the contact's last message
	// closes (open) or closed (closed); zero when the contact never wrote or
	// the window does not apply.
	ExpiresAt time.Time
}

// WindowAt returns the window of a contact on channel whose last inbound
// message arrived at lastInbound (zero: never), at now. The window is
// 24 hours from the contact's latest message and closed at exactly 24 hours
// (templates.WindowOpen); a contact who never wrote has no open window.
func WindowAt(channel gateway.Channel, lastInbound, now time.Time) Window {
	if channel != gateway.ChannelWhatsApp {
		return Window{Open: true}
	}
	return Window{
		Applies:   true,
		Open:      templates.WindowOpen(string(channel), lastInbound, now),
		ExpiresAt: templates.WindowExpiresAt(lastInbound),
	}
}

// WindowClosingAt returns when the window-closing warning of a contact's
// window is due: lead before the window closes. Zero when there is no window
// to warn about (not WhatsApp, or the contact never wrote) or lead is not
// positive.
func WindowClosingAt(channel gateway.Channel, lastInbound time.Time, lead time.Duration) time.Time {
	w := WindowAt(channel, lastInbound, lastInbound)
	if !w.Applies || w.ExpiresAt.IsZero() || lead <= 0 {
		return time.Time{}
	}
	return w.ExpiresAt.Add(-lead)
}

// DecideWindowClosing warns the desks that the window of conv closes soon:
// a gateway.TypeTicketWindowClosing event when conv is still waiting on an agent
// (unassigned, its contact still in the chat: R24, and no prompt pending
// that decides whether it exists: R35), the warning is due at
// now and the window is still open.
// Anything else decides nothing. Whether the warning for this window was
// already published is the caller's to know (the store marks it).
func DecideWindowClosing(st *ContactState, conv *Conversation, lead time.Duration, env Env) []Effect {
	now := env.Now.UTC()
	c := st.Contact
	due := WindowClosingAt(c.Channel, c.LastInboundAt, lead)
	if conv.State != StateUnassigned || contactEndedChat(conv) || conv.AwaitingConsent() || due.IsZero() || now.Before(due) || !WindowAt(c.Channel, c.LastInboundAt, now).Open {
		return nil
	}
	d := newDecider(st, env)
	d.emit(gateway.TypeTicketWindowClosing, conv, nil, "")
	return d.effects
}

// WindowClaim is what a window-closing sweep decides on: unassigned
// WhatsApp conversations whose warning may be due, locked with their
// contacts (SKIP LOCKED), and not yet warned for their current window.
type WindowClaim struct {
	Conversations []*Conversation
	// Contacts by id.
	Contacts map[int64]*Contact
}

// WindowWarning records that the warning for the window opened at
// LastInboundAt was published for a conversation, so it is published once.
type WindowWarning struct {
	ConversationID int64
	LastInboundAt  time.Time
}

// SweepWindowClosing publishes the due gateway.TypeTicketWindowClosing events (at
// most limit conversations in one transaction) and returns how many. Rows
// another sweeper or batch holds are skipped, and each warning is marked in
// the same transaction as its event, so each window is warned about once
// whatever the number of sweepers. A negative DeskConfig.WindowClosingLead
// turns the warning off.
func (s *Service) SweepWindowClosing(ctx context.Context, now time.Time, limit int) (int, error) {
	lead := s.Desk.windowClosingLead()
	if lead <= 0 {
		return 0, nil
	}
	now = now.UTC()
	var fired int
	err := s.Store.InTx(ctx, func(tx StoreTx) error {
		fired = 0
		// Windows opened after now-24h are open; those opened at most
		// lead later than that close within the lead.
		opened := now.Add(-templates.WindowLength)
		claim, err := tx.ClaimWindowClosing(ctx, opened, opened.Add(lead), limit)
		if err != nil {
			return err
		}
		if len(claim.Conversations) == 0 {
			return nil
		}
		env := Env{Now: now, Config: s.Config}
		var effects []Effect
		var marks []WindowWarning
		for _, conv := range claim.Conversations {
			contact := claim.Contacts[conv.ContactID]
			if contact == nil {
				return fmt.Errorf("conversation %d without its contact", conv.ID)
			}
			e := DecideWindowClosing(&ContactState{Contact: contact, Open: conv}, conv, lead, env)
			if len(e) == 0 {
				continue
			}
			effects = append(effects, e...)
			marks = append(marks, WindowWarning{ConversationID: conv.ID, LastInboundAt: conv.LastInboundAt})
			fired++
		}
		if fired == 0 {
			return nil
		}
		if err := tx.MarkWindowWarned(ctx, marks); err != nil {
			return err
		}
		ch := &Changes{}
		if err := s.apply(ctx, tx, effects, ch); err != nil {
			return err
		}
		return tx.Save(ctx, ch)
	})
	if err != nil {
		return 0, fmt.Errorf("sweep window closing: %w", err)
	}
	windowWarnings.Add(float64(fired))
	return fired, nil
}

// sweepWindowClosing is SweepWindowClosing for RunTimers: a failure is
// logged and retried at the next tick.
func (s *Service) sweepWindowClosing(ctx context.Context, limit int) int {
	n, err := s.SweepWindowClosing(ctx, s.Now(), limit)
	if err != nil && ctx.Err() == nil {
		s.logger().WarnContext(ctx, "window closing sweep failed", "err", err)
	}
	return n
}
