package cloudapi_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatgate/chatgate/channels/cloudapi"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
)

// FuzzParseWebhook: whatever the body, the parser neither panics nor
// accepts what a later stage refuses. A refusal is a 4xx *httpapi.Error;
// an accepted webhook gives records that validate, encode, and hold no
// text PostgreSQL would refuse. The seed corpus (testdata/fuzz) holds the
// recorded webhooks and hand-made ones of every kind.
//
//	go test -run '^$' -fuzz FuzzParseWebhook ./channels/cloudapi/
func FuzzParseWebhook(f *testing.F) {
	for _, c := range fixtures(f).Incoming {
		f.Add([]byte(c.RawBody))
	}
	f.Add([]byte(webhook(messageValue(`{"from":"27821234567","id":"wamid.F","timestamp":"1700000000","type":"text","text":{"body":"a\u0000b"}}`))))
	f.Add([]byte(webhook(messageValue(`{"from":"27821234567","id":"wamid.F","timestamp":"1700000000","type":"text","text":{"body":"\ud800"}}`))))
	f.Add([]byte(templateUpdate("APPROVED", "NONE")))
	cfg := testConfig("http://127.0.0.1:1").WithDefaults()
	f.Fuzz(func(t *testing.T, body []byte) {
		batch, err := cloudapi.ParseWebhook(body, cfg)
		if err != nil {
			var he *httpapi.Error
			if !errors.As(err, &he) || he.Status < 400 || he.Status > 499 {
				t.Fatalf("refusal %v is not a 4xx", err)
			}
			return
		}
		for _, in := range batch.Inbound {
			if err := in.Validate(); err != nil {
				t.Fatalf("accepted an invalid inbound %+v: %v", in, err)
			}
			if _, err := in.Record(cloudapi.EventSource, "t"); err != nil {
				t.Fatalf("accepted an inbound that does not encode: %v", err)
			}
			b, _ := json.Marshal(in)
			if !utf8.Valid(b) || strings.Contains(string(b), `\u0000`) {
				t.Fatalf("record holds what PostgreSQL refuses: %s", b)
			}
		}
		for _, st := range batch.Statuses {
			if err := st.Validate(); err != nil {
				t.Fatalf("accepted an invalid status %+v: %v", st, err)
			}
			if _, err := st.Record(cloudapi.EventSource, "t"); err != nil {
				t.Fatalf("accepted a status that does not encode: %v", err)
			}
			b, _ := json.Marshal(st)
			if strings.Contains(string(b), `\u0000`) {
				t.Fatalf("status holds NUL: %s", b)
			}
		}
		for _, u := range batch.TemplateUpdates {
			if u.Name == "" || u.Language == "" || u.Event == "" {
				t.Fatalf("accepted an incomplete template update %+v", u)
			}
		}
		seen := map[string]bool{}
		for _, in := range batch.Inbound {
			if seen[in.ProviderID] {
				t.Fatalf("message %s twice in one batch", in.ProviderID)
			}
			seen[in.ProviderID] = true
			if in.Channel != gateway.ChannelWhatsApp {
				t.Fatalf("channel %q", in.Channel)
			}
		}
	})
}
