package twilio

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
	// DefaultAPIURL is Twilio's REST API.
	DefaultAPIURL = "https://api.twilio.com"
	// DefaultSendTimeout is twilio-go's own default client timeout.
	DefaultSendTimeout = 10 * time.Second
)

// Webhook paths, relative to the public URL, and their ServeMux patterns.
const (
	// MessagesPath is where Twilio posts incoming messages: set the public
	// URL plus this path as the number's "A message comes in" webhook.
	MessagesPath = "/webhooks/twilio/messages"
	// StatusPath is where Twilio posts the status callbacks of sent messages.
	StatusPath = "/webhooks/twilio/status"
	// MessagesPattern is MessagesHandler's route for httpapi.Server.Handle.
	MessagesPattern = "POST " + MessagesPath
	// StatusPattern is StatusHandler's route for httpapi.Server.Handle.
	StatusPattern = "POST " + StatusPath
)

// Config configures the Twilio channel. Fill it in code (cmd/chatgate
// reads it from the environment, docs/configuration.md names each
// variable), then call WithDefaults and Validate; NewWebhooks and
// NewProvider do both. Validate's problems are *gateway.ConfigError values
// naming the field.
type Config struct {
	// AccountSID is the account ("AC…"). Empty: the channel is off.
	AccountSID string
	// AuthToken is the account's auth token: it checks webhook signatures,
	// and authenticates sends when no API key is set.
	AuthToken string
	// APIKey ("SK…") authenticates sends, with APISecret, when both are
	// set.
	APIKey string
	// APISecret is APIKey's secret.
	APISecret string
	// PublicURL is the http(s) URL Twilio calls chatgate at; a trailing
	// slash is dropped, and it may have a path when a proxy strips it.
	// Webhook signatures are checked against it and status callback URLs
	// are built from it. Required when the channel is on; it has no
	// default here, since it is chatgate's public URL, not Twilio's.
	PublicURL string
	// TrustForwarded lets a proxy's X-Forwarded-Proto, -Host, -Prefix and
	// -Path headers override the public URL's parts when a signature is
	// checked. Set it only behind a proxy that overwrites them.
	TrustForwarded bool
	// Numbers are the phone numbers, short codes and alphanumeric sender
	// IDs (ParseOrigins reads the list format). The first of a channel is
	// its default sender.
	Numbers []Origin
	// MessagingServices are messaging services; the first of a channel is
	// its default sender, before any number.
	MessagingServices []Origin
	// APIURL is the REST API's base URL. Default DefaultAPIURL; point it
	// at a local stand-in for tests and demos, every *.twilio.com request
	// goes there.
	APIURL string
	// SendTimeout bounds one REST call. Default DefaultSendTimeout.
	SendTimeout time.Duration
}

// Enabled reports whether the Twilio channel is configured, that is whether
// the ingress role should mount the webhooks and the sender role run
// Providers.
func (c Config) Enabled() bool { return c.AccountSID != "" }

// WithDefaults returns c with every unset optional field set to its default.
func (c Config) WithDefaults() Config {
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	if c.SendTimeout == 0 {
		c.SendTimeout = DefaultSendTimeout
	}
	return c
}

// Validate checks c, returning one *gateway.ConfigError per problem
// (joined). A config without an account SID is valid (and not Enabled)
// unless it lists numbers or messaging services, which would then be
// silently ignored.
func (c Config) Validate() error {
	var errs []error
	if !c.Enabled() {
		if len(c.Numbers) > 0 || len(c.MessagingServices) > 0 {
			errs = append(errs, gateway.ConfigErrorf("AccountSID", "required when numbers or messaging services are set"))
		}
		return errors.Join(errs...)
	}
	// twilio-go refuses credentials with other characters at every request;
	// say so at start instead.
	if !strings.HasPrefix(c.AccountSID, "AC") || !isAlnum(c.AccountSID) {
		errs = append(errs, gateway.ConfigErrorf("AccountSID", "want AC followed by letters and digits"))
	}
	switch {
	case c.APIKey != "" || c.APISecret != "":
		if !strings.HasPrefix(c.APIKey, "SK") || !isAlnum(c.APIKey) {
			errs = append(errs, gateway.ConfigErrorf("APIKey", "want SK followed by letters and digits when an API secret is set"))
		}
		if c.APISecret == "" || !isAlnum(c.APISecret) {
			errs = append(errs, gateway.ConfigErrorf("APISecret", "required with an API key, letters and digits only"))
		}
	case c.AuthToken == "":
		errs = append(errs, gateway.ConfigErrorf("AuthToken", "required (or an API key and its secret) when an account SID is set"))
	}
	if c.AuthToken != "" && !isAlnum(c.AuthToken) {
		errs = append(errs, gateway.ConfigErrorf("AuthToken", "letters and digits only"))
	}
	if c.PublicURL == "" {
		errs = append(errs, gateway.ConfigErrorf("PublicURL", "required: the URL Twilio calls chatgate at"))
	} else if err := checkBaseURL(c.PublicURL); err != nil {
		errs = append(errs, &gateway.ConfigError{Field: "PublicURL", Err: err})
	}
	if err := checkBaseURL(c.APIURL); err != nil {
		errs = append(errs, &gateway.ConfigError{Field: "APIURL", Err: err})
	}
	if c.SendTimeout < 0 {
		errs = append(errs, gateway.ConfigErrorf("SendTimeout", "must be positive, got %s", c.SendTimeout))
	}
	seen := map[string]bool{}
	for _, list := range []struct {
		field   string
		origins []Origin
		service bool
	}{{"Numbers", c.Numbers, false}, {"MessagingServices", c.MessagingServices, true}} {
		for i, o := range list.origins {
			err := o.validate()
			if err == nil && o.Service != list.service {
				err = errors.New("service does not match the list it is in")
			}
			if err == nil && seen[o.Key()] {
				err = errors.New("listed twice")
			}
			if err != nil {
				errs = append(errs, gateway.ConfigErrorf(list.field, "entry %d %q: %w", i+1, o.Key(), err))
			}
			seen[o.Key()] = true
		}
	}
	return errors.Join(errs...)
}

// checkBaseURL accepts an absolute http(s) URL without query or fragment.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: want an http:// or https:// URL", raw)
	case u.Host == "":
		return fmt.Errorf("%q has no host", raw)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("%q: want no query, fragment or user info", raw)
	}
	return nil
}

// Origins returns the origins of ch in the order a default is picked:
// messaging services first, then numbers, each in the order configured.
func (c Config) Origins(ch gateway.Channel) []Origin {
	var out []Origin
	for _, list := range [][]Origin{c.MessagingServices, c.Numbers} {
		for _, o := range list {
			if o.Channel == ch {
				out = append(out, o)
			}
		}
	}
	return out
}

// Channels returns the channels with at least one origin, sms before
// whatsapp: the channels the sender role runs a Provider for.
func (c Config) Channels() []gateway.Channel {
	var chs []gateway.Channel
	for _, ch := range []gateway.Channel{gateway.ChannelSMS, gateway.ChannelWhatsApp} {
		if len(c.Origins(ch)) > 0 {
			chs = append(chs, ch)
		}
	}
	return chs
}

// Department returns the department configured for the business address a
// contact wrote to on ch (an inbound message's To), and whether one is.
func (c Config) Department(ch gateway.Channel, address string) (string, bool) {
	for _, o := range c.Numbers {
		if o.Channel == ch && o.Address == address && o.Department != "" {
			return o.Department, true
		}
	}
	return "", false
}

// LogValue implements slog.LogValuer without the secrets, so a Config can be
// logged at start.
func (c Config) LogValue() slog.Value {
	keys := func(os []Origin) []string {
		ks := make([]string, len(os))
		for i, o := range os {
			ks[i] = o.Key()
		}
		return ks
	}
	return slog.GroupValue(
		slog.Bool("enabled", c.Enabled()),
		slog.String("account_sid", c.AccountSID),
		slog.Bool("api_key", c.APIKey != ""),
		slog.String("public_url", c.PublicURL),
		slog.Bool("trust_forwarded", c.TrustForwarded),
		slog.Any("numbers", keys(c.Numbers)),
		slog.Any("messaging_services", keys(c.MessagingServices)),
		slog.String("api_url", c.APIURL),
		slog.Duration("send_timeout", c.SendTimeout),
	)
}
