package stream

import (
	"errors"
	"maps"
	"testing"
)

// R41: an event id round-trips the position it encodes, and a string no
// chatgate wrote is refused, never misread.
func TestR41_EventIDsEncodePositions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    position
	}{
		{"one partition at 0", position{0: 0}},
		{"eight partitions", position{0: 1, 1: 0, 2: 99, 3: 1 << 20, 4: 5, 5: 6, 6: 7, 7: 1 << 40}},
		{"sparse partitions", position{3: 10, 17: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.p.encode()
			got, err := decodePosition(id)
			if err != nil || !maps.Equal(got, tc.p) {
				t.Fatalf("decode(encode(%v)) = %v, %v", tc.p, got, err)
			}
		})
	}
	p := position{0: 5, 1: 7}
	if !p.covers(position{0: 5}) || p.covers(position{0: 6}) || p.covers(position{2: 1}) || !p.covers(position{2: 0}) {
		t.Fatal("covers is wrong")
	}
	if m := p.merged(position{0: 3, 1: 9, 2: 1}); !maps.Equal(m, position{0: 5, 1: 9, 2: 1}) {
		t.Fatalf("merged %v", m)
	}
	for _, bad := range []string{"", "=", "AQ", "AQE", "AQIAAAAA", "AQEAAAA"} {
		if _, err := decodePosition(bad); !errors.Is(err, errPositionSyntax) {
			t.Errorf("decode(%q): %v, want a syntax error", bad, err)
		}
	}
}

// An id decodes or is refused, and what decodes encodes back the same.
func FuzzDecodePosition(f *testing.F) {
	f.Add(position{0: 1, 1: 2}.encode())
	f.Add("AQIAAAEA")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, id string) {
		p, err := decodePosition(id)
		if err != nil {
			return
		}
		again, err := decodePosition(p.encode())
		if err != nil || !maps.Equal(again, p) {
			t.Fatalf("%q decoded to %v, which re-encodes to %v (%v)", id, p, again, err)
		}
	})
}

// The hub's memory of conversations is bounded: the least recently
// changed is forgotten first.
func TestR41_MemoryOfConversationsIsBounded(t *testing.T) {
	t.Parallel()
	m := newMemory(2)
	m.swap(1, visState{State: "unassigned"})
	m.swap(2, visState{State: "unassigned"})
	if prev, ok := m.swap(1, visState{State: "assigned"}); !ok || prev.State != "unassigned" {
		t.Fatalf("swap of a remembered conversation: %+v %v", prev, ok)
	}
	m.swap(3, visState{State: "closed"}) // forgets 2, the least recently changed
	if _, ok := m.get(2); ok {
		t.Fatal("conversation 2 still remembered past the bound")
	}
	if st, ok := m.get(1); !ok || st.State != "assigned" {
		t.Fatalf("conversation 1: %+v %v", st, ok)
	}
	if len(m.items) != 2 || m.order.Len() != 2 {
		t.Fatalf("%d items, %d in order, want 2", len(m.items), m.order.Len())
	}
}
