package stream

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
)

// positionVersion is the first byte of an encoded position. A position of
// another version (an older or newer chatgate during a rolling upgrade) is
// not an error: the client is told to resync.
const positionVersion = 1

// maxPositionLen bounds a Last-Event-ID before it is decoded.
const maxPositionLen = 1024

// position is a place on the tickets topic: for every partition, the offset
// of the first record not yet delivered. Every process follows every
// partition and Kafka gives every record the same offset everywhere, so a
// position one process handed out means the same on any other: that is
// what makes an SSE event id resumable behind a load balancer.
type position map[int]int64

// errPositionSyntax is a Last-Event-ID that no chatgate wrote.
var errPositionSyntax = errors.New("not a chatgate stream event id")

// errPositionVersion is an event id of another format version.
var errPositionVersion = errors.New("event id of another chatgate version")

// encode returns the position as an event id: URL-safe base64 of a version
// byte, the partition count and (partition, offset) pairs in partition
// order, as unsigned varints. It is opaque to clients and has no characters
// that SSE or HTTP headers treat specially.
func (p position) encode() string {
	buf := make([]byte, 0, 2+len(p)*2*binary.MaxVarintLen32)
	buf = append(buf, positionVersion)
	buf = binary.AppendUvarint(buf, uint64(len(p)))
	for _, part := range slices.Sorted(maps.Keys(p)) {
		buf = binary.AppendUvarint(buf, uint64(part))
		buf = binary.AppendUvarint(buf, uint64(p[part]))
	}
	return base64.RawURLEncoding.EncodeToString(buf)
}

// decodePosition parses an event id of encode.
func decodePosition(id string) (position, error) {
	if len(id) > maxPositionLen {
		return nil, errPositionSyntax
	}
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) == 0 {
		return nil, errPositionSyntax
	}
	if raw[0] != positionVersion {
		return nil, errPositionVersion
	}
	raw = raw[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(raw)
		if n <= 0 {
			return 0, false
		}
		raw = raw[n:]
		return v, true
	}
	count, ok := next()
	if !ok || count > uint64(len(raw)) {
		return nil, errPositionSyntax
	}
	p := make(position, count)
	for range count {
		part, ok1 := next()
		off, ok2 := next()
		if !ok1 || !ok2 || part > 1<<31 || off > 1<<62 {
			return nil, errPositionSyntax
		}
		if _, dup := p[int(part)]; dup {
			return nil, errPositionSyntax
		}
		p[int(part)] = int64(off)
	}
	if len(raw) != 0 {
		return nil, errPositionSyntax
	}
	return p, nil
}

// covers reports whether p is at or past q on every partition of q.
func (p position) covers(q position) bool {
	for part, off := range q {
		if p[part] < off {
			return false
		}
	}
	return true
}

// merged returns the position at p or q, whichever is further, per
// partition.
func (p position) merged(q position) position {
	out := maps.Clone(p)
	for part, off := range q {
		if off > out[part] {
			out[part] = off
		}
	}
	return out
}
