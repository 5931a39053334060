package main

// The channels' settings. Only cmd/chatgate reads the environment: the
// channel packages take typed configs whose Validate names the Go field (a
// *gateway.ConfigError), and the tables here name the variable each field
// is read from instead, so every error an operator sees names what they
// set. A section is read when what needs it starts: Twilio by `chatgate
// run` whatever its roles (ingress mounts the webhooks, sender sends, the
// whatsapp role stays idle when Twilio serves WhatsApp), the API callback
// by the sender role, the WhatsApp settings by the whatsapp role. A mistake
// in the sender's callback settings therefore stops the sender, not an
// ingress process sharing its environment, nor `chatgate tokens`.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	apichannel "github.com/chatgate/chatgate/channels/api"
	"github.com/chatgate/chatgate/channels/twilio"
	"github.com/chatgate/chatgate/gateway"
)

// Variables of the Twilio channel (docs/twilio.md). The TWILIO_* names are
// twilio-go's own, so a shell set up for Twilio's CLI works unchanged. The
// public URL is CHATGATE_PUBLIC_URL, read with the core settings.
const (
	envTwilioAccountSID        = "TWILIO_ACCOUNT_SID"
	envTwilioAuthToken         = "TWILIO_AUTH_TOKEN"
	envTwilioAPIKey            = "TWILIO_API_KEY"
	envTwilioAPISecret         = "TWILIO_API_SECRET"
	envTwilioTrustForwarded    = "CHATGATE_TWILIO_TRUST_FORWARDED"
	envTwilioNumbers           = "CHATGATE_TWILIO_NUMBERS"
	envTwilioMessagingServices = "CHATGATE_TWILIO_MESSAGING_SERVICES"
	envTwilioAPIURL            = "CHATGATE_TWILIO_API_URL"
	envTwilioSendTimeout       = "CHATGATE_TWILIO_SEND_TIMEOUT"
)

// twilioVariables names the variable of each twilio.Config field.
var twilioVariables = variables{
	"AccountSID":        envTwilioAccountSID,
	"AuthToken":         envTwilioAuthToken,
	"APIKey":            envTwilioAPIKey,
	"APISecret":         envTwilioAPISecret,
	"PublicURL":         envPublicURL,
	"TrustForwarded":    envTwilioTrustForwarded,
	"Numbers":           envTwilioNumbers,
	"MessagingServices": envTwilioMessagingServices,
	"APIURL":            envTwilioAPIURL,
	"SendTimeout":       envTwilioSendTimeout,
}

// Variables of the API channel's sender (docs/api-channel.md).
const (
	envAPICallbackURL     = "CHATGATE_API_CALLBACK_URL"
	envAPICallbackSecret  = "CHATGATE_API_CALLBACK_SECRET"
	envAPICallbackTimeout = "CHATGATE_API_CALLBACK_TIMEOUT"
)

// apiCallbackVariables names the variable of each apichannel.SenderConfig
// field read from the environment.
var apiCallbackVariables = variables{
	"CallbackURL": envAPICallbackURL,
	"Secret":      envAPICallbackSecret,
	"Timeout":     envAPICallbackTimeout,
}

// variables maps the Go name of a channel config's field to the variable
// it is read from.
type variables map[string]string

// name returns err with every *gateway.ConfigError of a field in v
// rewritten to name the variable ("TWILIO_ACCOUNT_SID: want AC…", not
// "AccountSID: want AC…"), through joined errors; other errors are kept.
func (v variables) name(err error) error {
	if err == nil {
		return nil
	}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		parts := joined.Unwrap()
		named := make([]error, len(parts))
		for i, p := range parts {
			named[i] = v.name(p)
		}
		return errors.Join(named...)
	}
	var ce *gateway.ConfigError
	if errors.As(err, &ce) {
		if env, ok := v[ce.Field]; ok {
			return fmt.Errorf("%s: %w", env, ce.Err)
		}
	}
	return err
}

// getenv returns a variable through c.lookupEnv without surrounding white
// space: env files often carry a stray space or CR, and none of the
// channels' values has one (the API callback's secret is read as it is).
func (c config) getenv(name string) string {
	v, _ := c.lookupEnv(name)
	return strings.TrimSpace(v)
}

// twilioSettings reads the Twilio channel's variables (the public URL is
// c.PublicURL, so CHATGATE_PUBLIC_URL has one default), applies the
// defaults and validates the result. Without TWILIO_ACCOUNT_SID the channel
// is off, and that is no error unless numbers or messaging services are
// set. Every problem names its variable; several are joined.
func twilioSettings(c config) (twilio.Config, error) {
	cfg := twilio.Config{
		AccountSID: c.getenv(envTwilioAccountSID),
		AuthToken:  c.getenv(envTwilioAuthToken),
		APIKey:     c.getenv(envTwilioAPIKey),
		APISecret:  c.getenv(envTwilioAPISecret),
		PublicURL:  c.PublicURL,
		APIURL:     c.getenv(envTwilioAPIURL),
	}
	var errs []error
	if v := c.getenv(envTwilioTrustForwarded); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a boolean (true or false)", envTwilioTrustForwarded, v))
		}
		cfg.TrustForwarded = b
	}
	if v := c.getenv(envTwilioSendTimeout); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 10s", envTwilioSendTimeout, v))
		case d <= 0:
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", envTwilioSendTimeout, v))
		default:
			cfg.SendTimeout = d
		}
	}
	var err error
	if cfg.Numbers, err = twilio.ParseOrigins(c.getenv(envTwilioNumbers), false); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", envTwilioNumbers, err))
	}
	if cfg.MessagingServices, err = twilio.ParseOrigins(c.getenv(envTwilioMessagingServices), true); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", envTwilioMessagingServices, err))
	}
	if len(errs) > 0 {
		return twilio.Config{}, errors.Join(errs...)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return twilio.Config{}, twilioVariables.name(err)
	}
	return cfg, nil
}

// apiCallbackSettings reads the API channel sender's variables, validates
// them and applies the defaults. Without a callback URL the sender is off
// (Enabled false), and that is no error.
func apiCallbackSettings(c config) (apichannel.SenderConfig, error) {
	cfg := apichannel.SenderConfig{CallbackURL: c.getenv(envAPICallbackURL)}
	if v, ok := c.lookupEnv(envAPICallbackSecret); ok {
		cfg.Secret = v
	}
	if v := c.getenv(envAPICallbackTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return apichannel.SenderConfig{}, fmt.Errorf("%s: %q is not a duration such as 10s", envAPICallbackTimeout, v)
		}
		if d <= 0 {
			return apichannel.SenderConfig{}, fmt.Errorf("%s: must be positive, got %s", envAPICallbackTimeout, v)
		}
		cfg.Timeout = d
	}
	if err := cfg.Validate(); err != nil {
		return apichannel.SenderConfig{}, apiCallbackVariables.name(err)
	}
	return cfg.WithDefaults(), nil
}

// whatsAppConfig holds the whatsapp role's settings.
type whatsAppConfig struct {
	device, name, mediaDir string
	groups                 bool
	rate                   float64
	recipientGap           time.Duration
}

// whatsAppSettings reads the CHATGATE_WHATSAPP_* variables; errors name
// them. The media directory defaults to CHATGATE_DATA_DIR/media; the other
// defaults (name "default", 1 message/s, 1 s per recipient) are
// channels/whatsapp's, applied to the zero values.
func whatsAppSettings(c config) (whatsAppConfig, error) {
	wc := whatsAppConfig{device: c.getenv("CHATGATE_WHATSAPP_DEVICE"), name: c.getenv("CHATGATE_WHATSAPP_NAME"), mediaDir: c.getenv("CHATGATE_WHATSAPP_MEDIA_DIR")}
	if wc.mediaDir == "" {
		wc.mediaDir = c.dataPath("media")
	}
	var errs []error
	switch v := c.getenv("CHATGATE_WHATSAPP_GROUPS"); v {
	case "", "false", "0":
	case "true", "1":
		wc.groups = true
	default:
		errs = append(errs, fmt.Errorf("CHATGATE_WHATSAPP_GROUPS=%q: want true or false", v))
	}
	if v := c.getenv("CHATGATE_WHATSAPP_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r <= 0 {
			errs = append(errs, fmt.Errorf("CHATGATE_WHATSAPP_RATE=%q: want messages per second > 0, e.g. 1 or 0.5", v))
		}
		wc.rate = r
	}
	if v := c.getenv("CHATGATE_WHATSAPP_RECIPIENT_GAP"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("CHATGATE_WHATSAPP_RECIPIENT_GAP=%q: want a duration like 2s", v))
		}
		wc.recipientGap = d
	}
	return wc, errors.Join(errs...)
}
