package cloudapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// Defaults of Config.
const (
	// DefaultGraphBaseURL is Meta's Graph API.
	DefaultGraphBaseURL = "https://graph.facebook.com"
	// DefaultGraphVersion is the Graph API version chatgate is tested
	// against. Meta keeps a version for about two years; set
	// Config.GraphVersion to move on without a new chatgate.
	DefaultGraphVersion = "v24.0"
	// DefaultMessagesPerSecond is a business number's throughput on the
	// Cloud API unless Meta raised it (to up to 1,000 messages/s).
	DefaultMessagesPerSecond = 80
	// DefaultPairInterval and DefaultPairBurst are Meta's pair rate limit:
	// one message every 6 seconds from one business number to one user,
	// with bursts of up to 45 that are paid back at that rate. Past it Meta
	// answers 131056.
	DefaultPairInterval = 6 * time.Second
	DefaultPairBurst    = 45
	// DefaultSendTimeout bounds one Graph API call.
	DefaultSendTimeout = 15 * time.Second
	// DefaultMaxMediaBytes bounds a media download: Meta's largest
	// attachment (a document) is 100 MB.
	DefaultMaxMediaBytes int64 = 100 << 20
)

// Config configures the WhatsApp Cloud API channel. Fill it in code (the
// wiring in cmd/chatgate reads it from the environment), then call
// WithDefaults and Validate; New… functions do both.
//
// The three secrets (AppSecret, VerifyToken, AccessToken) never appear in
// logs or errors: Config's String, GoString and LogValue print them as
// "[redacted]".
type Config struct {
	// AppSecret is the Meta app's secret (App settings → Basic). Meta signs
	// every webhook with it (X-Hub-Signature-256); required for webhooks.
	AppSecret string
	// VerifyToken is the string typed into the app's webhook settings; Meta
	// sends it back in the GET handshake. Required for webhooks.
	VerifyToken string
	// AccessToken authenticates Graph API calls: a system user's token with
	// whatsapp_business_messaging (sends, media) and
	// whatsapp_business_management (templates). Required for sends, media
	// and template sync.
	AccessToken string
	// GraphBaseURL is the Graph API's base URL, without the version.
	// Default DefaultGraphBaseURL; point it at a local stand-in in tests.
	GraphBaseURL string
	// GraphVersion is the Graph API version, "v" and a number
	// ("v24.0"). Default DefaultGraphVersion.
	GraphVersion string
	// Numbers are the business phone numbers served by the Cloud API. The
	// first is the default sender.
	Numbers []Number
	// NoLinkPreview stops WhatsApp from showing a preview of the first
	// link of a text message. By default a text with an http(s) link is
	// sent with preview_url true, any other text with false.
	NoLinkPreview bool
	// PairInterval and PairBurst are the pair rate limit chatgate keeps to
	// per business number and contact. Defaults DefaultPairInterval and
	// DefaultPairBurst.
	PairInterval time.Duration
	PairBurst    int
	// SendTimeout bounds one Graph API call. Default DefaultSendTimeout.
	SendTimeout time.Duration
	// MaxMediaBytes bounds a media download. Default DefaultMaxMediaBytes.
	MaxMediaBytes int64
}

// Number is one business phone number on the Cloud API.
type Number struct {
	// PhoneNumberID is the Graph API id of the number (WhatsApp Manager →
	// API setup), digits. Sends and media uploads go to it. Required.
	PhoneNumberID string
	// Address is the number in E.164 ("+27600000000"): the To of inbound
	// records (what routing by number matches) and the From outbound
	// records name. Empty: the display number of Meta's webhooks.
	Address string
	// WABAID is the WhatsApp Business Account the number belongs to,
	// digits; template sync reads the templates of every WABA named.
	WABAID string
	// Department receives the conversations of contacts writing to this
	// number (R3); empty means the routing rules decide.
	Department string
	// MessagesPerSecond is the number's throughput. 0 means
	// DefaultMessagesPerSecond.
	MessagesPerSecond float64
}

// WithDefaults returns cfg with every zero field that has a default filled
// in, and addresses normalised.
func (cfg Config) WithDefaults() Config {
	if cfg.GraphBaseURL == "" {
		cfg.GraphBaseURL = DefaultGraphBaseURL
	}
	cfg.GraphBaseURL = strings.TrimRight(cfg.GraphBaseURL, "/")
	if cfg.GraphVersion == "" {
		cfg.GraphVersion = DefaultGraphVersion
	}
	if cfg.PairInterval == 0 {
		cfg.PairInterval = DefaultPairInterval
	}
	if cfg.PairBurst == 0 {
		cfg.PairBurst = DefaultPairBurst
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.MaxMediaBytes == 0 {
		cfg.MaxMediaBytes = DefaultMaxMediaBytes
	}
	nums := make([]Number, len(cfg.Numbers))
	for i, n := range cfg.Numbers {
		n.PhoneNumberID = strings.TrimSpace(n.PhoneNumberID)
		n.WABAID = strings.TrimSpace(n.WABAID)
		if a, err := normalizeBusinessNumber(n.Address); err == nil {
			n.Address = a
		}
		if n.MessagesPerSecond == 0 {
			n.MessagesPerSecond = DefaultMessagesPerSecond
		}
		nums[i] = n
	}
	cfg.Numbers = nums
	return cfg
}

// Validate checks cfg (after WithDefaults) and returns every problem, each
// naming its field ("Numbers[1].PhoneNumberID: …"). It does not ask for
// the secrets, which only some roles need: NewWebhooks requires AppSecret
// and VerifyToken, NewClient AccessToken.
func (cfg Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("cloudapi config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	for _, f := range []struct{ field, v string }{{"AppSecret", cfg.AppSecret}, {"VerifyToken", cfg.VerifyToken}, {"AccessToken", cfg.AccessToken}} {
		if f.v != "" && (strings.TrimSpace(f.v) != f.v || strings.ContainsFunc(f.v, isControl)) {
			add(f.field, "must not contain white space at its ends or control characters")
		}
	}
	if u, err := url.Parse(cfg.GraphBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		add("GraphBaseURL", "%q is not an http(s) URL without query", cfg.GraphBaseURL)
	}
	if !isGraphVersion(cfg.GraphVersion) {
		add("GraphVersion", "%q is not a Graph API version such as %q", cfg.GraphVersion, DefaultGraphVersion)
	}
	if cfg.PairInterval < 0 {
		add("PairInterval", "must not be negative")
	}
	if cfg.PairBurst < 0 {
		add("PairBurst", "must not be negative")
	}
	if cfg.SendTimeout < 0 {
		add("SendTimeout", "must not be negative")
	}
	if cfg.MaxMediaBytes < 0 {
		add("MaxMediaBytes", "must not be negative")
	}
	ids, addrs := map[string]int{}, map[string]int{}
	for i, n := range cfg.Numbers {
		f := func(name string) string { return fmt.Sprintf("Numbers[%d].%s", i, name) }
		switch {
		case n.PhoneNumberID == "":
			add(f("PhoneNumberID"), "is required")
		case !isGraphID(n.PhoneNumberID):
			add(f("PhoneNumberID"), "%q is not a Graph API id (digits)", n.PhoneNumberID)
		default:
			if j, dup := ids[n.PhoneNumberID]; dup {
				add(f("PhoneNumberID"), "%s is also Numbers[%d]", n.PhoneNumberID, j)
			}
			ids[n.PhoneNumberID] = i
		}
		if n.Address != "" {
			if _, err := normalizeBusinessNumber(n.Address); err != nil {
				add(f("Address"), "%v", err)
			} else if j, dup := addrs[n.Address]; dup {
				add(f("Address"), "%s is also Numbers[%d]", gateway.Mask(n.Address), j)
			} else {
				addrs[n.Address] = i
			}
		}
		if n.WABAID != "" && !isGraphID(n.WABAID) {
			add(f("WABAID"), "%q is not a Graph API id (digits)", n.WABAID)
		}
		if strings.ContainsFunc(n.Department, isControl) || strings.TrimSpace(n.Department) != n.Department {
			add(f("Department"), "must not contain control characters or white space at its ends")
		}
		if n.MessagesPerSecond < 0 {
			add(f("MessagesPerSecond"), "must not be negative")
		}
	}
	return errors.Join(errs...)
}

// Number returns the configured number whose PhoneNumberID or Address is
// addr ("+" optional for the address), and whether there is one.
func (cfg Config) Number(addr string) (Number, bool) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return Number{}, false
	}
	norm, _ := normalizeBusinessNumber(addr)
	for _, n := range cfg.Numbers {
		if n.PhoneNumberID == addr || (n.Address != "" && n.Address == norm) {
			return n, true
		}
	}
	return Number{}, false
}

// Department returns the department configured for the business address
// addr (an Address or PhoneNumberID), "" when none.
func (cfg Config) Department(addr string) string {
	n, _ := cfg.Number(addr)
	return n.Department
}

// WABAIDs returns the distinct WABA ids of the numbers, in order.
func (cfg Config) WABAIDs() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range cfg.Numbers {
		if n.WABAID != "" && !seen[n.WABAID] {
			seen[n.WABAID] = true
			out = append(out, n.WABAID)
		}
	}
	return out
}

const redacted = "[redacted]"

// redact shows whether a secret is set, never its value.
func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// String prints cfg with its secrets redacted.
func (cfg Config) String() string {
	return fmt.Sprintf("cloudapi.Config{AppSecret:%q VerifyToken:%q AccessToken:%q GraphBaseURL:%q GraphVersion:%q Numbers:%d}",
		redact(cfg.AppSecret), redact(cfg.VerifyToken), redact(cfg.AccessToken), cfg.GraphBaseURL, cfg.GraphVersion, len(cfg.Numbers))
}

// GoString is String, so %#v does not print the secrets either.
func (cfg Config) GoString() string { return cfg.String() }

// LogValue implements slog.LogValuer: the configuration without secrets.
func (cfg Config) LogValue() slog.Value {
	ids := make([]string, len(cfg.Numbers))
	for i, n := range cfg.Numbers {
		ids[i] = n.PhoneNumberID
	}
	return slog.GroupValue(
		slog.String("app_secret", redact(cfg.AppSecret)),
		slog.String("verify_token", redact(cfg.VerifyToken)),
		slog.String("access_token", redact(cfg.AccessToken)),
		slog.String("graph_base_url", cfg.GraphBaseURL),
		slog.String("graph_version", cfg.GraphVersion),
		slog.Any("phone_number_ids", ids),
	)
}

func isGraphID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isGraphVersion accepts "v" followed by digits with at most one dot.
func isGraphVersion(s string) bool {
	rest, ok := strings.CutPrefix(s, "v")
	if !ok || rest == "" || len(rest) > 8 {
		return false
	}
	major, minor, hasDot := strings.Cut(rest, ".")
	return isGraphID(major) && (!hasDot || isGraphID(minor))
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
