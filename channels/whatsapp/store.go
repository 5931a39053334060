package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for whatsmeow's sqlstore
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
)

// ErrNoDevice means no paired device matches; pair one with
// `chatgate whatsapp pair`.
var ErrNoDevice = errors.New("no paired whatsapp device")

// Store keeps whatsmeow's device sessions (keys, contacts, LID map) in
// PostgreSQL: the whatsmeow_* tables, created and upgraded by whatsmeow.
type Store struct {
	container *sqlstore.Container
	log       *slog.Logger
}

// DeviceInfo describes one paired device.
type DeviceInfo struct {
	JID          string // e.g. "27110000000:12@s.whatsapp.net"
	Phone        string // "+E164" of the account
	PushName     string
	BusinessName string
	Platform     string
}

// OpenStore opens the device store on databaseURL through pgx's
// database/sql driver (whatsmeow dialect "pgx") and upgrades its tables.
func OpenStore(ctx context.Context, databaseURL string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := sqlstore.New(ctx, "pgx", databaseURL, WALogger(log.With("component", "whatsmeow_store")))
	if err != nil {
		return nil, fmt.Errorf("open whatsapp device store: %w", err)
	}
	return &Store{container: c, log: log}, nil
}

// Close closes the store's database handle.
func (s *Store) Close() error { return s.container.Close() }

// Devices lists the paired devices.
func (s *Store) Devices(ctx context.Context) ([]DeviceInfo, error) {
	devs, err := s.container.GetAllDevices(ctx)
	if err != nil {
		return nil, fmt.Errorf("list whatsapp devices: %w", err)
	}
	out := make([]DeviceInfo, 0, len(devs))
	for _, d := range devs {
		out = append(out, infoOf(d))
	}
	return out, nil
}

func infoOf(d *store.Device) DeviceInfo {
	info := DeviceInfo{PushName: d.PushName, BusinessName: d.BusinessName, Platform: d.Platform}
	if d.ID != nil {
		info.JID = d.ID.String()
		info.Phone, _ = AddressOfJID(d.ID.ToNonAD())
	}
	return info
}

// device finds the paired device named by sel: its full JID, its phone
// number (+E164) or "" for the only device.
func (s *Store) device(ctx context.Context, sel string) (*store.Device, error) {
	devs, err := s.container.GetAllDevices(ctx)
	if err != nil {
		return nil, fmt.Errorf("list whatsapp devices: %w", err)
	}
	var match []*store.Device
	for _, d := range devs {
		if d.ID == nil {
			continue
		}
		if sel == "" || d.ID.String() == sel || "+"+d.ID.User == sel || d.ID.User == sel {
			match = append(match, d)
		}
	}
	switch {
	case len(match) == 0:
		return nil, ErrNoDevice
	case len(match) > 1:
		return nil, fmt.Errorf("%d paired whatsapp devices match %q: name one by its JID (chatgate whatsapp devices)", len(match), sel)
	}
	return match[0], nil
}

// Unlink logs the device named by sel out of WhatsApp (the phone shows it
// gone) and deletes its session. Without a connection to WhatsApp it
// fails, unless force is set, in which case only the local session is
// deleted and the phone still lists the device until it is removed there.
func (s *Store) Unlink(ctx context.Context, sel string, force bool) (DeviceInfo, error) {
	dev, err := s.device(ctx, sel)
	if err != nil {
		return DeviceInfo{}, err
	}
	info := infoOf(dev)
	cli := whatsmeow.NewClient(dev, WALogger(s.log))
	cli.EnableAutoReconnect = false
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = cli.ConnectContext(cctx)
	if err == nil {
		err = cli.Logout(cctx)
		cli.Disconnect()
		if err == nil {
			return info, nil
		}
	}
	if !force {
		return info, fmt.Errorf("log out of whatsapp (use --force to delete the local session only): %w", err)
	}
	if derr := s.container.DeleteDevice(ctx, dev); derr != nil {
		return info, fmt.Errorf("delete local whatsapp session: %w", derr)
	}
	return info, nil
}

// deviceJID parses a stored device's JID, for messages.
func deviceJID(d *store.Device) types.JID {
	if d == nil || d.ID == nil {
		return types.EmptyJID
	}
	return *d.ID
}

// LeaseDevice is the name a device's lease is keyed by: the account's
// number, so that a re-paired device (new device id) keeps its lease.
func (d DeviceInfo) LeaseDevice() string {
	if d.Phone == "" {
		return d.JID
	}
	return d.Phone[1:]
}
