package whatsapp

import (
	"context"
	"sync"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fakeClient stands in for *whatsmeow.Client. Its dispatch calls the
// registered handlers the way whatsmeow does: the event counts as handled
// (and is acknowledged) only if every handler returned true.
type fakeClient struct {
	mu       sync.Mutex
	handlers []whatsmeow.EventHandlerWithSuccessStatus
	sent     []sentMessage

	ConnectFunc     func(ctx context.Context) error
	SendMessageFunc func(ctx context.Context, to types.JID, msg *waE2E.Message, extra whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error)
	UploadFunc      func(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error)
	DownloadFunc    func(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error)
	connected       bool
}

type sentMessage struct {
	To  types.JID
	Msg *waE2E.Message
	ID  types.MessageID
}

var _ Client = (*fakeClient)(nil)

func (f *fakeClient) AddEventHandlerWithSuccessStatus(h whatsmeow.EventHandlerWithSuccessStatus) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers = append(f.handlers, h)
	return uint32(len(f.handlers))
}

func (f *fakeClient) dispatch(evt any) (acked bool) {
	f.mu.Lock()
	hs := append([]whatsmeow.EventHandlerWithSuccessStatus(nil), f.handlers...)
	f.mu.Unlock()
	for _, h := range hs {
		if !h(evt) {
			return false
		}
	}
	return true
}

func (f *fakeClient) ConnectContext(ctx context.Context) error {
	if f.ConnectFunc != nil {
		if err := f.ConnectFunc(ctx); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.connected = true
	f.mu.Unlock()
	return nil
}

func (f *fakeClient) Disconnect() {
	f.mu.Lock()
	f.connected = false
	f.mu.Unlock()
}

func (f *fakeClient) IsConnected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connected
}

func (f *fakeClient) SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
	var ex whatsmeow.SendRequestExtra
	if len(extra) > 0 {
		ex = extra[0]
	}
	if f.SendMessageFunc != nil {
		resp, err := f.SendMessageFunc(ctx, to, msg, ex)
		if err != nil {
			return resp, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sentMessage{To: to, Msg: msg, ID: ex.ID})
	return whatsmeow.SendResponse{ID: ex.ID}, nil
}

func (f *fakeClient) sentMessages() []sentMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentMessage(nil), f.sent...)
}

func (f *fakeClient) Upload(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	if f.UploadFunc != nil {
		return f.UploadFunc(ctx, data, mt)
	}
	return whatsmeow.UploadResponse{URL: "https://mmg.example/x", DirectPath: "/x", MediaKey: []byte("key"), FileLength: uint64(len(data))}, nil
}

func (f *fakeClient) Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	if f.DownloadFunc != nil {
		return f.DownloadFunc(ctx, msg)
	}
	return nil, whatsmeow.ErrMediaDownloadFailedWith404
}
