package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/testkit"
)

var (
	contactJID  = types.NewJID("27821234567", types.DefaultUserServer)
	ownJID      = types.NewJID("27110000000", types.DefaultUserServer)
	contactAddr = "+27821234567"
	ownAddr     = "+27110000000"
	msgTime     = time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)
)

// fakeDownloader returns fixed bytes, or an error, per direct path.
type fakeDownloader struct {
	mu    sync.Mutex
	data  map[string][]byte
	err   error
	calls int
}

func (d *fakeDownloader) Download(_ context.Context, m whatsmeow.DownloadableMessage) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.err != nil {
		return nil, d.err
	}
	b, ok := d.data[m.GetDirectPath()]
	if !ok {
		return nil, whatsmeow.ErrMediaDownloadFailedWith404
	}
	return b, nil
}

// incoming builds a one-to-one message event the way whatsmeow does: the
// raw protobuf unwrapped by events.Message.UnwrapRaw.
func incoming(id string, msg *waE2E.Message) *events.Message {
	evt := &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: contactJID, Sender: contactJID},
			ID:            id, PushName: "Thandi", Timestamp: msgTime, Type: "text",
		},
		RawMessage: msg,
	}
	return evt.UnwrapRaw()
}

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func newTestConverter(t *testing.T, dl Downloader) (*Converter, string) {
	t.Helper()
	dir := t.TempDir()
	return &Converter{
		Own:   ownAddr,
		Media: &MediaSaver{Downloader: dl, Store: &FileStore{Dir: dir}},
		Now:   func() time.Time { return msgTime.Add(time.Hour) },
	}, dir
}

func TestConverter_Message(t *testing.T) {
	t.Parallel()
	img := []byte("\xff\xd8\xff jpeg bytes")
	ogg := []byte("OggS voice")
	pdf := []byte("%PDF-1.7 invoice")
	dl := &fakeDownloader{data: map[string][]byte{"/img": img, "/ogg": ogg, "/pdf": pdf, "/vid": []byte("mp4"), "/stk": []byte("webp")}}

	base := func(kind gateway.InboundKind) gateway.Inbound {
		return gateway.Inbound{
			Channel: gateway.ChannelWhatsApp, ProviderID: "3A0001", From: contactAddr, To: ownAddr,
			Kind: kind, ContactName: "Thandi", ReceivedAt: msgTime,
		}
	}
	quote := &waE2E.ContextInfo{StanzaID: proto.String("3AQUOTED"), Participant: proto.String(contactJID.String())}
	tests := []struct {
		name string
		msg  *waE2E.Message
		want func(in *gateway.Inbound)
		// media, when set, is the content the stored blob must have.
		media []byte
	}{
		{
			name: "text",
			msg:  &waE2E.Message{Conversation: proto.String("Hello, my order is late")},
			want: func(in *gateway.Inbound) { in.Text = "Hello, my order is late" },
		},
		{
			name: "extended text replying to a message",
			msg:  &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("see https://x.example"), ContextInfo: quote}},
			want: func(in *gateway.Inbound) { in.Text, in.ReplyTo = "see https://x.example", "3AQUOTED" },
		},
		{
			name: "image with caption",
			msg: &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
				Caption: proto.String("the damage"), Mimetype: proto.String("image/jpeg"),
				DirectPath: proto.String("/img"), FileSHA256: sum(img), FileLength: proto.Uint64(uint64(len(img))), MediaKey: []byte("k"),
				ContextInfo: quote,
			}},
			want: func(in *gateway.Inbound) {
				in.Kind, in.Text, in.ReplyTo = gateway.KindMedia, "the damage", "3AQUOTED"
				in.Media = []gateway.Media{{ContentType: "image/jpeg", Size: int64(len(img)), SHA256: hex.EncodeToString(sum(img))}}
			},
			media: img,
		},
		{
			name: "voice note",
			msg: &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
				PTT: proto.Bool(true), Mimetype: proto.String("audio/ogg; codecs=opus"),
				DirectPath: proto.String("/ogg"), FileSHA256: sum(ogg), FileLength: proto.Uint64(uint64(len(ogg))),
			}},
			want: func(in *gateway.Inbound) {
				in.Kind = gateway.KindMedia
				in.Media = []gateway.Media{{ContentType: "audio/ogg; codecs=opus", Size: int64(len(ogg)), SHA256: hex.EncodeToString(sum(ogg))}}
			},
			media: ogg,
		},
		{
			name: "video",
			msg: &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
				Caption: proto.String("watch"), Mimetype: proto.String("video/mp4"), DirectPath: proto.String("/vid"), FileSHA256: sum([]byte("mp4")),
			}},
			want: func(in *gateway.Inbound) {
				in.Kind, in.Text = gateway.KindMedia, "watch"
				in.Media = []gateway.Media{{ContentType: "video/mp4", Size: 3, SHA256: hex.EncodeToString(sum([]byte("mp4")))}}
			},
			media: []byte("mp4"),
		},
		{
			name: "document with caption",
			msg: &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
				Caption: proto.String("my invoice"), FileName: proto.String("Invoice 42.PDF"), Mimetype: proto.String("application/pdf"),
				DirectPath: proto.String("/pdf"), FileSHA256: sum(pdf), FileLength: proto.Uint64(uint64(len(pdf))),
			}}}},
			want: func(in *gateway.Inbound) {
				in.Kind, in.Text = gateway.KindMedia, "my invoice"
				in.Media = []gateway.Media{{ContentType: "application/pdf", FileName: "Invoice 42.PDF", Size: int64(len(pdf)), SHA256: hex.EncodeToString(sum(pdf))}}
			},
			media: pdf,
		},
		{
			name: "sticker",
			msg: &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
				Mimetype: proto.String("image/webp"), DirectPath: proto.String("/stk"), FileSHA256: sum([]byte("webp")),
			}},
			want: func(in *gateway.Inbound) {
				in.Kind = gateway.KindMedia
				in.Media = []gateway.Media{{ContentType: "image/webp", Size: 4, SHA256: hex.EncodeToString(sum([]byte("webp")))}}
			},
			media: []byte("webp"),
		},
		{
			name: "location",
			msg: &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
				DegreesLatitude: proto.Float64(-33.9249), DegreesLongitude: proto.Float64(18.4241),
				Name: proto.String("Shop"), Address: proto.String("1 Long St"),
			}},
			want: func(in *gateway.Inbound) {
				in.Kind = gateway.KindLocation
				in.Location = &gateway.Location{Latitude: -33.9249, Longitude: 18.4241, Name: "Shop", Address: "1 Long St"}
			},
		},
		{
			name: "live location",
			msg: &waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{
				DegreesLatitude: proto.Float64(1.5), DegreesLongitude: proto.Float64(2.5), Caption: proto.String("on my way"),
			}},
			want: func(in *gateway.Inbound) {
				in.Kind, in.Text = gateway.KindLocation, "on my way"
				in.Location = &gateway.Location{Latitude: 1.5, Longitude: 2.5}
			},
		},
		{
			name: "one contact",
			msg:  &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Sipho"), Vcard: proto.String("BEGIN:VCARD\nFN:Sipho\nEND:VCARD")}},
			want: func(in *gateway.Inbound) {
				in.Kind, in.Contacts = gateway.KindContacts, []string{"BEGIN:VCARD\nFN:Sipho\nEND:VCARD"}
			},
		},
		{
			name: "several contacts",
			msg: &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{Contacts: []*waE2E.ContactMessage{
				{Vcard: proto.String("BEGIN:VCARD\nFN:A\nEND:VCARD")}, {Vcard: proto.String("")}, {Vcard: proto.String("BEGIN:VCARD\nFN:B\nEND:VCARD")},
			}}},
			want: func(in *gateway.Inbound) {
				in.Kind, in.Contacts = gateway.KindContacts, []string{"BEGIN:VCARD\nFN:A\nEND:VCARD", "BEGIN:VCARD\nFN:B\nEND:VCARD"}
			},
		},
		{
			name: "reaction",
			msg:  &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Key: &waCommon.MessageKey{ID: proto.String("3EB0OURS")}, Text: proto.String("👍")}},
			want: func(in *gateway.Inbound) {
				in.Kind, in.TargetID, in.Reaction = gateway.KindReaction, "3EB0OURS", "👍"
			},
		},
		{
			name: "reaction removed",
			msg:  &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Key: &waCommon.MessageKey{ID: proto.String("3EB0OURS")}, Text: proto.String("")}},
			want: func(in *gateway.Inbound) { in.Kind, in.TargetID = gateway.KindReaction, "3EB0OURS" },
		},
		{
			name: "edit",
			msg: &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
				Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), Key: &waCommon.MessageKey{ID: proto.String("3AORIGINAL")},
				EditedMessage: &waE2E.Message{Conversation: proto.String("corrected text")},
			}}}},
			want: func(in *gateway.Inbound) {
				in.Kind, in.TargetID, in.Text = gateway.KindEdit, "3AORIGINAL", "corrected text"
			},
		},
		{
			name: "revoke",
			msg: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
				Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: &waCommon.MessageKey{ID: proto.String("3AORIGINAL")},
			}},
			want: func(in *gateway.Inbound) { in.Kind, in.TargetID = gateway.KindRevoke, "3AORIGINAL" },
		},
		{
			name: "button reply",
			msg: &waE2E.Message{ButtonsResponseMessage: &waE2E.ButtonsResponseMessage{
				SelectedButtonID: proto.String("yes-1"),
				Response:         &waE2E.ButtonsResponseMessage_SelectedDisplayText{SelectedDisplayText: "YES"},
			}},
			want: func(in *gateway.Inbound) {
				in.Kind, in.Text, in.Button = gateway.KindButton, "YES", &gateway.Button{Text: "YES", Payload: "yes-1"}
			},
		},
		{
			name: "template button reply",
			msg: &waE2E.Message{TemplateButtonReplyMessage: &waE2E.TemplateButtonReplyMessage{
				SelectedID: proto.String("opt-no"), SelectedDisplayText: proto.String("NO"),
			}},
			want: func(in *gateway.Inbound) {
				in.Kind, in.Text, in.Button = gateway.KindButton, "NO", &gateway.Button{Text: "NO", Payload: "opt-no"}
			},
		},
		{
			name: "long text is truncated to the record limit",
			msg:  &waE2E.Message{Conversation: proto.String(strings.Repeat("é", gateway.MaxTextLen+10))},
			want: func(in *gateway.Inbound) { in.Text = strings.Repeat("é", gateway.MaxTextLen-1) + "…" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, dir := newTestConverter(t, dl)
			got, err := c.Message(context.Background(), incoming("3A0001", tt.msg))
			if err != nil {
				t.Fatalf("Message: %v", err)
			}
			if got.Inbound == nil || got.Phone != nil || got.Skip != "" {
				t.Fatalf("Message = %+v, want an inbound record", got)
			}
			want := base(gateway.KindText)
			tt.want(&want)
			in := *got.Inbound
			if tt.media != nil {
				if len(in.Media) != 1 {
					t.Fatalf("media = %+v, want one", in.Media)
				}
				u, err := url.Parse(in.Media[0].URL)
				if err != nil || u.Scheme != "file" || !strings.HasPrefix(u.Path, dir) {
					t.Fatalf("media URL %q: want a file:// URL under %s", in.Media[0].URL, dir)
				}
				stored, err := os.ReadFile(u.Path)
				if err != nil || !bytes.Equal(stored, tt.media) {
					t.Fatalf("stored blob = %q, %v; want %q", stored, err, tt.media)
				}
				in.Media[0].URL = ""
			}
			if diff := cmp.Diff(want, in, testkit.ExactTime); diff != "" {
				t.Fatalf("inbound (-want +got):\n%s", diff)
			}
			got.Inbound.Media = nil
			if tt.media != nil {
				got.Inbound.Media = []gateway.Media{{URL: "file:///x"}}
			}
			if err := got.Inbound.Validate(); err != nil {
				t.Fatalf("record does not validate: %v", err)
			}
		})
	}
}

func TestConverter_Skips(t *testing.T) {
	t.Parallel()
	group := types.NewJID("120363000000000001", types.GroupServer)
	tests := []struct {
		name string
		evt  func() *events.Message
		want string
	}{
		{name: "group by default", want: SkipGroup, evt: func() *events.Message {
			e := incoming("3A1", &waE2E.Message{Conversation: proto.String("hi all")})
			e.Info.Chat, e.Info.IsGroup = group, true
			return e
		}},
		{name: "status broadcast", want: SkipBroadcast, evt: func() *events.Message {
			e := incoming("3A2", &waE2E.Message{Conversation: proto.String("my status")})
			e.Info.Chat = types.StatusBroadcastJID
			return e
		}},
		{name: "poll", want: SkipUnsupported, evt: func() *events.Message {
			return incoming("3A3", &waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("?")}})
		}},
		{name: "history sync notification", want: SkipProtocol, evt: func() *events.Message {
			return incoming("3A4", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_HISTORY_SYNC_NOTIFICATION.Enum()}})
		}},
		{name: "empty text", want: SkipEmpty, evt: func() *events.Message {
			return incoming("3A5", &waE2E.Message{Conversation: proto.String("")})
		}},
		{name: "no message", want: SkipEmpty, evt: func() *events.Message {
			return &events.Message{Info: types.MessageInfo{MessageSource: types.MessageSource{Chat: contactJID, Sender: contactJID}, ID: "3A6"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newTestConverter(t, &fakeDownloader{})
			got, err := c.Message(context.Background(), tt.evt())
			if err != nil || got.Skip != tt.want || got.Inbound != nil || got.Phone != nil {
				t.Fatalf("Message = %+v, %v; want skip %q", got, err, tt.want)
			}
		})
	}
}

func TestConverter_GroupsWhenEnabled(t *testing.T) {
	t.Parallel()
	c, _ := newTestConverter(t, &fakeDownloader{})
	c.Groups = true
	e := incoming("3AG", &waE2E.Message{Conversation: proto.String("hi all")})
	e.Info.Chat, e.Info.IsGroup = types.NewJID("120363000000000001", types.GroupServer), true
	got, err := c.Message(context.Background(), e)
	if err != nil || got.Inbound == nil {
		t.Fatalf("Message = %+v, %v", got, err)
	}
	if got.Inbound.From != contactAddr || got.Inbound.To != "group:120363000000000001" {
		t.Fatalf("from/to = %q/%q", got.Inbound.From, got.Inbound.To)
	}
}

func TestConverter_FromPhone(t *testing.T) {
	t.Parallel()
	c, _ := newTestConverter(t, &fakeDownloader{})
	// A message typed on the business's phone reaches the linked device
	// wrapped in a DeviceSentMessage; whatsmeow unwraps it.
	evt := (&events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{Chat: contactJID, Sender: ownJID, IsFromMe: true},
			ID:            "3AFROMPHONE", Timestamp: msgTime,
		},
		RawMessage: &waE2E.Message{DeviceSentMessage: &waE2E.DeviceSentMessage{
			DestinationJID: proto.String(contactJID.String()),
			Message:        &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("We shipped it"), ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("3AQ")}}},
		}},
	}).UnwrapRaw()
	got, err := c.Message(context.Background(), evt)
	if err != nil || got.Phone == nil || got.Inbound != nil {
		t.Fatalf("Message = %+v, %v; want a phone message", got, err)
	}
	want := PhoneMessage{
		Channel: gateway.ChannelWhatsApp, ProviderID: "3AFROMPHONE", Contact: contactAddr, From: ownAddr,
		SentBy: SentByPhone, Kind: gateway.KindText, Text: "We shipped it", ReplyTo: "3AQ", SentAt: msgTime,
	}
	if diff := cmp.Diff(want, *got.Phone, testkit.ExactTime); diff != "" {
		t.Fatalf("phone (-want +got):\n%s", diff)
	}
	m, err := got.Phone.Record("chatgate/channels/whatsapp", "chatgate.status")
	if err != nil {
		t.Fatal(err)
	}
	ev, data, err := gateway.DecodeRecord[PhoneMessage](m.Value)
	if err != nil || ev.Type != TypePhoneMessage || ev.ID != "phone:whatsapp:3AFROMPHONE" || string(m.Key) != "whatsapp:"+contactAddr {
		t.Fatalf("record: %+v %v key=%s", ev, err, m.Key)
	}
	if diff := cmp.Diff(want, data, testkit.ExactTime); diff != "" {
		t.Fatalf("decoded (-want +got):\n%s", diff)
	}
}

func TestConverter_LIDSender(t *testing.T) {
	t.Parallel()
	lid := types.NewJID("99887766554433", types.HiddenUserServer)
	c, _ := newTestConverter(t, &fakeDownloader{})
	c.LIDs = lidMap{lid: contactJID}
	e := incoming("3AL", &waE2E.Message{Conversation: proto.String("hi")})
	e.Info.Chat, e.Info.Sender, e.Info.AddressingMode = lid, lid, types.AddressingModeLID
	got, err := c.Message(context.Background(), e)
	if err != nil || got.Inbound == nil || got.Inbound.From != contactAddr {
		t.Fatalf("Message = %+v, %v; want From %s", got.Inbound, err, contactAddr)
	}
}

func TestConverter_MediaFailures(t *testing.T) {
	t.Parallel()
	image := func(size uint64) *waE2E.Message {
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			Mimetype: proto.String("image/jpeg"), DirectPath: proto.String("/img"), FileLength: proto.Uint64(size), Caption: proto.String("c"),
		}}
	}
	tests := []struct {
		name    string
		err     error
		size    uint64
		wantURL string
		wantErr bool
	}{
		{name: "gone from the server", err: whatsmeow.ErrMediaDownloadFailedWith410, size: 10, wantURL: "unavailable:gone"},
		{name: "not on the phone any more", err: whatsmeow.ErrMediaNotAvailableOnPhone, size: 10, wantURL: "unavailable:gone"},
		{name: "corrupt", err: whatsmeow.ErrInvalidMediaHMAC, size: 10, wantURL: "unavailable:corrupt"},
		{name: "too large", size: DefaultMaxMediaBytes + 1, wantURL: "unavailable:too_large"},
		{name: "network error is temporary", err: errors.New("dial tcp: i/o timeout"), size: 10, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dl := &fakeDownloader{err: tt.err}
			c, _ := newTestConverter(t, dl)
			got, err := c.Message(context.Background(), incoming("3AM", image(tt.size)))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Message = %+v; want a temporary error", got)
				}
				return
			}
			if err != nil || got.Inbound == nil {
				t.Fatalf("Message = %+v, %v", got, err)
			}
			m := got.Inbound.Media
			if len(m) != 1 || m[0].URL != tt.wantURL || m[0].ContentType != "image/jpeg" || got.Inbound.Text != "c" {
				t.Fatalf("media = %+v, text %q; want URL %q", m, got.Inbound.Text, tt.wantURL)
			}
			if err := got.Inbound.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConverter_Receipt(t *testing.T) {
	t.Parallel()
	at := msgTime.Add(time.Minute)
	receipt := func(typ types.ReceiptType, ids ...string) *events.Receipt {
		return &events.Receipt{
			MessageSource: types.MessageSource{Chat: contactJID, Sender: contactJID},
			MessageIDs:    ids, Timestamp: at, Type: typ,
		}
	}
	st := func(id string, s gateway.DeliveryStatus, ps string) gateway.Status {
		return gateway.Status{Channel: gateway.ChannelWhatsApp, Contact: contactAddr, ProviderID: id, Status: s, ProviderStatus: ps, At: at}
	}
	tests := []struct {
		name string
		evt  *events.Receipt
		want []gateway.Status
	}{
		{name: "delivered", evt: receipt(types.ReceiptTypeDelivered, "3EB0A"), want: []gateway.Status{st("3EB0A", gateway.StatusDelivered, "delivered")}},
		{name: "read, several ids", evt: receipt(types.ReceiptTypeRead, "3EB0A", "3EB0B"), want: []gateway.Status{
			st("3EB0A", gateway.StatusRead, "read"), st("3EB0B", gateway.StatusRead, "read"),
		}},
		{name: "played is read", evt: receipt(types.ReceiptTypePlayed, "3EB0C"), want: []gateway.Status{st("3EB0C", gateway.StatusRead, "played")}},
		{name: "read on our own phone", evt: receipt(types.ReceiptTypeReadSelf, "3AX")},
		{name: "retry", evt: receipt(types.ReceiptTypeRetry, "3EB0A")},
		{name: "group", evt: func() *events.Receipt {
			r := receipt(types.ReceiptTypeRead, "3EB0A")
			r.IsGroup = true
			return r
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newTestConverter(t, &fakeDownloader{})
			got, err := c.Receipt(context.Background(), tt.evt)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if diff := cmp.Diff(tt.want, got, testkit.ExactTime); diff != "" {
				t.Fatalf("Receipt (-want +got):\n%s", diff)
			}
			for _, s := range got {
				if err := s.Validate(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
