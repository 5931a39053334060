package twilio

// The addresses chatgate sends from (Config.Numbers and
// Config.MessagingServices): their kinds, default rates and the compact
// list format an operator writes them in.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/chatgate/chatgate/gateway"
)

// Default rates of Origin.MessagesPerSecond, from Twilio's documented limits
// (docs/twilio.md lists the sources). SMS rates count message segments.
const (
	// RateLongCodeNANP: a US or Canadian long code sending to the US and Canada.
	RateLongCodeNANP = 1
	// RateTollFree: a US or Canadian toll-free number.
	RateTollFree = 3
	// RateInternational: any other long code, and alphanumeric sender IDs.
	RateInternational = 10
	// RateShortCode: a short code.
	RateShortCode = 100
	// RateWhatsApp: one WhatsApp sender.
	RateWhatsApp = 80
)

// Origin is one address chatgate sends from: a phone number, short code or
// alphanumeric sender ID (Config.Numbers), or a messaging service
// (Config.MessagingServices).
type Origin struct {
	// Channel is gateway.ChannelSMS or gateway.ChannelWhatsApp.
	Channel gateway.Channel
	// Address is the number in E.164 ("+15551234567"), the short code
	// ("384387"), the alphanumeric sender ID ("ACME"), or the messaging
	// service SID ("MG…"), without Twilio's "whatsapp:" prefix.
	Address string
	// Department receives the conversations of contacts writing to this
	// number; empty means the default department.
	Department string
	// Rate is the sending rate in messages per second (message segments for
	// SMS); 0 means the default for the kind of sender, see MessagesPerSecond.
	Rate float64
	// Service is true for a messaging service.
	Service bool
}

// Key identifies the origin as a gateway contact key ("sms:+15551234567").
func (o Origin) Key() string { return gateway.ContactKey(o.Channel, o.Address) }

// MessagesPerSecond returns Rate, or the documented default of the kind of
// sender when Rate is 0: RateWhatsApp for WhatsApp, RateShortCode for a short
// code, RateTollFree for a +1 toll-free number, RateLongCodeNANP for any
// other +1 number, RateInternational for other numbers and alphanumeric
// sender IDs. Messaging services have no default (0: not limited by
// chatgate), since Twilio spreads their traffic over the service's senders
// and queues it there.
func (o Origin) MessagesPerSecond() float64 {
	switch {
	case o.Rate > 0:
		return o.Rate
	case o.Service:
		return 0
	case o.Channel == gateway.ChannelWhatsApp:
		return RateWhatsApp
	case isShortCode(o.Address):
		return RateShortCode
	case strings.HasPrefix(o.Address, "+1") && isTollFreeNANP(o.Address):
		return RateTollFree
	case strings.HasPrefix(o.Address, "+1"):
		return RateLongCodeNANP
	default:
		return RateInternational
	}
}

// isShortCode reports whether addr is 3 to 8 digits without a "+".
func isShortCode(addr string) bool {
	if len(addr) < 3 || len(addr) > 8 {
		return false
	}
	for _, r := range addr {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// isTollFreeNANP reports whether a +1 number has a toll-free area code.
func isTollFreeNANP(addr string) bool {
	if len(addr) != 12 {
		return false
	}
	switch addr[2:5] {
	case "800", "833", "844", "855", "866", "877", "888":
		return true
	}
	return false
}

// ParseOrigins parses the compact list format of CHATGATE_TWILIO_NUMBERS
// (services false) and CHATGATE_TWILIO_MESSAGING_SERVICES (services true):
// comma-separated entries
//
//	channel:address[=department][@rate]
//
// where channel is sms or whatsapp, address a number in E.164, a short code
// or an alphanumeric sender ID (SMS only) — or a messaging service SID
// ("MG…") for services — department the department conversations to this
// number go to, and rate the messages per second to send at (a positive
// number; default: Origin.MessagesPerSecond). Example:
//
//	sms:+15551234567=sales@1,whatsapp:+14155238886=support@80,sms:384387
//
// Blank entries are skipped, so a trailing comma is fine. An empty string
// gives no origins.
func ParseOrigins(s string, services bool) ([]Origin, error) {
	var origins []Origin
	var errs []error
	seen := map[string]bool{}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		o, err := parseOrigin(entry, services)
		if err == nil && seen[o.Key()] {
			err = errors.New("listed twice")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d %q: %w", i+1, entry, err))
			continue
		}
		seen[o.Key()] = true
		origins = append(origins, o)
	}
	return origins, errors.Join(errs...)
}

func parseOrigin(entry string, service bool) (Origin, error) {
	o := Origin{Service: service}
	rest := entry
	if head, rate, ok := strings.Cut(rest, "@"); ok {
		r, err := strconv.ParseFloat(strings.TrimSpace(rate), 64)
		if err != nil || r <= 0 || r > 10000 {
			return Origin{}, fmt.Errorf("rate %q: want messages per second, a number above 0 and at most 10000", rate)
		}
		o.Rate, rest = r, head
	}
	if head, dept, ok := strings.Cut(rest, "="); ok {
		o.Department = strings.TrimSpace(dept)
		if o.Department == "" {
			return Origin{}, errors.New("department after '=' is empty")
		}
		rest = head
	}
	ch, addr, ok := strings.Cut(rest, ":")
	if !ok {
		return Origin{}, errors.New("want channel:address, e.g. sms:+15551234567 or whatsapp:+14155238886")
	}
	o.Channel = gateway.Channel(strings.ToLower(strings.TrimSpace(ch)))
	o.Address = strings.TrimSpace(addr)
	if o.Channel == gateway.ChannelSMS || o.Channel == gateway.ChannelWhatsApp {
		if a, err := normalizeOrigin(o.Channel, o.Address, service); err == nil {
			o.Address = a
		}
	}
	return o, o.validate()
}

// normalizeOrigin returns the origin's address in canonical form.
func normalizeOrigin(ch gateway.Channel, addr string, service bool) (string, error) {
	if service {
		if !strings.HasPrefix(addr, "MG") || len(addr) < 3 || len(addr) > 64 || !isAlnum(addr) {
			return "", fmt.Errorf("%q is not a messaging service SID (MG followed by letters and digits)", addr)
		}
		return addr, nil
	}
	if strings.HasPrefix(addr, "+") {
		n, err := normalizeAddress(addr)
		if err != nil {
			return "", err
		}
		return n, nil
	}
	if ch == gateway.ChannelWhatsApp {
		return "", fmt.Errorf("%q: a WhatsApp sender is a number in E.164, such as +14155238886", addr)
	}
	if isShortCode(addr) {
		return addr, nil
	}
	if isAlphanumericSenderID(addr) {
		return addr, nil
	}
	return "", fmt.Errorf("%q is not a number in E.164 (+15551234567), a short code (3 to 8 digits) or an alphanumeric sender ID (up to 11 letters, digits and spaces, at least one letter)", addr)
}

// isAlphanumericSenderID follows Twilio's rule: 1 to 11 characters of
// A–Z, a–z, 0–9 and space, at least one of them a letter.
func isAlphanumericSenderID(s string) bool {
	if s == "" || len(s) > 11 {
		return false
	}
	letter := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9' || r == ' ':
		default:
			return false
		}
	}
	return letter
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (o Origin) validate() error {
	var errs []error
	if o.Channel != gateway.ChannelSMS && o.Channel != gateway.ChannelWhatsApp {
		errs = append(errs, fmt.Errorf("channel %q: want sms or whatsapp", o.Channel))
	} else if n, err := normalizeOrigin(o.Channel, o.Address, o.Service); err != nil {
		errs = append(errs, err)
	} else if n != o.Address {
		errs = append(errs, fmt.Errorf("address %q: write it as %q", o.Address, n))
	}
	if o.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %v: must not be negative", o.Rate))
	}
	if strings.ContainsAny(o.Department, ",=@") {
		errs = append(errs, fmt.Errorf("department %q: must not contain ',', '=' or '@'", o.Department))
	}
	return errors.Join(errs...)
}
