package cloudapi_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatgate/chatgate/channels/cloudapi"
	"github.com/chatgate/chatgate/gateway/testkit"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg := cloudapi.Config{Numbers: []cloudapi.Number{{PhoneNumberID: " 106540352242922 ", Address: "+250 788-123 200"}}}.WithDefaults()
	want := cloudapi.Config{
		GraphBaseURL: cloudapi.DefaultGraphBaseURL, GraphVersion: cloudapi.DefaultGraphVersion,
		PairInterval: 6 * time.Second, PairBurst: 45, SendTimeout: cloudapi.DefaultSendTimeout, MaxMediaBytes: cloudapi.DefaultMaxMediaBytes,
		Numbers: []cloudapi.Number{{PhoneNumberID: "106540352242922", Address: "+250788123200", MessagesPerSecond: 80}},
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Fatalf("WithDefaults (-want +got):\n%s", diff)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if n, ok := cfg.Number("250788123200"); !ok || n.PhoneNumberID != "106540352242922" {
		t.Errorf("Number by address without + = %+v, %v", n, ok)
	}
	if n, ok := cfg.Number("106540352242922"); !ok || n.Address != "+250788123200" {
		t.Errorf("Number by id = %+v, %v", n, ok)
	}
	if got := testConfig("http://x").WithDefaults().WABAIDs(); !reflect.DeepEqual(got, []string{"8856996819413533"}) {
		t.Errorf("WABAIDs = %q", got)
	}
}

// Validate names every field at fault.
func TestConfigValidateNamesTheField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(*cloudapi.Config)
		field string
	}{
		{"base URL", func(c *cloudapi.Config) { c.GraphBaseURL = "graph.facebook.com" }, "GraphBaseURL"},
		{"base URL with query", func(c *cloudapi.Config) { c.GraphBaseURL = "https://graph.facebook.com?x=1" }, "GraphBaseURL"},
		{"version", func(c *cloudapi.Config) { c.GraphVersion = "24.0" }, "GraphVersion"},
		{"token with a line break", func(c *cloudapi.Config) { c.AccessToken = "EAA\n" }, "AccessToken"},
		{"secret with spaces", func(c *cloudapi.Config) { c.AppSecret = " s " }, "AppSecret"},
		{"negative pair burst", func(c *cloudapi.Config) { c.PairBurst = -1 }, "PairBurst"},
		{"no phone number id", func(c *cloudapi.Config) { c.Numbers[1].PhoneNumberID = "" }, "Numbers[1].PhoneNumberID"},
		{"phone number id not digits", func(c *cloudapi.Config) { c.Numbers[0].PhoneNumberID = "abc" }, "Numbers[0].PhoneNumberID"},
		{"duplicate phone number id", func(c *cloudapi.Config) { c.Numbers[1].PhoneNumberID = testNumberID }, "Numbers[1].PhoneNumberID"},
		{"address", func(c *cloudapi.Config) { c.Numbers[0].Address = "+1-800-FLOWERS" }, "Numbers[0].Address"},
		{"duplicate address", func(c *cloudapi.Config) { c.Numbers[1].Address = testAddress }, "Numbers[1].Address"},
		{"WABA id", func(c *cloudapi.Config) { c.Numbers[0].WABAID = "waba" }, "Numbers[0].WABAID"},
		{"negative throughput", func(c *cloudapi.Config) { c.Numbers[1].MessagesPerSecond = -5 }, "Numbers[1].MessagesPerSecond"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("http://127.0.0.1:1")
			cfg.Numbers = append([]cloudapi.Number(nil), cfg.Numbers...)
			tc.edit(&cfg)
			err := cfg.WithDefaults().Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field+":") {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.field)
			}
		})
	}
	if _, err := cloudapi.NewWebhooks(cloudapi.Config{VerifyToken: "v"}, cloudapi.WebhookOptions{Publisher: &testkit.Publisher{}}); err == nil || !strings.Contains(err.Error(), "AppSecret") {
		t.Errorf("NewWebhooks without AppSecret: %v", err)
	}
	if _, err := cloudapi.NewWebhooks(cloudapi.Config{AppSecret: "s"}, cloudapi.WebhookOptions{Publisher: &testkit.Publisher{}}); err == nil || !strings.Contains(err.Error(), "VerifyToken") {
		t.Errorf("NewWebhooks without VerifyToken: %v", err)
	}
}
