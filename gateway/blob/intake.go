package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"mime"

	"github.com/chatgate/chatgate/gateway"
)

// DefaultMaxBytes is a store's size limit for a Put that names none:
// above what WhatsApp (100 MB documents) and Twilio (5 MB MMS) deliver.
const DefaultMaxBytes int64 = 128 << 20

// intake is the reader every store's Put copies from: it hashes the bytes,
// keeps the first SniffLen of them for Sniff, counts them, stops with a
// *BlobTooLargeError one byte past the limit, and ends with the context.
// Nothing else holds on to the bytes, so a Put's memory does not grow
// with the content.
type intake struct {
	ctx   context.Context
	r     io.Reader
	limit int64
	n     int64
	h     hash.Hash
	head  []byte
	err   error // the first error that was intake's own (too large, context)
}

func newIntake(ctx context.Context, r io.Reader, limit int64) *intake {
	return &intake{ctx: ctx, r: r, limit: limit, h: sha256.New(), head: make([]byte, 0, 512)}
}

func (in *intake) Read(p []byte) (int, error) {
	if in.err != nil {
		return 0, in.err
	}
	if err := in.ctx.Err(); err != nil {
		in.err = err
		return 0, err
	}
	// Read one byte past the limit at most: enough to know it was passed.
	if room := in.limit + 1 - in.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := in.r.Read(p)
	in.n += int64(n)
	if in.n > in.limit {
		in.err = &gateway.BlobTooLargeError{Limit: in.limit}
		return 0, in.err
	}
	in.h.Write(p[:n])
	if room := SniffLen - len(in.head); room > 0 {
		in.head = append(in.head, p[:min(n, room)]...)
	}
	return n, err
}

// ref is the reference of what was read, once it was read to the end.
func (in *intake) ref(p gateway.BlobPut) gateway.BlobRef {
	ct := Sniff(in.head, p.ContentType)
	return gateway.BlobRef{
		SHA256:              hex.EncodeToString(in.h.Sum(nil)),
		Size:                in.n,
		ContentType:         ct,
		DeclaredContentType: declaredType(p.ContentType),
		FileName:            SanitizeFileName(p.FileName, ct),
		Kind:                gateway.MediaKindOf(ct),
	}
}

// maxDeclaredTypeLen bounds a declared content type kept in a record.
const maxDeclaredTypeLen = 255

// declaredType is the declared content type in canonical form, or "" when
// it is not a media type at all (it is then noise, not information).
func declaredType(s string) string {
	mt, params, err := mime.ParseMediaType(s)
	if err != nil {
		return ""
	}
	if f := mime.FormatMediaType(mt, params); f != "" {
		mt = f
	}
	if len(mt) > maxDeclaredTypeLen {
		return ""
	}
	return mt
}

// limitFor is the Put's own limit, or the store's.
func limitFor(p gateway.BlobPut, storeMax int64) int64 {
	switch {
	case p.MaxBytes > 0:
		return p.MaxBytes
	case storeMax > 0:
		return storeMax
	}
	return DefaultMaxBytes
}

// shard is the relative path of a blob: two levels of directories named
// by its first four hex digits, so a large store spreads its files over
// 65,536 directories instead of one.
func shard(sha string) string {
	return sha[0:2] + "/" + sha[2:4] + "/" + sha
}
