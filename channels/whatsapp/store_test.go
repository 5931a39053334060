package whatsapp

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/types"

	"github.com/chatgate/chatgate/gateway/postgres/pgtest"
)

// pairFake stores a device as if it had been paired with jid.
func pairFake(t *testing.T, st *Store, jid types.JID) {
	t.Helper()
	dev := st.container.NewDevice()
	dev.ID = &jid
	dev.PushName = "Shop"
	dev.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte("d"), AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
	if err := st.container.PutDevice(context.Background(), dev); err != nil {
		t.Fatalf("put device: %v", err)
	}
}

func openTestStore(t *testing.T, url string) *Store {
	t.Helper()
	st, err := OpenStore(context.Background(), url, nil)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestStore_OnPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'whatsmeow_%'`).Scan(&tables); err != nil || tables < 10 {
		t.Fatalf("whatsmeow tables = %d, %v; want the sqlstore schema", tables, err)
	}
	if devs, err := st.Devices(ctx); err != nil || len(devs) != 0 {
		t.Fatalf("Devices on a fresh store = %v, %v", devs, err)
	}
	if _, err := st.device(ctx, ""); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("device() = %v, want ErrNoDevice", err)
	}

	a := types.JID{User: "27110000000", Server: types.DefaultUserServer, Device: 12}
	b := types.JID{User: "27119999999", Server: types.DefaultUserServer, Device: 3}
	pairFake(t, st, a)
	// A second process opening the same store sees the device (and the
	// upgrade is a no-op).
	st2 := openTestStore(t, url)
	devs, err := st2.Devices(ctx)
	want := []DeviceInfo{{JID: a.String(), Phone: "+27110000000", PushName: "Shop"}}
	if err != nil {
		t.Fatalf("Devices: %v", err)
	}
	if diff := cmp.Diff(want, devs); diff != "" {
		t.Fatalf("Devices (-want +got):\n%s", diff)
	}
	if d, err := st2.device(ctx, ""); err != nil || *d.ID != a {
		t.Fatalf("the only device = %v, %v", d, err)
	}
	pairFake(t, st, b)
	if _, err := st.device(ctx, ""); err == nil {
		t.Fatal("device(\"\") with two devices: want an error asking to name one")
	}
	for _, sel := range []string{"+27119999999", "27119999999", b.String()} {
		if d, err := st.device(ctx, sel); err != nil || *d.ID != b {
			t.Fatalf("device(%q) = %v, %v", sel, d, err)
		}
	}
}
