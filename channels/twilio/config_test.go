package twilio_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
)

// A full config: defaults fill only what is unset, and the lookups pick
// origins in the documented order.
func TestConfig_WithDefaultsAndLookups(t *testing.T) {
	t.Parallel()
	cfg := twilio.Config{
		AccountSID: testAccountSID,
		AuthToken:  "0123456789abcdef",
		PublicURL:  "https://chat.example.com/",
		Numbers: []twilio.Origin{
			{Channel: gateway.ChannelSMS, Address: "+15551234567", Department: "sales", Rate: 1},
			{Channel: gateway.ChannelWhatsApp, Address: "+14155238886", Department: "support", Rate: 80},
			{Channel: gateway.ChannelSMS, Address: "384387"},
		},
		MessagingServices: []twilio.Origin{
			{Channel: gateway.ChannelSMS, Address: "MG0123456789abcdef0123456789abcdef", Department: "marketing", Service: true},
		},
	}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.PublicURL != "https://chat.example.com" || cfg.APIURL != twilio.DefaultAPIURL || cfg.SendTimeout != twilio.DefaultSendTimeout {
		t.Fatalf("defaults: public URL %q, API URL %q, send timeout %v", cfg.PublicURL, cfg.APIURL, cfg.SendTimeout)
	}
	if set := (twilio.Config{APIURL: "http://127.0.0.1:4010/", SendTimeout: 3 * time.Second}).WithDefaults(); set.APIURL != "http://127.0.0.1:4010" || set.SendTimeout != 3*time.Second {
		t.Fatalf("WithDefaults replaced set values: %+v", set)
	}
	if !cfg.Enabled() {
		t.Error("not Enabled")
	}
	if got := cfg.Channels(); !reflect.DeepEqual(got, []gateway.Channel{gateway.ChannelSMS, gateway.ChannelWhatsApp}) {
		t.Errorf("Channels() = %v", got)
	}
	if got := cfg.Origins(gateway.ChannelSMS); len(got) != 3 || !got[0].Service {
		t.Errorf("Origins(sms) = %+v, want the messaging service first, then 2 numbers", got)
	}
	if d, ok := cfg.Department(gateway.ChannelWhatsApp, "+14155238886"); !ok || d != "support" {
		t.Errorf("Department(whatsapp number) = %q, %v", d, ok)
	}
	if _, ok := cfg.Department(gateway.ChannelSMS, "384387"); ok {
		t.Error("Department of a number without one reported")
	}
	if off := (twilio.Config{}).WithDefaults(); off.Enabled() || off.Validate() != nil {
		t.Errorf("empty config: Enabled %v, Validate %v; want off and valid", off.Enabled(), off.Validate())
	}
}

// Every problem is a *gateway.ConfigError naming the field, so that
// cmd/chatgate can name the variable it read the field from.
func TestConfig_ValidateNamesTheField(t *testing.T) {
	t.Parallel()
	sms := func(addr string) twilio.Origin { return twilio.Origin{Channel: gateway.ChannelSMS, Address: addr} }
	tests := []struct {
		name   string
		change func(*twilio.Config)
		fields []string // the fields named, in order
		want   string   // a substring of the error
	}{
		{"numbers without account", func(c *twilio.Config) { c.AccountSID = "" }, []string{"AccountSID"}, "required"},
		{"account SID malformed", func(c *twilio.Config) { c.AccountSID = "acct-1" }, []string{"AccountSID"}, "AC"},
		{"no credentials", func(c *twilio.Config) { c.AuthToken = "" }, []string{"AuthToken"}, "required"},
		{"API key without secret", func(c *twilio.Config) { c.AuthToken, c.APIKey = "", "SK1" }, []string{"APISecret"}, "required"},
		{"API key malformed", func(c *twilio.Config) { c.APIKey, c.APISecret = "key", "s" }, []string{"APIKey"}, "SK"},
		{"token with symbols", func(c *twilio.Config) { c.AuthToken = "to-ken" }, []string{"AuthToken"}, "letters and digits"},
		{"public URL missing", func(c *twilio.Config) { c.PublicURL = "" }, []string{"PublicURL"}, "required"},
		{"public URL not http", func(c *twilio.Config) { c.PublicURL = "chat.example.com" }, []string{"PublicURL"}, "http"},
		{"public URL with query", func(c *twilio.Config) { c.PublicURL = "https://chat.example.com/?a=1" }, []string{"PublicURL"}, "query"},
		{"API URL", func(c *twilio.Config) { c.APIURL = "ftp://x" }, []string{"APIURL"}, "http"},
		{"negative timeout", func(c *twilio.Config) { c.SendTimeout = -time.Second }, []string{"SendTimeout"}, "positive"},
		{"number not normalized", func(c *twilio.Config) { c.Numbers = []twilio.Origin{sms("+1 555 123 4567")} }, []string{"Numbers"}, "+15551234567"},
		{"number listed twice", func(c *twilio.Config) { c.Numbers = []twilio.Origin{sms("+15551234567"), sms("+15551234567")} }, []string{"Numbers"}, "entry 2"},
		{"service among numbers", func(c *twilio.Config) {
			c.Numbers = []twilio.Origin{{Channel: gateway.ChannelSMS, Address: "MG0123456789abcdef", Service: true}}
		}, []string{"Numbers"}, "service"},
		{"number among services", func(c *twilio.Config) { c.MessagingServices = []twilio.Origin{sms("+15551234567")} }, []string{"MessagingServices"}, "service"},
		{"several problems at once", func(c *twilio.Config) { c.AccountSID, c.PublicURL = "x", "" }, []string{"AccountSID", "PublicURL"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(public)
			tt.change(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			var fields []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *gateway.ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("problem %q is not a *gateway.ConfigError", e)
				}
				fields = append(fields, ce.Field)
			}
			if !reflect.DeepEqual(fields, tt.fields) {
				t.Errorf("fields %v, want %v (error %q)", fields, tt.fields, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
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
