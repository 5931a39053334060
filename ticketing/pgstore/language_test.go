package pgstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
	"github.com/chatgate/chatgate/ticketing"
)

// R34 through the store: the language resolved from the number prefix or
// the channel is stored with its source and picks the texts; a profile
// override is stored, wins, is published as contact_updated and shows on
// the conversation.
func TestR34_ContactLanguageIsStored(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	svc := rulesService(t, pool, newClock(sunday))
	dep := supportDepartment()
	dep.LanguagesByPrefix = map[string]string{"+351": "pt_PT"}
	dep.Texts["pt_PT"] = ticketing.Texts{OutOfHours: "Estamos fechados."}
	if _, err := svc.ApplyDepartments(context.Background(), []ticketing.Department{dep}, false); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const portuguese, brazilian = "+351912345678", "+27821234567"
	handle(t, svc, textRecord(t, portuguese, "p1", "Olá", sunday))
	in := gateway.Inbound{Channel: gateway.ChannelAPI, ProviderID: "b1", From: brazilian, To: businessNumber, Text: "Oi", Language: "pt_BR", ReceivedAt: sunday}
	rec, err := in.Record("test", "chatgate.inbound")
	if err != nil {
		t.Fatal(err)
	}
	handle(t, svc, rec)

	type stored struct{ language, source, override, channel string }
	contact := func(address string) (int64, stored) {
		t.Helper()
		var id int64
		var s stored
		if err := pool.QueryRow(ctx, `SELECT id, language, language_source, language_override, channel_language FROM contacts WHERE address = $1`, address).
			Scan(&id, &s.language, &s.source, &s.override, &s.channel); err != nil {
			t.Fatal(err)
		}
		return id, s
	}
	ptID, pt := contact(portuguese)
	if _, br := contact(brazilian); pt != (stored{"pt_PT", "number_prefix", "", ""}) || br != (stored{"pt_BR", "channel", "", "pt_BR"}) {
		t.Fatalf("stored languages %+v and %+v", pt, br)
	}
	outs := outboundTexts(t, pool)
	if len(outs) < 1 || outs[0].To != portuguese || outs[0].Text != "Estamos fechados." {
		t.Fatalf("the Portuguese contact got %+v", outs)
	}

	view, err := svc.SetContactLanguage(ctx, ticketing.ContactLanguage{ContactID: ptID, Language: "en-gb", Actor: ticketing.Actor{AgentID: "ann", Role: ticketing.ActorDesk}})
	if err != nil {
		t.Fatal(err)
	}
	if view.Language != "en_GB" || view.LanguageSource != "profile" || view.ID != ptID {
		t.Fatalf("answer %+v", view)
	}
	if _, s := contact(portuguese); s != (stored{"en_GB", "profile", "en_GB", ""}) {
		t.Fatalf("after the override %+v", s)
	}
	var conv int64
	if err := pool.QueryRow(ctx, `SELECT id FROM conversations WHERE contact_id = $1`, ptID).Scan(&conv); err != nil {
		t.Fatal(err)
	}
	d, err := svc.Conversation(ctx, ticketing.Scope{All: true}, conv)
	if err != nil {
		t.Fatal(err)
	}
	last := d.Events[len(d.Events)-1]
	if d.Conversation.Contact.Language != "en_GB" || d.Conversation.Contact.LanguageSource != "profile" ||
		last.Type != gateway.TypeTicketContactUpdated || last.Reason != ticketing.ReasonLanguage || last.Actor != "ann" {
		t.Fatalf("conversation %+v, last event %+v", d.Conversation.Contact, last)
	}

	if _, err := svc.SetContactLanguage(ctx, ticketing.ContactLanguage{ContactID: ptID + 1000, Language: "en"}); !errors.Is(err, ticketing.ErrContactNotFound) {
		t.Fatalf("unknown contact: %v", err)
	}
	if _, err := svc.SetContactLanguage(ctx, ticketing.ContactLanguage{ContactID: ptID, Language: "portuguese"}); !errors.Is(err, ticketing.ErrInvalidLanguage) {
		t.Fatalf("bad language: %v", err)
	}
}
