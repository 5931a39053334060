package cloudapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/sender"
)

// Meta error codes with a meaning of their own in chatgate (the full list
// and what chatgate does with each is in docs/cloudapi.md).
const (
	// ErrCodeReengagement: more than 24 hours passed since the contact last
	// wrote; only a template can be sent (R28). Reported as CodeWindowClosed.
	ErrCodeReengagement = 131047
	// ErrCodeThroughput: the business number sends faster than its throughput.
	ErrCodeThroughput = 130429
	// ErrCodePairRateLimit: too many messages to one contact in a short time.
	ErrCodePairRateLimit = 131056
	// ErrCodeWABARateLimit: the business account's API rate limit.
	ErrCodeWABARateLimit = 80007
	// ErrCodeAccessToken: the access token is invalid or expired.
	ErrCodeAccessToken = 190
)

// Codes of the sender.Error values Provider.Send returns that are not
// Meta's own numeric codes.
const (
	// CodeWindowClosed: Meta refused a message outside the 24-hour window
	// (131047, re-engagement required). The ticketing side turns it into
	// template_required; the message names the Meta code.
	CodeWindowClosed = "window_closed"
	// CodeNetworkError: the request did not reach Meta (DNS, connect, TLS); retried.
	CodeNetworkError = "network_error"
	// CodeWrongChannel: the outbound record is not a WhatsApp one.
	CodeWrongChannel = "wrong_channel"
	// CodeNoSender: From names no configured business number.
	CodeNoSender = "no_sender"
	// CodeInvalidAddress: the contact's address cannot be sent to.
	CodeInvalidAddress = "invalid_address"
	// CodeInvalidTemplate: the outbound template object is malformed.
	CodeInvalidTemplate = "invalid_template"
	// CodeInvalidInteractive: the outbound interactive object is malformed
	// or over WhatsApp's limits.
	CodeInvalidInteractive = "invalid_interactive"
	// CodeInvalidMedia: a media URL or reference cannot be sent.
	CodeInvalidMedia = "invalid_media"
	// CodeRateLimitWait: the send's context ended before the number's or
	// the contact's rate limit gave it a turn; retried.
	CodeRateLimitWait = "rate_limit_wait"
)

// MaxRetryAfter caps the wait chatgate asks for after a rate limit, so one
// answer cannot hold a partition of the outbound topic for long.
const MaxRetryAfter = 2 * time.Minute

// GraphError is an error answer of the Graph API:
// {"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}.
type GraphError struct {
	HTTPStatus int
	Code       int
	Subcode    int
	Type       string
	Message    string
	Details    string
	FBTraceID  string
	RetryAfter time.Duration // from a Retry-After header, 0 without
}

// Error names the code and Meta's message, numbers masked.
func (e *GraphError) Error() string {
	msg := gateway.Mask(firstNonEmpty(e.Message, http.StatusText(e.HTTPStatus)))
	if e.Details != "" {
		msg += ": " + gateway.Mask(e.Details)
	}
	if e.Code == 0 && e.Message == "" {
		return fmt.Sprintf("graph api: HTTP %d %s", e.HTTPStatus, msg)
	}
	return fmt.Sprintf("graph api: HTTP %d, code %d: %s", e.HTTPStatus, e.Code, msg)
}

// parseGraphError reads an error answer; a body that is not Meta's error
// object gives a GraphError with only the HTTP status.
func parseGraphError(status int, h http.Header, body []byte, now time.Time) *GraphError {
	var env struct {
		Error *struct {
			Message   string `json:"message"`
			Type      string `json:"type"`
			Code      int    `json:"code"`
			Subcode   int    `json:"error_subcode"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
			FBTraceID string `json:"fbtrace_id"`
		} `json:"error"`
	}
	ge := &GraphError{HTTPStatus: status, RetryAfter: retryAfter(h, now)}
	if json.Unmarshal(body, &env) == nil && env.Error != nil {
		e := env.Error
		ge.Code, ge.Subcode, ge.Type, ge.Message, ge.Details, ge.FBTraceID = e.Code, e.Subcode, e.Type, e.Message, e.ErrorData.Details, e.FBTraceID
	}
	return ge
}

// metaCode is what chatgate knows of one Meta error code.
type metaCode struct {
	reason    string        // readable, for the person reading a failed message
	temporary bool          // a later attempt can succeed
	wait      time.Duration // at least this long before the next attempt
	pause     pauseScope    // what to slow down besides the retry
	state     State         // the number's state the code reveals ("" none)
}

type pauseScope int

const (
	pauseNone   pauseScope = iota
	pauseNumber            // every send from the business number
	pausePair              // sends from the number to this contact
)

// metaCodes are Meta's codes chatgate treats specially. Codes not listed
// are permanent with Meta's own message, except HTTP 429 and 5xx answers,
// which are temporary.
var metaCodes = map[int]metaCode{
	ErrCodeReengagement:  {reason: "outside WhatsApp's 24-hour customer service window: send an approved template"},
	ErrCodeThroughput:    {reason: "the business number's throughput limit was hit", temporary: true, wait: time.Second, pause: pauseNumber},
	ErrCodePairRateLimit: {reason: "too many messages to this contact in a short time (Meta's pair rate limit)", temporary: true, wait: DefaultPairInterval, pause: pausePair},
	ErrCodeWABARateLimit: {reason: "the WhatsApp Business Account's API rate limit was hit", temporary: true, wait: 30 * time.Second, pause: pauseNumber},
	4:                    {reason: "the Meta app's API rate limit was hit", temporary: true, wait: 30 * time.Second, pause: pauseNumber},
	613:                  {reason: "the Graph API's call rate limit was hit", temporary: true, wait: 30 * time.Second, pause: pauseNumber},
	131048:               {reason: "Meta limits this number's messages because many were marked as spam", temporary: true, wait: 30 * time.Second, pause: pauseNumber},
	133016:               {reason: "too many registration attempts for this number", temporary: true, wait: 30 * time.Second, pause: pauseNumber},
	131053:               {reason: "Meta could not process the media; it may succeed later", temporary: true},
	131000:               {reason: "Meta failed to send the message for an unknown reason", temporary: true},
	131016:               {reason: "the WhatsApp service is overloaded", temporary: true, wait: time.Second},
	1:                    {reason: "the Graph API failed for an unknown reason", temporary: true},
	2:                    {reason: "the Graph API is temporarily unavailable", temporary: true, wait: time.Second},

	ErrCodeAccessToken: {reason: "Meta refused the access token (invalid or expired): issue a new system user token", state: StateTokenInvalid},
	102:                {reason: "Meta refused the API session: issue a new access token", state: StateTokenInvalid},
	463:                {reason: "the access token expired: issue a new system user token", state: StateTokenInvalid},
	467:                {reason: "the access token is invalid: issue a new system user token", state: StateTokenInvalid},
	3:                  {reason: "the Meta app lacks the capability to send: check its WhatsApp product setup", state: StatePermissionDenied},
	10:                 {reason: "the access token lacks a permission (whatsapp_business_messaging or whatsapp_business_management)", state: StatePermissionDenied},
	200:                {reason: "the access token lacks a permission on this WhatsApp Business Account or number", state: StatePermissionDenied},
	131005:             {reason: "access denied: the token may not use this number", state: StatePermissionDenied},
	131031:             {reason: "the WhatsApp Business Account is locked or restricted", state: StateAccountRestricted},
	368:                {reason: "the account is temporarily blocked for policy violations", state: StateAccountRestricted},
	131042:             {reason: "the WhatsApp Business Account has a payment problem (no valid payment method, or over its credit line)", state: StatePaymentRequired},
	133010:             {reason: "the business number is not registered on the Cloud API", state: StateNumberNotRegistered},

	131026: {reason: "the message could not be delivered: the contact's number may not be on WhatsApp, or cannot receive it"},
	131030: {reason: "the contact's number is not in the test number's allowed list"},
	131021: {reason: "the contact is the business number itself"},
	131049: {reason: "Meta chose not to deliver this marketing message to keep the contact's experience healthy; try later or send another kind"},
	131050: {reason: "the contact stopped receiving marketing messages from this business"},
	131051: {reason: "the message type is not supported"},
	131052: {reason: "Meta could not download the media"},
	131008: {reason: "a required parameter is missing"},
	131009: {reason: "a parameter value is invalid"},
	100:    {reason: "Meta refused a parameter of the request"},
	132000: {reason: "the template's variables do not match its parameters in number"},
	132001: {reason: "the template does not exist in this language, or is not approved yet"},
	132005: {reason: "the template's text with its variables is too long"},
	132007: {reason: "the template's variables break WhatsApp's format rules"},
	132012: {reason: "the template's parameters are not in the format it expects"},
	132015: {reason: "the template is paused for low quality"},
	132016: {reason: "the template is disabled for low quality"},
}

// describeMetaError returns the code a failed message carries for Meta's
// code (CodeWindowClosed for re-engagement, else the number) and a
// readable message that keeps Meta's code, title and details (numbers
// masked): "outside … window: send an approved template (Meta 131047:
// Re-engagement message)".
func describeMetaError(code int, title, details string) (string, string) {
	codeStr := strconv.Itoa(code)
	if code == ErrCodeReengagement {
		codeStr = CodeWindowClosed
	}
	meta := strings.TrimSpace(gateway.Mask(title))
	if d := strings.TrimSpace(gateway.Mask(details)); d != "" && d != meta {
		if meta != "" {
			meta += ": "
		}
		meta += d
	}
	reason := metaCodes[code].reason
	switch {
	case reason != "" && meta != "":
		return codeStr, fmt.Sprintf("%s (Meta %d: %s)", reason, code, meta)
	case reason != "":
		return codeStr, fmt.Sprintf("%s (Meta %d)", reason, code)
	case meta != "":
		return codeStr, fmt.Sprintf("%s (Meta %d)", meta, code)
	}
	return codeStr, fmt.Sprintf("Meta error %d", code)
}

// classification is what one failed Graph API call means for the send.
type classification struct {
	err   *sender.Error
	pause pauseScope
	wait  time.Duration
	state State
}

// classify turns a Graph API error answer into a sender.Error, with what
// to slow down and the number's state. pairInterval is the configured pair
// limit interval, the wait after 131056.
func classify(ge *GraphError, pairInterval time.Duration) classification {
	mc, known := metaCodes[ge.Code]
	var code, msg string
	if ge.Code != 0 || ge.Message != "" {
		code, msg = describeMetaError(ge.Code, ge.Message, ge.Details)
	} else {
		code, msg = "http_"+strconv.Itoa(ge.HTTPStatus), fmt.Sprintf("Meta answered HTTP %d %s", ge.HTTPStatus, http.StatusText(ge.HTTPStatus))
	}
	if !known && ge.HTTPStatus == http.StatusUnauthorized {
		mc = metaCodes[ErrCodeAccessToken]
		if ge.Code == 0 {
			msg = mc.reason + " (HTTP 401)"
		}
	}
	if mc.state == "" && ge.Code >= 200 && ge.Code <= 299 {
		mc = metaCodes[200] // the permission codes 200–299
	}
	wait := mc.wait
	if ge.Code == ErrCodePairRateLimit && pairInterval > 0 {
		wait = pairInterval
	}
	wait = min(max(wait, ge.RetryAfter), MaxRetryAfter)
	c := classification{pause: mc.pause, wait: wait, state: mc.state}
	switch {
	case mc.temporary:
		c.err = sender.Temporary(code, msg, wait)
	case !known && (ge.HTTPStatus == http.StatusTooManyRequests || ge.HTTPStatus >= 500):
		if ge.HTTPStatus == http.StatusTooManyRequests {
			c.pause, c.wait = pauseNumber, max(wait, time.Second)
		}
		c.err = sender.Temporary(code, msg, c.wait)
	default:
		c.err = sender.Permanent(code, msg)
	}
	return c
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
