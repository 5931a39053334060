package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow"
)

// ErrPairTimeout means no phone completed the pairing in time.
var ErrPairTimeout = errors.New("whatsapp pairing timed out")

// PairOptions configures Store.Pair.
type PairOptions struct {
	// Phone, when set (E.164), pairs by an 8-character code typed on that
	// phone (WhatsApp > Linked devices > Link with phone number); otherwise
	// by QR code.
	Phone string
	// OnQRCode receives every QR code to show; each one is valid for about
	// 20-60 s and the next one follows.
	OnQRCode func(code string)
	// OnPairingCode receives the code to type on the phone.
	OnPairingCode func(code string)
	// Timeout bounds the whole pairing, connecting included. Default 3 min.
	Timeout time.Duration
}

// Pair links a new device to a WhatsApp account and stores its session.
// Without a network it fails within Timeout with an error saying so.
func (s *Store) Pair(ctx context.Context, opts PairOptions) (DeviceInfo, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Minute
	}
	phone := ""
	if opts.Phone != "" {
		p, err := NormalizePhone(opts.Phone)
		if err != nil {
			return DeviceInfo{}, fmt.Errorf("--phone: %w", err)
		}
		phone = p
	}
	ctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, ErrPairTimeout)
	defer cancel()

	dev := s.container.NewDevice()
	cli := whatsmeow.NewClient(dev, WALogger(s.log.With("component", "whatsmeow_pair")))
	cli.InitialAutoReconnect = false // offline: fail, don't loop
	qr, err := cli.GetQRChannel(ctx)
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("start pairing: %w", err)
	}
	if err := cli.ConnectContext(ctx); err != nil {
		if errors.Is(context.Cause(ctx), ErrPairTimeout) {
			return DeviceInfo{}, fmt.Errorf("%w after %v: could not reach WhatsApp's servers (is this machine online?)", ErrPairTimeout, opts.Timeout)
		}
		return DeviceInfo{}, fmt.Errorf("could not reach WhatsApp's servers (is this machine online?): %w", err)
	}
	defer cli.Disconnect()

	codeAsked := false
	for {
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), ErrPairTimeout) {
				return DeviceInfo{}, fmt.Errorf("%w after %v: the code was not used on the phone", ErrPairTimeout, opts.Timeout)
			}
			return DeviceInfo{}, ctx.Err()
		case item, ok := <-qr:
			if !ok {
				return DeviceInfo{}, fmt.Errorf("%w: WhatsApp closed the pairing session", ErrPairTimeout)
			}
			switch {
			case item.Event == whatsmeow.QRChannelEventCode:
				if phone == "" {
					if opts.OnQRCode != nil {
						opts.OnQRCode(item.Code)
					}
					continue
				}
				if codeAsked {
					continue
				}
				codeAsked = true
				code, err := cli.PairPhone(ctx, phone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
				if err != nil {
					return DeviceInfo{}, fmt.Errorf("request pairing code: %w", err)
				}
				if opts.OnPairingCode != nil {
					opts.OnPairingCode(code)
				}
			case item == whatsmeow.QRChannelSuccess:
				return infoOf(dev), nil
			case item == whatsmeow.QRChannelTimeout:
				return DeviceInfo{}, fmt.Errorf("%w: no phone scanned the codes", ErrPairTimeout)
			case item.Event == whatsmeow.QRChannelEventError:
				return DeviceInfo{}, fmt.Errorf("pairing failed: %w", item.Error)
			default:
				return DeviceInfo{}, fmt.Errorf("pairing failed: %s", item.Event)
			}
		}
	}
}
