package ticketing

import (
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

var lastInbound = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func TestR28_WindowEdges(t *testing.T) {
	t.Parallel()
	expires := lastInbound.Add(24 * time.Hour)
	for _, tc := range []struct {
		name    string
		channel gateway.Channel
		last    time.Time
		now     time.Time
		want    Window
	}{
		{"whatsapp 1ns before 24h is open", gateway.ChannelWhatsApp, lastInbound, expires.Add(-time.Nanosecond), Window{Applies: true, Open: true, ExpiresAt: expires}},
		{"whatsapp exactly 24h is closed", gateway.ChannelWhatsApp, lastInbound, expires, Window{Applies: true, ExpiresAt: expires}},
		{"whatsapp 1ns after 24h is closed", gateway.ChannelWhatsApp, lastInbound, expires.Add(time.Nanosecond), Window{Applies: true, ExpiresAt: expires}},
		{"whatsapp right after the message is open", gateway.ChannelWhatsApp, lastInbound, lastInbound, Window{Applies: true, Open: true, ExpiresAt: expires}},
		{"whatsapp no inbound ever is closed", gateway.ChannelWhatsApp, time.Time{}, expires, Window{Applies: true}},
		{"sms has no window", gateway.ChannelSMS, lastInbound, expires.Add(time.Hour), Window{Open: true}},
		{"sms no inbound ever is open", gateway.ChannelSMS, time.Time{}, expires, Window{Open: true}},
		{"api has no window", gateway.ChannelAPI, lastInbound, expires.Add(time.Hour), Window{Open: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := WindowAt(tc.channel, tc.last, tc.now); got != tc.want {
				t.Fatalf("WindowAt = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestR28_WindowClosingWarning(t *testing.T) {
	t.Parallel()
	expires := lastInbound.Add(24 * time.Hour)
	due := expires.Add(-time.Hour)
	contact := func(ch gateway.Channel, last time.Time) *Contact {
		return &Contact{ID: 1, Channel: ch, Address: "+27821234567", LastInboundAt: last}
	}
	conv := func(s State) *Conversation {
		return &Conversation{ID: 7, ContactID: 1, Kind: KindLiveChat, State: s, LastInboundAt: lastInbound}
	}
	for _, tc := range []struct {
		name    string
		contact *Contact
		conv    *Conversation
		lead    time.Duration
		now     time.Time
		warn    bool
	}{
		{"1ns before the lead: not yet", contact(gateway.ChannelWhatsApp, lastInbound), conv(StateUnassigned), time.Hour, due.Add(-time.Nanosecond), false},
		{"exactly at the lead: warned", contact(gateway.ChannelWhatsApp, lastInbound), conv(StateUnassigned), time.Hour, due, true},
		{"1ns before the window closes: warned", contact(gateway.ChannelWhatsApp, lastInbound), conv(StateUnassigned), time.Hour, expires.Add(-time.Nanosecond), true},
		{"window already closed: too late", contact(gateway.ChannelWhatsApp, lastInbound), conv(StateUnassigned), time.Hour, expires, false},
		{"an agent has it: no warning", contact(gateway.ChannelWhatsApp, lastInbound), conv(StateAssigned), time.Hour, due, false},
		{"snoozed: no warning", contact(gateway.ChannelWhatsApp, lastInbound), conv(StateSnoozed), time.Hour, due, false},
		{"sms has no window", contact(gateway.ChannelSMS, lastInbound), conv(StateUnassigned), time.Hour, due, false},
		{"never wrote: no window", contact(gateway.ChannelWhatsApp, time.Time{}), conv(StateUnassigned), time.Hour, due, false},
		{"configured lead of 2h", contact(gateway.ChannelWhatsApp, lastInbound), conv(StateUnassigned), 2 * time.Hour, expires.Add(-2 * time.Hour), true},
		{"lead off", contact(gateway.ChannelWhatsApp, lastInbound), conv(StateUnassigned), 0, due, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			effects := DecideWindowClosing(&ContactState{Contact: tc.contact, Open: tc.conv}, tc.conv, tc.lead, Env{Now: tc.now})
			if got := len(effects) > 0; got != tc.warn {
				t.Fatalf("warned = %v, want %v (%v)", got, tc.warn, effects)
			}
			if tc.warn {
				e, ok := effects[0].(EmitTicketEvent)
				if !ok || len(effects) != 1 || e.Type != gateway.TypeTicketWindowClosing || e.Conv != tc.conv {
					t.Fatalf("effects = %#v, want one %s event", effects, gateway.TypeTicketWindowClosing)
				}
			}
		})
	}
}
