package twilio

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// Environment variables read by ConfigFromEnv. The TWILIO_* names are
// twilio-go's own, so a shell set up for Twilio's CLI works unchanged.
const (
	// EnvAccountSID is the account SID ("AC…"). Unset: the Twilio channel is off.
	EnvAccountSID = "TWILIO_ACCOUNT_SID"
	// EnvAuthToken is the account's auth token. Twilio signs webhooks with
	// it, so the ingress role needs it even when sends use an API key.
	EnvAuthToken = "TWILIO_AUTH_TOKEN"
	// EnvAPIKey is an API key ("SK…"). With EnvAPISecret, sends
	// authenticate with it instead of the auth token.
	EnvAPIKey = "TWILIO_API_KEY"
	// EnvAPISecret is the secret of EnvAPIKey.
	EnvAPISecret = "TWILIO_API_SECRET"
	// EnvPublicURL is the URL Twilio reaches chatgate at. Webhook signatures
	// are checked against it, and status callback URLs are built from it.
	EnvPublicURL = "CHATGATE_PUBLIC_URL"
	// EnvTrustForwarded, when true, lets X-Forwarded-Proto, -Host, -Prefix
	// and -Path of a request override the public URL's parts when its
	// signature is checked. Set it only behind a proxy that overwrites them.
	EnvTrustForwarded = "CHATGATE_TWILIO_TRUST_FORWARDED"
	// EnvNumbers lists the numbers chatgate receives on and sends from; see
	// ParseOrigins for the format.
	EnvNumbers = "CHATGATE_TWILIO_NUMBERS"
	// EnvMessagingServices lists messaging services ("MG…"), same format.
	EnvMessagingServices = "CHATGATE_TWILIO_MESSAGING_SERVICES"
	// EnvAPIURL is the base URL of Twilio's REST API. Point it at a local
	// stand-in for tests and demos; every *.twilio.com request goes there.
	EnvAPIURL = "CHATGATE_TWILIO_API_URL"
	// EnvSendTimeout bounds one REST call, as a Go duration ("10s").
	EnvSendTimeout = "CHATGATE_TWILIO_SEND_TIMEOUT"
)

// Defaults of Config.
const (
	// DefaultPublicURL is CHATGATE_PUBLIC_URL's default (docs/configuration.md).
	DefaultPublicURL = "http://localhost:8080"
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

// Config configures the Twilio channel. Build it with ConfigFromEnv, or fill
// it in code and call WithDefaults and Validate.
type Config struct {
	// AccountSID is the account ("AC…"). Empty: the channel is off. Env
	// TWILIO_ACCOUNT_SID.
	AccountSID string
	// AuthToken is the account's auth token: it checks webhook signatures,
	// and authenticates sends when no API key is set. Env TWILIO_AUTH_TOKEN.
	AuthToken string
	// APIKey ("SK…") authenticates sends, with APISecret, when both are
	// set. Env TWILIO_API_KEY.
	APIKey string
	// APISecret is APIKey's secret. Env TWILIO_API_SECRET.
	APISecret string
	// PublicURL is the http(s) URL Twilio calls chatgate at, without a
	// trailing slash; it may have a path when a proxy strips it. Default
	// DefaultPublicURL. Env CHATGATE_PUBLIC_URL.
	PublicURL string
	// TrustForwarded lets a proxy's X-Forwarded-* headers override the
	// public URL when a signature is checked. Env
	// CHATGATE_TWILIO_TRUST_FORWARDED.
	TrustForwarded bool
	// Numbers are the phone numbers, short codes and alphanumeric sender
	// IDs. The first of a channel is its default sender. Env
	// CHATGATE_TWILIO_NUMBERS.
	Numbers []Origin
	// MessagingServices are messaging services; the first of a channel is
	// its default sender, before any number. Env
	// CHATGATE_TWILIO_MESSAGING_SERVICES.
	MessagingServices []Origin
	// APIURL is the REST API's base URL. Default DefaultAPIURL. Env
	// CHATGATE_TWILIO_API_URL.
	APIURL string
	// SendTimeout bounds one REST call. Default DefaultSendTimeout. Env
	// CHATGATE_TWILIO_SEND_TIMEOUT.
	SendTimeout time.Duration
}

// ConfigFromEnv reads the Env* variables through lookup (os.LookupEnv in
// production), applies the defaults and validates the result. Without
// TWILIO_ACCOUNT_SID it returns a config whose Enabled is false, and no
// error unless numbers or messaging services are set. Errors name the
// variable at fault; several problems are joined.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		// Env files often carry a stray space or CR; none of these has one.
		return strings.TrimSpace(v)
	}
	cfg := Config{
		AccountSID: get(EnvAccountSID),
		AuthToken:  get(EnvAuthToken),
		APIKey:     get(EnvAPIKey),
		APISecret:  get(EnvAPISecret),
		PublicURL:  get(EnvPublicURL),
		APIURL:     get(EnvAPIURL),
	}
	var errs []error
	if v := get(EnvTrustForwarded); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a boolean (true or false)", EnvTrustForwarded, v))
		}
		cfg.TrustForwarded = b
	}
	if v := get(EnvSendTimeout); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 10s", EnvSendTimeout, v))
		case d <= 0:
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", EnvSendTimeout, v))
		default:
			cfg.SendTimeout = d
		}
	}
	var err error
	if cfg.Numbers, err = ParseOrigins(get(EnvNumbers), false); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvNumbers, err))
	}
	if cfg.MessagingServices, err = ParseOrigins(get(EnvMessagingServices), true); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvMessagingServices, err))
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Enabled reports whether the Twilio channel is configured, that is whether
// the ingress role should mount the webhooks and the sender role run
// Providers.
func (c Config) Enabled() bool { return c.AccountSID != "" }

// WithDefaults returns c with every unset optional field set to its default.
func (c Config) WithDefaults() Config {
	if c.PublicURL == "" {
		c.PublicURL = DefaultPublicURL
	}
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

// Validate checks c, naming the environment variable of each problem. A
// config without an account SID is valid (and not Enabled) unless it lists
// numbers or messaging services, which would then be silently ignored.
func (c Config) Validate() error {
	var errs []error
	if !c.Enabled() {
		if len(c.Numbers) > 0 || len(c.MessagingServices) > 0 {
			errs = append(errs, fmt.Errorf("%s: required when %s or %s is set", EnvAccountSID, EnvNumbers, EnvMessagingServices))
		}
		return errors.Join(errs...)
	}
	// twilio-go refuses credentials with other characters at every request;
	// say so at start instead.
	if !strings.HasPrefix(c.AccountSID, "AC") || !isAlnum(c.AccountSID) {
		errs = append(errs, fmt.Errorf("%s: want AC followed by letters and digits", EnvAccountSID))
	}
	switch {
	case c.APIKey != "" || c.APISecret != "":
		if !strings.HasPrefix(c.APIKey, "SK") || !isAlnum(c.APIKey) {
			errs = append(errs, fmt.Errorf("%s: want SK followed by letters and digits when %s is set", EnvAPIKey, EnvAPISecret))
		}
		if c.APISecret == "" || !isAlnum(c.APISecret) {
			errs = append(errs, fmt.Errorf("%s: required with %s, letters and digits only", EnvAPISecret, EnvAPIKey))
		}
	case c.AuthToken == "":
		errs = append(errs, fmt.Errorf("%s: required (or %s and %s) when %s is set", EnvAuthToken, EnvAPIKey, EnvAPISecret, EnvAccountSID))
	}
	if c.AuthToken != "" && !isAlnum(c.AuthToken) {
		errs = append(errs, fmt.Errorf("%s: letters and digits only", EnvAuthToken))
	}
	if err := checkBaseURL(c.PublicURL); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvPublicURL, err))
	}
	if err := checkBaseURL(c.APIURL); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvAPIURL, err))
	}
	if c.SendTimeout < 0 {
		errs = append(errs, fmt.Errorf("%s: must be positive, got %s", EnvSendTimeout, c.SendTimeout))
	}
	seen := map[string]bool{}
	for _, list := range []struct {
		env     string
		origins []Origin
		service bool
	}{{EnvNumbers, c.Numbers, false}, {EnvMessagingServices, c.MessagingServices, true}} {
		for i, o := range list.origins {
			err := o.validate()
			if err == nil && o.Service != list.service {
				err = errors.New("Service does not match the list it is in")
			}
			if err == nil && seen[o.Key()] {
				err = errors.New("listed twice")
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: entry %d %q: %w", list.env, i+1, o.Key(), err))
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
