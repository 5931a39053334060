package whatsapp

import (
	"context"
	"errors"
	"testing"

	"go.mau.fi/whatsmeow/types"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "+27821234567", want: "+27821234567"},
		{in: "27821234567", want: "+27821234567"},
		{in: "0027 82 123-4567", want: "+27821234567"},
		{in: "+1 (555) 123.4567", want: "+15551234567"},
		{in: "+0821234567", wantErr: true},
		{in: "+123", wantErr: true},
		{in: "+1234567890123456", wantErr: true},
		{in: "+2782abc4567", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizePhone(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidAddress) {
					t.Fatalf("NormalizePhone(%q) = %q, %v; want ErrInvalidAddress", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestAddressJIDRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		jid  types.JID
		addr string
	}{
		{name: "phone", jid: types.NewJID("27821234567", types.DefaultUserServer), addr: "+27821234567"},
		{name: "lid", jid: types.NewJID("123456789012345", types.HiddenUserServer), addr: "lid:123456789012345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := AddressOfJID(tt.jid)
			if err != nil || got != tt.addr {
				t.Fatalf("AddressOfJID(%v) = %q, %v; want %q", tt.jid, got, err, tt.addr)
			}
			back, err := JIDOfAddress(tt.addr)
			if err != nil || back != tt.jid {
				t.Fatalf("JIDOfAddress(%q) = %v, %v; want %v", tt.addr, back, err, tt.jid)
			}
		})
	}
}

func TestAddressOfJID_DropsDeviceAndRefusesNonUsers(t *testing.T) {
	t.Parallel()
	ad := types.JID{User: "27821234567", Server: types.DefaultUserServer, Device: 3}
	if got, err := AddressOfJID(ad); err != nil || got != "+27821234567" {
		t.Fatalf("AddressOfJID(device JID) = %q, %v", got, err)
	}
	for _, j := range []types.JID{types.NewJID("1203630", types.GroupServer), types.StatusBroadcastJID, types.NewJID("abc", types.DefaultUserServer)} {
		if _, err := AddressOfJID(j); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("AddressOfJID(%v) err = %v, want ErrInvalidAddress", j, err)
		}
	}
	for _, a := range []string{"lid:", "lid:12a", "hello"} {
		if _, err := JIDOfAddress(a); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("JIDOfAddress(%q) err = %v, want ErrInvalidAddress", a, err)
		}
	}
}

type lidMap map[types.JID]types.JID

func (m lidMap) GetPNForLID(_ context.Context, lid types.JID) (types.JID, error) {
	return m[lid], nil
}

func TestResolveAddress(t *testing.T) {
	t.Parallel()
	pn := types.NewJID("27821234567", types.DefaultUserServer)
	lid := types.NewJID("99887766554433", types.HiddenUserServer)
	tests := []struct {
		name     string
		jid, alt types.JID
		lids     LIDResolver
		want     string
	}{
		{name: "phone JID", jid: pn, want: "+27821234567"},
		{name: "LID with phone alt", jid: lid, alt: pn, want: "+27821234567"},
		{name: "LID resolved by store", jid: lid, lids: lidMap{lid: pn}, want: "+27821234567"},
		{name: "LID unknown", jid: lid, lids: lidMap{}, want: "lid:99887766554433"},
		{name: "LID without resolver", jid: lid, want: "lid:99887766554433"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := resolveAddress(context.Background(), tt.jid, tt.alt, tt.lids)
			if err != nil || got != tt.want {
				t.Fatalf("resolveAddress = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
