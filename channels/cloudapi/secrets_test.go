package cloudapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chatgate/chatgate/channels/cloudapi"
	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/testkit"
)

func TestSenderConfigRequired(t *testing.T) {
	t.Parallel()
	if _, err := cloudapi.NewClient(cloudapi.Config{}, cloudapi.ClientOptions{}); err == nil || !strings.Contains(err.Error(), "AccessToken") {
		t.Errorf("NewClient without AccessToken: %v", err)
	}
	if _, err := cloudapi.NewProvider(cloudapi.Config{AccessToken: "t"}, cloudapi.ProviderOptions{}); err == nil || !strings.Contains(err.Error(), "Numbers") {
		t.Errorf("NewProvider without numbers: %v", err)
	}
}

// The app secret, verify token and access token appear in no log line and
// no error, whatever fails: a config printed or logged, forged webhooks,
// wrong handshakes, refused and failed sends, state changes.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	secrets := []string{testAppSecret, testVerifyToken, testAccessToken}
	sink := testkit.NewLogs()
	log := sink.Logger()
	var texts []string
	cfg := testConfig("http://127.0.0.1:1")

	log.Info("cloudapi configured", "config", cfg)
	texts = append(texts, fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg))
	bad := cfg
	bad.AccessToken = testAccessToken + "\n"
	texts = append(texts, bad.WithDefaults().Validate().Error())

	w := newWebhooks(t, &testkit.Publisher{}, func(o *cloudapi.WebhookOptions) { o.Logger = log })
	body := webhook(messageValue(`{"from":"27821234567","id":"wamid.X","timestamp":"1700000000","type":"text","text":{"body":"x"}}`))
	forged := httptest.NewRequest(http.MethodPost, cloudapi.WebhookPath, strings.NewReader(body))
	forged.Header.Set("Content-Type", "application/json")
	forged.Header.Set(cloudapi.HeaderSignature, cloudapi.Sign("guess", []byte(body)))
	for _, req := range []*http.Request{
		forged,
		post(`{"object":"page"}`),
		httptest.NewRequest(http.MethodGet, cloudapi.WebhookPath+"?"+url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerifyToken + "x"}, "hub.challenge": {"1"}}.Encode(), nil),
	} {
		rec := serve(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				w.VerifyHandler().ServeHTTP(rw, r)
				return
			}
			w.EventsHandler().ServeHTTP(rw, r)
		}), req)
		texts = append(texts, rec.Body.String())
	}

	g := newGraph(t)
	g.Answer = func(rw http.ResponseWriter, _ *http.Request, _ []byte) {
		rw.WriteHeader(401)
		// Meta's own messages never echo the token, but a stand-in may:
		// nothing of the answer's text about it must reach a log.
		_, _ = io.WriteString(rw, `{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190,"fbtrace_id":"A"}}`)
	}
	p := newProvider(t, g, func(_ *cloudapi.Config, o *cloudapi.ProviderOptions) {
		o.Logger, o.Publisher, o.Topics = log, &testkit.Publisher{}, topics
	})
	_, err := p.Send(t.Context(), gateway.Outbound{RequestID: "r", Channel: gateway.ChannelWhatsApp, To: "+27821234567", Text: "x"})
	texts = append(texts, err.Error())
	g.Close()
	_, err = p.Send(t.Context(), gateway.Outbound{RequestID: "r2", Channel: gateway.ChannelWhatsApp, To: "+27821234567", Text: "x"})
	texts = append(texts, err.Error())
	c := newClient(t, g, nil)
	_, err = c.DownloadMedia(t.Context(), "1001")
	texts = append(texts, err.Error())

	logs := sink.String()
	if !strings.Contains(logs, "signature refused") || !strings.Contains(logs, "token_invalid") || !strings.Contains(logs, "[redacted]") {
		t.Fatalf("the failures were not logged; logs:\n%s", logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a secret is in the logs:\n%s", logs)
		}
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Errorf("a secret is in %q", txt)
			}
		}
	}
	if strings.Contains(logs, "27821234567") {
		t.Errorf("a contact's number is in the logs:\n%s", logs)
	}
}
