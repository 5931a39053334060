package whatsapp

import (
	"context"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// Client is the part of *whatsmeow.Client chatgate uses, so that intake,
// sending and the run loop are tested without WhatsApp.
type Client interface {
	AddEventHandlerWithSuccessStatus(handler whatsmeow.EventHandlerWithSuccessStatus) uint32
	ConnectContext(ctx context.Context) error
	Disconnect()
	IsConnected() bool
	SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error)
	Upload(ctx context.Context, plaintext []byte, appInfo whatsmeow.MediaType) (whatsmeow.UploadResponse, error)
	Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error)
}

var (
	_ Client     = (*whatsmeow.Client)(nil)
	_ Downloader = (*whatsmeow.Client)(nil)
	_ Downloader = Client(nil)
)
