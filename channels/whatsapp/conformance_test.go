package whatsapp

import (
	"context"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/channeltest"
	"github.com/chatgate/chatgate/gateway/sender"
)

// conformanceEvent is the event whatsmeow hands the intake for m: a
// one-to-one message from m.From carrying msg.
func conformanceEvent(m channeltest.Message, id string, msg *waE2E.Message) *events.Message {
	from := types.NewJID(strings.TrimPrefix(m.From, "+"), types.DefaultUserServer)
	evt := &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: from, Sender: from},
			ID:            id, PushName: "Thandi", Timestamp: msgTime, Type: "text",
		},
		RawMessage: msg,
	}
	return evt.UnwrapRaw()
}

func TestConformance_Intake(t *testing.T) {
	t.Parallel()
	channeltest.RunIntake(t, channeltest.Intake[*events.Message]{
		Channel: gateway.ChannelWhatsApp,
		Refusal: channeltest.DeadLetter,
		New: func(t *testing.T, w channeltest.Wiring) func(context.Context, *events.Message) channeltest.Answer {
			c, _ := newTestConverter(t, &fakeDownloader{})
			// A short timeout: a publisher that keeps failing is retried
			// until then, and the suite waits for the refusal.
			intake := &Intake{Converter: c, Publisher: w.Publisher, Topics: w.Topics, Logger: w.Logger, Timeout: 300 * time.Millisecond}
			client := &fakeClient{}
			client.AddEventHandlerWithSuccessStatus(intake.Handler(t.Context()))
			return func(_ context.Context, evt *events.Message) channeltest.Answer {
				return channeltest.Answer{Acked: client.dispatch(evt)}
			}
		},
		Valid: func(t *testing.T, m channeltest.Message) *events.Message {
			return conformanceEvent(m, m.ID, &waE2E.Message{Conversation: proto.String(m.Text)})
		},
		Invalid: []channeltest.Case[*events.Message]{
			{Name: "message id with trailing white space", Build: func(t *testing.T, m channeltest.Message) *events.Message {
				return conformanceEvent(m, m.ID+" ", &waE2E.Message{Conversation: proto.String(m.Text)})
			}},
			{Name: "location not finite", Build: func(t *testing.T, m channeltest.Message) *events.Message {
				return conformanceEvent(m, m.ID, &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
					DegreesLatitude: proto.Float64(math.NaN()), DegreesLongitude: proto.Float64(18.4), Name: proto.String(m.Text)}})
			}},
		},
	})
}

func TestConformance_Sender(t *testing.T) {
	t.Parallel()
	channeltest.RunSender(t, channeltest.Sender{
		Channel: gateway.ChannelWhatsApp,
		// What classifySendError asks for on WhatsApp's rate limit (IQ 429).
		RetryAfter: 30 * time.Second,
		New: func(t *testing.T, w channeltest.SendWiring) sender.Provider {
			var calls atomic.Int64
			client := &fakeClient{SendMessageFunc: func(context.Context, types.JID, *waE2E.Message, whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
				n := int(calls.Add(1) - 1)
				switch w.Answer(n) {
				case channeltest.FailTemporarily:
					return whatsmeow.SendResponse{}, whatsmeow.ErrMessageTimedOut
				case channeltest.FailPermanently:
					return whatsmeow.SendResponse{}, whatsmeow.ErrRecipientADJID
				case channeltest.RateLimit:
					return whatsmeow.SendResponse{}, &whatsmeow.IQError{Code: 429, Text: "rate-overlimit"}
				}
				return whatsmeow.SendResponse{}, nil
			}}
			// No device rate or recipient gap: the suite's retries would wait for them.
			p, err := NewProvider(ProviderConfig{Client: client, DeviceRate: rate.Inf, RecipientGap: time.Nanosecond})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
	})
}
