package twilio

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
)

// Twilio error codes with a meaning of their own in chatgate. They reach the
// worker as the ErrorCode of failed statuses: 21610 marks the contact opted
// out (R33), 63016 means a template is required (R28).
const (
	// ErrCodeTooManyRequests: the account's REST API concurrency is exhausted (HTTP 429).
	ErrCodeTooManyRequests = 20429
	// ErrCodeInvalidTo: the 'To' number is not a valid phone number.
	ErrCodeInvalidTo = 21211
	// ErrCodeOptedOut: the contact replied STOP to this sender (R33).
	ErrCodeOptedOut = 21610
	// ErrCodeQueueFull: the sender's queue at Twilio is full; later sends succeed.
	ErrCodeQueueFull = 21611
	// ErrCodeOutsideWindow: a WhatsApp free-form message outside the 24-hour window (R28).
	ErrCodeOutsideWindow = 63016
)

// Codes of the sender.Error values Provider.Send returns that are not
// Twilio's own numeric codes.
const (
	// CodeNetworkError: the request did not reach Twilio (DNS, connect, TLS); retried.
	CodeNetworkError = "network_error"
	// CodeWrongChannel: the outbound record is not for the Provider's channel.
	CodeWrongChannel = "wrong_channel"
	// CodeNoSender: no configured number or messaging service can send it.
	CodeNoSender = "no_sender"
	// CodeInvalidAddress: the contact's address cannot be sent to.
	CodeInvalidAddress = "invalid_address"
	// CodeTemplateNotOnTwilio: a WhatsApp template without a Twilio Content
	// SID; sending its text instead would be refused outside the window.
	CodeTemplateNotOnTwilio = "template_not_on_twilio"
	// CodeInvalidTemplateVariables: the template's Twilio variables are not a JSON object.
	CodeInvalidTemplateVariables = "invalid_template_variables"
)

// MaxRetryAfter caps a Retry-After from Twilio, so one answer cannot hold a
// partition of the outbound topic for long; the runner's backoff applies below it.
const MaxRetryAfter = 2 * time.Minute

// readableReasons are chatgate's explanations of the codes agents and ops
// meet most, written for a person reading a failed message in a desk. Codes
// without one get Twilio's catalogue title.
var readableReasons = map[int]string{
	20003: "Twilio refused the credentials: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)",
	20404: "Twilio does not know this account or resource: check TWILIO_ACCOUNT_SID",
	20429: "Twilio is rate limiting the account's API requests",
	21211: "the contact's number is not a valid phone number",
	21408: "sending SMS to the contact's country is not enabled in the Twilio console's geographic permissions",
	21606: "the sending number cannot send messages to this destination",
	21608: "the Twilio account is a trial account and the contact's number is not verified on it",
	21610: "the contact opted out by replying STOP; nothing can be sent until they reply START",
	21611: "the sending number's queue at Twilio is full",
	21612: "the contact's number cannot receive messages from this sender",
	21614: "the contact's number is not a mobile number and cannot receive SMS",
	21617: "the message is longer than Twilio's limit of 1600 characters",
	21620: "a media URL is invalid or Twilio cannot fetch it",
	21621: "the sending number is not enabled for MMS",
	21623: "the message has more media files than allowed",
	21654: "the template has no Twilio Content SID",
	21655: "the template's Twilio Content SID is not valid",
	21656: "Twilio refused the template's variables",
	21703: "the messaging service has no sender available for this contact",
	21704: "the messaging service has no phone numbers",
	30003: "the contact's phone is unreachable (switched off or out of coverage)",
	30004: "the message was blocked (by the contact or the carrier)",
	30005: "the contact's number is unknown to the carrier and may no longer exist",
	30006: "the contact's number is a landline or its carrier cannot receive messages",
	30007: "the carrier filtered the message as spam or unregistered traffic",
	30008: "the carrier reported an unknown delivery error",
	30034: "the sending number is not registered for US A2P 10DLC messaging",
	63007: "Twilio has no WhatsApp sender with this From address",
	63015: "the WhatsApp sandbox can only message numbers that joined it",
	63016: "outside WhatsApp's 24-hour customer service window: send an approved template",
	63018: "WhatsApp rate limited this sender",
	63024: "the contact's address is not a valid WhatsApp recipient",
	63032: "WhatsApp does not allow this message to this user",
	63033: "the contact blocked messages from this sender",
}

// temporaryCodes are codes a later attempt can overcome whatever the HTTP
// status says. Everything else a 4xx carries is permanent.
var temporaryCodes = map[int]bool{
	ErrCodeTooManyRequests: true,
	ErrCodeQueueFull:       true,
}

// Reason returns a readable explanation of a Twilio error code: chatgate's
// own for the codes listed in docs/twilio.md, otherwise the title in
// Twilio's catalogue, otherwise "".
func Reason(code int) string {
	if r, ok := readableReasons[code]; ok {
		return r
	}
	return twilioErrorTitles[code]
}

// attempt is what the per-call transport saw of one REST call.
type attempt struct {
	status     int // HTTP status, 0 without an answer
	header     http.Header
	wrote      bool // the whole request was written to Twilio
	timedOut   bool // SendTimeout passed
	parentDone error
}

// classify turns the error of one CreateMessage call into a sender.Error
// (or the context's error when the send's context ended). now resolves an
// HTTP-date Retry-After.
func classify(err error, at attempt, now time.Time) error {
	if at.parentDone != nil {
		return fmt.Errorf("twilio send: %w", at.parentDone)
	}
	var rest *client.TwilioRestError
	isRest := errors.As(err, &rest)
	if at.status == 0 && !isRest {
		// No answer. Before the request was written Twilio cannot have
		// acted on it; after, it may have: Twilio's Messages API has no
		// idempotency key, so a retry could send the message twice (R32).
		what := "the connection failed"
		if at.timedOut {
			what = "no answer within the send timeout"
		}
		if at.wrote {
			return sender.Permanent(sender.CodeOutcomeUnknown,
				what+" after the request reached Twilio; the message may have been sent, so it is not sent again")
		}
		return sender.Temporary(CodeNetworkError, what+" before the request reached Twilio: "+transportCause(err), 0)
	}

	status, code, twilioMsg := at.status, 0, ""
	if isRest {
		code, twilioMsg = rest.Code, rest.Message
		if status == 0 {
			status = rest.Status
		}
	}
	codeStr := "http_" + strconv.Itoa(status)
	if code != 0 {
		codeStr = strconv.Itoa(code)
	}
	reason := Reason(code)
	if reason == "" && twilioMsg != "" {
		// Twilio's messages often quote the number; keep it out of logs.
		reason = gateway.Mask(twilioMsg)
	}
	if reason == "" {
		reason = fmt.Sprintf("Twilio answered %d %s", status, http.StatusText(status))
	}

	switch {
	case status == http.StatusTooManyRequests || temporaryCodes[code] || status >= 500:
		return sender.Temporary(codeStr, reason, retryAfter(at.header, now))
	case status == http.StatusUnauthorized && code == 0:
		return sender.Permanent(codeStr, Reason(20003))
	default:
		e := sender.Permanent(codeStr, reason)
		e.OptedOut = code == ErrCodeOptedOut
		return e
	}
}

// transportCause shortens a transport error to its cause: net/http's
// url.Error repeats the whole URL, account SID included.
func transportCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// retryAfter parses a Retry-After header, in seconds or as an HTTP date,
// capped at MaxRetryAfter; 0 when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}
