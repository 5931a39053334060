package twilio

import "github.com/chatgate/chatgate/gateway"

// statusMapping maps Twilio's MessageStatus values of an outbound message
// onto chatgate's delivery states. The worker applies a state only if it
// ranks above the message's current one (gateway.DeliveryStatus.Rank), so
// callbacks that arrive late or out of order never move a message backwards.
var statusMapping = map[string]gateway.DeliveryStatus{
	// A messaging service accepted the message and has not picked a sender
	// yet, or will send it at a scheduled time: waiting at Twilio.
	"accepted":  gateway.StatusQueued,
	"scheduled": gateway.StatusQueued,
	"queued":    gateway.StatusQueued,
	"sending":   gateway.StatusSending,
	"sent":      gateway.StatusSent,
	// Some but not all segments reached the handset: more than sent, and
	// not a delivery chatgate can vouch for.
	"partially_delivered": gateway.StatusSent,
	"delivered":           gateway.StatusDelivered,
	"read":                gateway.StatusRead,
	// Twilio gave up: the carrier refused it (undelivered) or it never left
	// Twilio (failed). ErrorCode says why.
	"undelivered": gateway.StatusFailed,
	"failed":      gateway.StatusFailed,
	// A scheduled message canceled before its time: it will never be sent.
	"canceled": gateway.StatusFailed,
}

// inboundStatuses are the states of a message a contact sent. They reach the
// status webhook only when Twilio is set up to report inbound messages
// there, and say nothing about a message chatgate sent.
var inboundStatuses = map[string]bool{"receiving": true, "received": true}

// MapStatus returns chatgate's delivery state for Twilio's MessageStatus of
// an outbound message, and whether there is one: false for "receiving" and
// "received" (states of inbound messages) and for values Twilio does not
// document.
func MapStatus(twilioStatus string) (gateway.DeliveryStatus, bool) {
	st, ok := statusMapping[twilioStatus]
	return st, ok
}
