package main

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	apichannel "github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
)

// The channels' sections are read here, and only here: these tests were the
// channel packages' own while they read the environment themselves.

// Every field of a channel's config that comes from the environment has
// its variable, so every problem Validate reports is named for the
// operator: a field added without one fails here.
func TestChannelVariablesNameEveryField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		config  any
		vars    variables
		notRead []string // fields set in code, not from the environment
	}{
		{twilio.Config{}, twilioVariables, nil},
		{apichannel.SenderConfig{}, apiCallbackVariables, []string{"Client", "Now"}},
	} {
		typ := reflect.TypeOf(tc.config)
		t.Run(typ.String(), func(t *testing.T) {
			t.Parallel()
			for f := range typ.Fields() {
				_, named := tc.vars[f.Name]
				if named == slices.Contains(tc.notRead, f.Name) {
					t.Errorf("field %s: named %v, want a variable for every field read from the environment", f.Name, named)
				}
			}
			for field := range tc.vars {
				if _, ok := typ.FieldByName(field); !ok {
					t.Errorf("%s names the variable of %s, which %s does not have", tc.vars[field], field, typ)
				}
			}
		})
	}
}

// variables.name turns every field problem into a variable problem, also
// inside joined and wrapped errors, and leaves the others as they are.
func TestVariablesNameTheirFields(t *testing.T) {
	t.Parallel()
	vars := variables{"AccountSID": "TWILIO_ACCOUNT_SID", "PublicURL": "CHATGATE_PUBLIC_URL"}
	err := vars.name(errors.Join(
		gateway.ConfigErrorf("AccountSID", "want AC followed by letters and digits"),
		errors.Join(gateway.ConfigErrorf("PublicURL", "required")),
		gateway.ConfigErrorf("Unknown", "kept"),
		errors.New("no field"),
	))
	want := "TWILIO_ACCOUNT_SID: want AC followed by letters and digits\nCHATGATE_PUBLIC_URL: required\nUnknown: kept\nno field"
	if err == nil || err.Error() != want {
		t.Fatalf("named error %q, want %q", err, want)
	}
	if !errors.Is(vars.name(gateway.ConfigErrorf("AccountSID", "%w", errSentinel)), errSentinel) {
		t.Fatal("naming lost the wrapped error")
	}
	if vars.name(nil) != nil {
		t.Fatal("nil named non-nil")
	}
}

var errSentinel = errors.New("sentinel")

// twilioFromEnv reads the Twilio channel from env as `chatgate run` does:
// the core settings (CHATGATE_PUBLIC_URL among them), then the channel's.
func twilioFromEnv(m map[string]string) (twilio.Config, error) {
	c, err := loadConfig(env(m))
	if err != nil {
		return twilio.Config{}, err
	}
	return twilioSettings(c)
}

func TestTwilioSettings(t *testing.T) {
	t.Parallel()
	cfg, err := twilioFromEnv(map[string]string{
		"TWILIO_ACCOUNT_SID":                 twAccount,
		"TWILIO_AUTH_TOKEN":                  "0123456789abcdef\r",
		"CHATGATE_PUBLIC_URL":                "https://chat.example.com/",
		"CHATGATE_TWILIO_TRUST_FORWARDED":    "true",
		"CHATGATE_TWILIO_NUMBERS":            " sms:+1 (555) 123-4567=sales@1, whatsapp:+14155238886=support@80 ,sms:384387,sms:ACME,",
		"CHATGATE_TWILIO_MESSAGING_SERVICES": "sms:MG0123456789abcdef0123456789abcdef=marketing",
		"CHATGATE_TWILIO_API_URL":            "http://127.0.0.1:4010",
		"CHATGATE_TWILIO_SEND_TIMEOUT":       "3s",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := twilio.Config{
		AccountSID:     twAccount,
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

func TestTwilioSettings_Defaults(t *testing.T) {
	t.Parallel()
	cfg, err := twilioFromEnv(map[string]string{
		"TWILIO_ACCOUNT_SID": twAccount,
		"TWILIO_API_KEY":     "SK0123456789abcdef0123456789abcdef",
		"TWILIO_API_SECRET":  "secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PublicURL != defaultConfig().PublicURL || cfg.APIURL != twilio.DefaultAPIURL || cfg.SendTimeout != twilio.DefaultSendTimeout || cfg.TrustForwarded {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

func TestTwilioSettings_Disabled(t *testing.T) {
	t.Parallel()
	cfg, err := twilioFromEnv(map[string]string{"CHATGATE_PUBLIC_URL": "https://chat.example.com"})
	if err != nil || cfg.Enabled() {
		t.Errorf("no account SID: Enabled %v, error %v; want off and no error", cfg.Enabled(), err)
	}
}

// Every problem is refused at start with an error naming the variable.
func TestTwilioSettings_Errors(t *testing.T) {
	t.Parallel()
	base := map[string]string{"TWILIO_ACCOUNT_SID": twAccount, "TWILIO_AUTH_TOKEN": "token"}
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
			_, err := twilioFromEnv((m))
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

func TestAPICallbackSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		env         map[string]string
		wantEnabled bool
		wantURL     string
		wantTimeout time.Duration
		wantErr     []string // each must appear in the error
	}{
		{name: "nothing set: off", env: map[string]string{}},
		{name: "empty URL: off", env: map[string]string{envAPICallbackURL: ""}},
		{name: "secret alone: off", env: map[string]string{envAPICallbackSecret: testCallbackSecret}},
		{
			name:        "https with secret",
			env:         map[string]string{envAPICallbackURL: "https://hooks.example.com/chatgate?team=7", envAPICallbackSecret: testCallbackSecret},
			wantEnabled: true, wantURL: "https://hooks.example.com/chatgate?team=7", wantTimeout: apichannel.DefaultCallbackTimeout,
		},
		{
			name:        "http, spaces trimmed, timeout set",
			env:         map[string]string{envAPICallbackURL: " http://localhost:9000/in\r\n", envAPICallbackSecret: testCallbackSecret, envAPICallbackTimeout: "3s"},
			wantEnabled: true, wantURL: "http://localhost:9000/in", wantTimeout: 3 * time.Second,
		},
		{name: "secret missing", env: map[string]string{envAPICallbackURL: "https://h.example"}, wantErr: []string{envAPICallbackSecret, "required"}},
		{name: "secret too short", env: map[string]string{envAPICallbackURL: "https://h.example", envAPICallbackSecret: "short"}, wantErr: []string{envAPICallbackSecret, "16"}},
		{name: "ftp", env: map[string]string{envAPICallbackURL: "ftp://h.example/x", envAPICallbackSecret: testCallbackSecret}, wantErr: []string{envAPICallbackURL, "http or https"}},
		{name: "no scheme", env: map[string]string{envAPICallbackURL: "h.example/x", envAPICallbackSecret: testCallbackSecret}, wantErr: []string{envAPICallbackURL}},
		{name: "no host", env: map[string]string{envAPICallbackURL: "https:///x", envAPICallbackSecret: testCallbackSecret}, wantErr: []string{envAPICallbackURL, "host"}},
		{name: "unparsable", env: map[string]string{envAPICallbackURL: "http://[::1/x?token=s3cr3t", envAPICallbackSecret: testCallbackSecret}, wantErr: []string{envAPICallbackURL}},
		{name: "both wrong", env: map[string]string{envAPICallbackURL: "mailto:a@b.example"}, wantErr: []string{envAPICallbackURL, envAPICallbackSecret}},
		{name: "bad timeout", env: map[string]string{envAPICallbackURL: "https://h.example", envAPICallbackSecret: testCallbackSecret, envAPICallbackTimeout: "10"}, wantErr: []string{envAPICallbackTimeout}},
		{name: "negative timeout", env: map[string]string{envAPICallbackURL: "https://h.example", envAPICallbackSecret: testCallbackSecret, envAPICallbackTimeout: "-1s"}, wantErr: []string{envAPICallbackTimeout}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := defaultConfig()
			c.lookupEnv = env(tt.env)
			cfg, err := apiCallbackSettings(c)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, want one naming %v", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				if strings.Contains(err.Error(), testCallbackSecret) || strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("error %q repeats a secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("apiCallbackSettings: %v", err)
			}
			if cfg.Enabled() != tt.wantEnabled || cfg.CallbackURL != tt.wantURL {
				t.Errorf("config = enabled %v, URL %q; want %v, %q", cfg.Enabled(), cfg.CallbackURL, tt.wantEnabled, tt.wantURL)
			}
			if !tt.wantEnabled {
				if _, err := apichannel.NewSender(cfg); err == nil || !strings.Contains(apiCallbackVariables.name(err).Error(), envAPICallbackURL) {
					t.Errorf("NewSender on a disabled config = %v, want an error naming %s", err, envAPICallbackURL)
				}
				return
			}
			if cfg.Timeout != tt.wantTimeout || cfg.Secret != testCallbackSecret || cfg.Client == nil || cfg.Now == nil {
				t.Errorf("config = %+v, want timeout %s, the secret and defaults", cfg, tt.wantTimeout)
			}
			if _, err := apichannel.NewSender(cfg); err != nil {
				t.Errorf("NewSender: %v", err)
			}
		})
	}
}

func TestWhatsAppSettings(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.DataDir = "/data"
	cfg.lookupEnv = env(map[string]string{"CHATGATE_WHATSAPP_RATE": "0.5", "CHATGATE_WHATSAPP_RECIPIENT_GAP": "3s", "CHATGATE_WHATSAPP_GROUPS": "true"})
	wc, err := whatsAppSettings(cfg)
	if err != nil || wc.rate != 0.5 || wc.recipientGap != 3*time.Second || !wc.groups || wc.mediaDir != "/data/media" {
		t.Fatalf("settings %+v, %v", wc, err)
	}
	cfg.lookupEnv = env(map[string]string{"CHATGATE_WHATSAPP_RATE": "fast", "CHATGATE_WHATSAPP_RECIPIENT_GAP": "soon", "CHATGATE_WHATSAPP_GROUPS": "maybe"})
	_, err = whatsAppSettings(cfg)
	for _, name := range []string{"CHATGATE_WHATSAPP_RATE", "CHATGATE_WHATSAPP_RECIPIENT_GAP", "CHATGATE_WHATSAPP_GROUPS"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}
