package cloudapi

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/chatgate/chatgate/gateway"
)

// State is a business number's state as the Graph API's answers reveal it,
// as metrics, logs and chatgate.channel.state events name it. Every state
// but StateOK needs an operator: retrying cannot help until they act.
type State string

// Number states.
const (
	// StateOK: the last send was accepted.
	StateOK State = "ok"
	// StateTokenInvalid: Meta refused the access token (190, 102, 463,
	// 467, HTTP 401): issue a new system user token.
	StateTokenInvalid State = "token_invalid"
	// StatePermissionDenied: the token lacks a permission on the number or
	// its WABA (10, 200–299, 131005, 3).
	StatePermissionDenied State = "permission_denied"
	// StateAccountRestricted: the WABA is locked, restricted or blocked
	// for policy violations (131031, 368).
	StateAccountRestricted State = "account_restricted"
	// StatePaymentRequired: the WABA has no valid payment method or is
	// over its credit line (131042).
	StatePaymentRequired State = "payment_required"
	// StateNumberNotRegistered: the number is not registered on the Cloud
	// API (133010).
	StateNumberNotRegistered State = "number_not_registered"
)

// AllStates lists every state, in a stable order.
var AllStates = []State{StateOK, StateTokenInvalid, StatePermissionDenied, StateAccountRestricted, StatePaymentRequired, StateNumberNotRegistered}

// Code is the state as a typed code for operators' alerts, in the style of
// the linked-device channel's "wa-logged-out".
func (s State) Code() string {
	switch s {
	case StateOK:
		return "wa-cloud-ok"
	case StateTokenInvalid:
		return "wa-cloud-token-invalid"
	case StatePermissionDenied:
		return "wa-cloud-permission-denied"
	case StateAccountRestricted:
		return "wa-cloud-account-restricted"
	case StatePaymentRequired:
		return "wa-cloud-payment-required"
	case StateNumberNotRegistered:
		return "wa-cloud-number-not-registered"
	}
	return "wa-cloud-unknown"
}

// operatorAction says what an operator must do about s.
func operatorAction(s State) string {
	switch s {
	case StateTokenInvalid:
		return "issue a new system user access token with whatsapp_business_messaging and whatsapp_business_management and restart the sender"
	case StatePermissionDenied:
		return "give the system user the number's WABA with full control in Business Manager, or add the missing permission to the token"
	case StateAccountRestricted:
		return "check the WhatsApp Business Account's status and policy notices in WhatsApp Manager"
	case StatePaymentRequired:
		return "add a valid payment method or raise the credit line in WhatsApp Manager"
	case StateNumberNotRegistered:
		return "register the number for the Cloud API (POST /{phone_number_id}/register)"
	}
	return ""
}

var numberState = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "chatgate_cloudapi_number_state",
	Help: "1 for the current state of each WhatsApp Cloud API business number (by phone_number_id), 0 for the others; alert on any state but ok.",
}, []string{"phone_number_id", "state"})

// setStateGauge makes s the one state of the number at 1.
func setStateGauge(phoneNumberID string, s State) {
	for _, st := range AllStates {
		v := 0.0
		if st == s {
			v = 1
		}
		numberState.WithLabelValues(phoneNumberID, string(st)).Set(v)
	}
}

// TypeChannelState is the CloudEvents type of a ChannelState record, the
// one the linked-device channel uses for its device states.
const TypeChannelState = "chatgate.channel.state"

// ChannelState is the data of a chatgate.channel.state record on the
// status topic: a business number's state changed.
type ChannelState struct {
	Channel       gateway.Channel `json:"channel"`
	Provider      string          `json:"provider"` // always "whatsapp-cloud"
	PhoneNumberID string          `json:"phone_number_id"`
	State         State           `json:"state"`
	Code          string          `json:"code"`
	Reason        string          `json:"reason,omitempty"`
	Action        string          `json:"action,omitempty"`
	At            time.Time       `json:"at"`
}

// ProviderName names the Cloud API among the providers of the WhatsApp
// channel (linked device, Twilio, Cloud API).
const ProviderName = "whatsapp-cloud"

// Record encodes the change as its CloudEvent record for topic, keyed by
// "whatsapp:cloudapi:PHONE_NUMBER_ID" so one number's changes stay in order.
func (c ChannelState) Record(source, topic string) (gateway.Message, error) {
	key := string(c.Channel) + ":cloudapi:" + c.PhoneNumberID
	id := "state:" + key + ":" + string(c.State) + ":" + c.At.UTC().Format(time.RFC3339Nano)
	return gateway.EncodeRecord(topic, key, id, source, TypeChannelState, key, c.At, c)
}
