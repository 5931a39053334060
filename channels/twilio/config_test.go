package twilio_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	cfg, err := twilio.ConfigFromEnv(env(map[string]string{
		"TWILIO_ACCOUNT_SID":                 testAccountSID,
		"TWILIO_AUTH_TOKEN":                  "0123456789abcdef\r",
		"CHATGATE_PUBLIC_URL":                "https://chat.example.com/",
		"CHATGATE_TWILIO_TRUST_FORWARDED":    "true",
		"CHATGATE_TWILIO_NUMBERS":            " sms:+1 (555) 123-4567=sales@1, whatsapp:+14155238886=support@80 ,sms:384387,sms:ACME,",
		"CHATGATE_TWILIO_MESSAGING_SERVICES": "sms:MG0123456789abcdef0123456789abcdef=marketing",
		"CHATGATE_TWILIO_API_URL":            "http://127.0.0.1:4010",
		"CHATGATE_TWILIO_SEND_TIMEOUT":       "3s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := twilio.Config{
		AccountSID:     testAccountSID,
		AuthToken:      "0123456789abcdef",
		PublicURL:      "https://chat.example.com",
		TrustForwarded: true,
		Numbers: []twilio.Origin{
			{Channel: gateway.ChannelSMS, Address: "+15551234567", Department: "sales", Rate: 1},
			{Channel: gateway.ChannelWhatsApp, Address: "+14155238886", Department: "support", Rate: 80},
			{Channel: gateway.ChannelSMS, Address: "384387"},
			{Channel: gateway.ChannelSMS, Address: "ACME"},
		},
		MessagingServices: []twilio.Origin{
			{Channel: gateway.ChannelSMS, Address: "MG0123456789abcdef0123456789abcdef", Department: "marketing", Service: true},
		},
		APIURL:      "http://127.0.0.1:4010",
		SendTimeout: 3 * time.Second,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config\n got %+v\nwant %+v", cfg, want)
	}
	if !cfg.Enabled() {
		t.Error("not Enabled")
	}
	if got := cfg.Channels(); !reflect.DeepEqual(got, []gateway.Channel{gateway.ChannelSMS, gateway.ChannelWhatsApp}) {
		t.Errorf("Channels() = %v", got)
	}
	if got := cfg.Origins(gateway.ChannelSMS); len(got) != 4 || !got[0].Service {
		t.Errorf("Origins(sms) = %+v, want the messaging service first, then 3 numbers", got)
	}
	if d, ok := cfg.Department(gateway.ChannelWhatsApp, "+14155238886"); !ok || d != "support" {
		t.Errorf("Department(whatsapp number) = %q, %v", d, ok)
	}
	if _, ok := cfg.Department(gateway.ChannelSMS, "384387"); ok {
		t.Error("Department of a number without one reported")
	}
}

func TestConfigFromEnv_Defaults(t *testing.T) {
	t.Parallel()
	cfg, err := twilio.ConfigFromEnv(env(map[string]string{
		"TWILIO_ACCOUNT_SID": testAccountSID,
		"TWILIO_API_KEY":     "SK0123456789abcdef0123456789abcdef",
		"TWILIO_API_SECRET":  "secret",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PublicURL != twilio.DefaultPublicURL || cfg.APIURL != twilio.DefaultAPIURL || cfg.SendTimeout != twilio.DefaultSendTimeout || cfg.TrustForwarded {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

func TestConfigFromEnv_Disabled(t *testing.T) {
	t.Parallel()
	cfg, err := twilio.ConfigFromEnv(env(map[string]string{"CHATGATE_PUBLIC_URL": "https://chat.example.com"}))
	if err != nil || cfg.Enabled() {
		t.Errorf("no account SID: Enabled %v, error %v; want off and no error", cfg.Enabled(), err)
	}
}

// Every problem is refused at start with an error naming the variable.
func TestConfigFromEnv_Errors(t *testing.T) {
	t.Parallel()
	base := map[string]string{"TWILIO_ACCOUNT_SID": testAccountSID, "TWILIO_AUTH_TOKEN": "token"}
	tests := []struct {
		name string
		set  map[string]string
		want []string // substrings of the error
	}{
		{"numbers without account", map[string]string{"TWILIO_ACCOUNT_SID": "", "CHATGATE_TWILIO_NUMBERS": "sms:+15551234567"},
			[]string{"TWILIO_ACCOUNT_SID", "required"}},
		{"account SID malformed", map[string]string{"TWILIO_ACCOUNT_SID": "acct-1"}, []string{"TWILIO_ACCOUNT_SID"}},
		{"no credentials", map[string]string{"TWILIO_AUTH_TOKEN": ""}, []string{"TWILIO_AUTH_TOKEN", "required"}},
		{"API key without secret", map[string]string{"TWILIO_AUTH_TOKEN": "", "TWILIO_API_KEY": "SK1"}, []string{"TWILIO_API_SECRET"}},
		{"API key malformed", map[string]string{"TWILIO_API_KEY": "key", "TWILIO_API_SECRET": "s"}, []string{"TWILIO_API_KEY"}},
		{"token with symbols", map[string]string{"TWILIO_AUTH_TOKEN": "to-ken"}, []string{"TWILIO_AUTH_TOKEN"}},
		{"public URL not http", map[string]string{"CHATGATE_PUBLIC_URL": "chat.example.com"}, []string{"CHATGATE_PUBLIC_URL"}},
		{"public URL with query", map[string]string{"CHATGATE_PUBLIC_URL": "https://chat.example.com/?a=1"}, []string{"CHATGATE_PUBLIC_URL"}},
		{"API URL", map[string]string{"CHATGATE_TWILIO_API_URL": "ftp://x"}, []string{"CHATGATE_TWILIO_API_URL"}},
		{"trust not a boolean", map[string]string{"CHATGATE_TWILIO_TRUST_FORWARDED": "sometimes"}, []string{"CHATGATE_TWILIO_TRUST_FORWARDED"}},
		{"timeout", map[string]string{"CHATGATE_TWILIO_SEND_TIMEOUT": "10"}, []string{"CHATGATE_TWILIO_SEND_TIMEOUT"}},
		{"negative timeout", map[string]string{"CHATGATE_TWILIO_SEND_TIMEOUT": "-1s"}, []string{"CHATGATE_TWILIO_SEND_TIMEOUT"}},
		{"number without channel", map[string]string{"CHATGATE_TWILIO_NUMBERS": "+15551234567"}, []string{"CHATGATE_TWILIO_NUMBERS", "entry 1", "channel:address"}},
		{"unknown channel", map[string]string{"CHATGATE_TWILIO_NUMBERS": "sms:+15551234567,telegram:+15551234567"}, []string{"CHATGATE_TWILIO_NUMBERS", "entry 2", "telegram"}},
		{"not a number", map[string]string{"CHATGATE_TWILIO_NUMBERS": "sms:+1555-CALL-NOW"}, []string{"CHATGATE_TWILIO_NUMBERS", "E.164"}},
		{"whatsapp short code", map[string]string{"CHATGATE_TWILIO_NUMBERS": "whatsapp:384387"}, []string{"CHATGATE_TWILIO_NUMBERS", "WhatsApp"}},
		{"bad rate", map[string]string{"CHATGATE_TWILIO_NUMBERS": "sms:+15551234567@fast"}, []string{"CHATGATE_TWILIO_NUMBERS", "rate"}},
		{"zero rate", map[string]string{"CHATGATE_TWILIO_NUMBERS": "sms:+15551234567@0"}, []string{"CHATGATE_TWILIO_NUMBERS", "rate"}},
		{"empty department", map[string]string{"CHATGATE_TWILIO_NUMBERS": "sms:+15551234567=@1"}, []string{"CHATGATE_TWILIO_NUMBERS", "department"}},
		{"listed twice", map[string]string{"CHATGATE_TWILIO_NUMBERS": "sms:+15551234567,sms:+1 555 123 4567"}, []string{"CHATGATE_TWILIO_NUMBERS", "entry 2", "twice"}},
		{"service SID", map[string]string{"CHATGATE_TWILIO_MESSAGING_SERVICES": "sms:PN123"}, []string{"CHATGATE_TWILIO_MESSAGING_SERVICES", "MG"}},
		{"several problems at once", map[string]string{"CHATGATE_TWILIO_TRUST_FORWARDED": "maybe", "CHATGATE_TWILIO_NUMBERS": "x"},
			[]string{"CHATGATE_TWILIO_TRUST_FORWARDED", "CHATGATE_TWILIO_NUMBERS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := map[string]string{}
			for k, v := range base {
				m[k] = v
			}
			for k, v := range tt.set {
				m[k] = v
			}
			_, err := twilio.ConfigFromEnv(env(m))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// The titles of the error codes the package knows are Twilio's catalogue's,
// as kept in testdata.
func TestReason(t *testing.T) {
	t.Parallel()
	if got := twilio.Reason(21610); !strings.Contains(got, "opted out") {
		t.Errorf("Reason(21610) = %q", got)
	}
	if got := twilio.Reason(21602); got != "Message body is required" {
		t.Errorf("Reason(21602) = %q, want the catalogue title", got)
	}
	if got := twilio.Reason(1); got != "" {
		t.Errorf("Reason(1) = %q, want empty", got)
	}
}

func TestConfig_LogValueHidesSecrets(t *testing.T) {
	t.Parallel()
	cfg := testConfig(public)
	cfg.AuthToken, cfg.APIKey, cfg.APISecret = "tokenSecret1", "SK1", "hunter2secret"
	s := cfg.LogValue().String()
	if strings.Contains(s, "tokenSecret1") || strings.Contains(s, "hunter2secret") || !strings.Contains(s, testAccountSID) {
		t.Errorf("LogValue %s", s)
	}
}
