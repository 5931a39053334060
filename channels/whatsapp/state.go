package whatsapp

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/chatgate/chatgate/gateway"
)

// State is a device's connection state, as metrics, logs and
// chatgate.channel.state events name it.
type State string

// Device states. The last three are permanent: the process stops
// reconnecting and an operator must act (re-pair, wait out the ban, or stop
// the other client using the session).
const (
	StateConnected         State = "connected"
	StateDisconnected      State = "disconnected"
	StateLoggedOut         State = "logged_out"
	StateTemporarilyBanned State = "temporarily_banned"
	StateStreamReplaced    State = "stream_replaced"
)

// AllStates lists every state, in a stable order.
var AllStates = []State{StateConnected, StateDisconnected, StateLoggedOut, StateTemporarilyBanned, StateStreamReplaced}

// Permanent reports whether s stops the reconnect loop.
func (s State) Permanent() bool {
	return s == StateLoggedOut || s == StateTemporarilyBanned || s == StateStreamReplaced
}

// Code is the state as a typed code for operators, in the style of
// mautrix's bridge states: "wa-logged-out".
func (s State) Code() string {
	switch s {
	case StateConnected:
		return "wa-connected"
	case StateDisconnected:
		return "wa-transient-disconnect"
	case StateLoggedOut:
		return "wa-logged-out"
	case StateTemporarilyBanned:
		return "wa-temporarily-banned"
	case StateStreamReplaced:
		return "wa-stream-replaced"
	}
	return "wa-unknown"
}

var deviceState = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "chatgate_whatsapp_device_state",
	Help: "1 for the current connection state of each served WhatsApp device (by configured name), 0 for the others.",
}, []string{"device", "state"})

// setStateGauge makes s the one state of device at 1.
func setStateGauge(device string, s State) {
	for _, st := range AllStates {
		v := 0.0
		if st == s {
			v = 1
		}
		deviceState.WithLabelValues(device, string(st)).Set(v)
	}
}

// stateOf maps a whatsmeow connection event to a state; ok is false for
// every other event.
func stateOf(evt any) (s State, reason string, ok bool) {
	switch e := evt.(type) {
	case *events.Connected:
		return StateConnected, "", true
	case *events.Disconnected:
		return StateDisconnected, "websocket closed", true
	case *events.KeepAliveTimeout:
		return StateDisconnected, "keepalive timeout", true
	case *events.LoggedOut:
		return StateLoggedOut, e.PermanentDisconnectDescription(), true
	case *events.StreamReplaced:
		return StateStreamReplaced, "another client connected with this session", true
	case *events.TemporaryBan:
		return StateTemporarilyBanned, e.String(), true
	case *events.ClientOutdated:
		// Not one of the five states: reconnecting cannot help, and an
		// upgrade of chatgate (whatsmeow) is needed; the device is logged out
		// from the operator's point of view until then.
		return StateLoggedOut, "client outdated: upgrade chatgate", true
	}
	return "", "", false
}

// TypeChannelState is the CloudEvents type of a ChannelState record.
const TypeChannelState = "chatgate.channel.state"

// ChannelState is the data of a chatgate.channel.state record on the status
// topic: a device's connection state changed.
type ChannelState struct {
	Channel gateway.Channel `json:"channel"`
	Device  string          `json:"device"` // the configured device name, not the number
	State   State           `json:"state"`
	Code    string          `json:"code"`
	Reason  string          `json:"reason,omitempty"`
	At      time.Time       `json:"at"`
}

// Record encodes the change as its CloudEvent record for topic, keyed by
// "whatsapp:device:NAME" so one device's changes stay in order.
func (c ChannelState) Record(source, topic string) (gateway.Message, error) {
	key := string(c.Channel) + ":device:" + c.Device
	id := "state:" + key + ":" + string(c.State) + ":" + c.At.UTC().Format(time.RFC3339Nano)
	return gateway.EncodeRecord(topic, key, id, source, TypeChannelState, key, c.At, c)
}
