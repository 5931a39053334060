package blob_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// storeUnderTest is one BlobStore implementation with what the shared
// suite needs to look behind its interface.
type storeUnderTest struct {
	store gateway.BlobStore
	// leftovers lists what failed or finished writes left behind
	// (temporary files, temporary objects, incomplete uploads).
	leftovers func(t *testing.T) []string
}

// runStoreSuite is what every BlobStore must do (R39): streamed,
// content-addressed, atomic, bounded writes; reads with ranges; typed
// errors; deletes that respect a cutoff; listing.
func runStoreSuite(t *testing.T, open func(t *testing.T) storeUnderTest) {
	t.Run("PutReturnsTheSniffedRefAndOpenReadsTheBytes", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		content := append([]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), randomBytes(t, 3000)...)
		ref, err := st.store.Put(t.Context(), bytes.NewReader(content), gateway.BlobPut{
			ContentType: "application/pdf", FileName: "../../receipt.pdf",
		})
		if err != nil {
			t.Fatal(err)
		}
		want := gateway.BlobRef{
			SHA256: sha256Hex(content), Size: int64(len(content)), ContentType: "image/jpeg",
			DeclaredContentType: "application/pdf", FileName: "receipt.pdf", Kind: gateway.MediaImage,
		}
		if ref != want {
			t.Fatalf("ref = %+v\nwant  %+v", ref, want)
		}
		if got := readBlob(t, st.store, ref.SHA256); !bytes.Equal(got, content) {
			t.Fatalf("read %d bytes, not the %d stored", len(got), len(content))
		}
		info, err := st.store.Stat(t.Context(), ref.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if info.SHA256 != ref.SHA256 || info.Size != ref.Size || info.StoredAt.IsZero() {
			t.Fatalf("stat = %+v", info)
		}
		if l := st.leftovers(t); len(l) != 0 {
			t.Fatalf("left behind: %v", l)
		}
	})

	t.Run("SameBytesAreStoredOnce", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		content := randomBytes(t, 5000)
		first, err := st.store.Put(t.Context(), bytes.NewReader(content), gateway.BlobPut{FileName: "a.bin"})
		if err != nil {
			t.Fatal(err)
		}
		second, err := st.store.Put(t.Context(), bytes.NewReader(content), gateway.BlobPut{FileName: "b.bin"})
		if err != nil {
			t.Fatal(err)
		}
		if first.SHA256 != second.SHA256 || first.Size != second.Size {
			t.Fatalf("refs differ: %+v %+v", first, second)
		}
		if got := listAll(t, st.store); len(got) != 1 || got[0].SHA256 != first.SHA256 {
			t.Fatalf("listed %+v, want the one blob", got)
		}
	})

	t.Run("ConcurrentPutsOfTheSameBytes", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		content := randomBytes(t, 20000)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				ref, err := st.store.Put(t.Context(), bytes.NewReader(content), gateway.BlobPut{})
				if err == nil && ref.SHA256 != sha256Hex(content) {
					err = fmt.Errorf("sha %s", ref.SHA256)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := listAll(t, st.store); len(got) != 1 {
			t.Fatalf("listed %d blobs, want 1", len(got))
		}
		if got := readBlob(t, st.store, sha256Hex(content)); !bytes.Equal(got, content) {
			t.Fatal("content differs")
		}
		if l := st.leftovers(t); len(l) != 0 {
			t.Fatalf("left behind: %v", l)
		}
	})

	t.Run("ErrTooLargeLeavesNothing", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		for _, size := range []int{1000, 6 << 20} { // a small Put, and one past S3's first part
			t.Run(fmt.Sprint(size), func(t *testing.T) {
				limit := int64(size - 1)
				_, err := st.store.Put(t.Context(), newPatternReader(int64(size)), gateway.BlobPut{MaxBytes: limit})
				if !errors.Is(err, gateway.ErrBlobTooLarge) {
					t.Fatalf("err = %v, want ErrBlobTooLarge", err)
				}
				var tl *gateway.BlobTooLargeError
				if !errors.As(err, &tl) || tl.Limit != limit {
					t.Fatalf("err = %#v, want *BlobTooLargeError{Limit: %d}", err, limit)
				}
				if got := listAll(t, st.store); len(got) != 0 {
					t.Fatalf("listed %+v after a refused Put", got)
				}
				if l := st.leftovers(t); len(l) != 0 {
					t.Fatalf("left behind: %v", l)
				}
				// Exactly at the limit is fine.
				ref, err := st.store.Put(t.Context(), newPatternReader(limit), gateway.BlobPut{MaxBytes: limit})
				if err != nil || ref.Size != limit {
					t.Fatalf("Put at the limit: %+v, %v", ref, err)
				}
				if _, err := st.store.Delete(t.Context(), ref.SHA256, time.Time{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	})

	t.Run("AFailingReaderLeavesNothing", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		broken := errors.New("connection reset by provider")
		for _, size := range []int64{100, 7 << 20} {
			t.Run(fmt.Sprint(size), func(t *testing.T) {
				r := io.MultiReader(newPatternReader(size), &failingReader{err: broken})
				if _, err := st.store.Put(t.Context(), r, gateway.BlobPut{}); !errors.Is(err, broken) {
					t.Fatalf("err = %v, want the reader's error", err)
				}
				if got := listAll(t, st.store); len(got) != 0 {
					t.Fatalf("listed %+v after a failed Put", got)
				}
				if l := st.leftovers(t); len(l) != 0 {
					t.Fatalf("left behind: %v", l)
				}
			})
		}
	})

	t.Run("ACancelledPutLeavesNothing", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		ctx, cancel := context.WithCancel(t.Context())
		// Cancel once 6 MiB were read: past S3's first part, mid-upload.
		r := &cancelAfter{r: newPatternReader(12 << 20), after: 6 << 20, cancel: cancel}
		if _, err := st.store.Put(ctx, r, gateway.BlobPut{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if got := listAll(t, st.store); len(got) != 0 {
			t.Fatalf("listed %+v after a cancelled Put", got)
		}
		if l := st.leftovers(t); len(l) != 0 {
			t.Fatalf("left behind: %v", l)
		}
	})

	t.Run("LargeContentStreamsThrough", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		const size = 17 << 20 // several S3 parts
		want := patternSHA(t, size)
		ref, err := st.store.Put(t.Context(), newPatternReader(size), gateway.BlobPut{FileName: "big.bin"})
		if err != nil {
			t.Fatal(err)
		}
		if ref.SHA256 != want || ref.Size != size {
			t.Fatalf("ref = %+v, want sha %s size %d", ref, want, size)
		}
		r, err := st.store.Open(t.Context(), ref.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		h := sha256.New()
		if n, err := io.Copy(h, r); err != nil || n != size {
			t.Fatalf("read %d bytes, %v", n, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Fatalf("read back sha %s, want %s", got, want)
		}
		if l := st.leftovers(t); len(l) != 0 {
			t.Fatalf("left behind: %v", l)
		}
	})

	t.Run("RangeRequestsThroughServeContent", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		content := randomBytes(t, 100000)
		ref, err := st.store.Put(t.Context(), bytes.NewReader(content), gateway.BlobPut{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			rng        string
			start, end int // end exclusive
		}{
			{"bytes=0-9", 0, 10},
			{"bytes=50000-50099", 50000, 50100},
			{"bytes=-100", 99900, 100000},
			{"bytes=99990-", 99990, 100000},
		} {
			t.Run(tc.rng, func(t *testing.T) {
				r, err := st.store.Open(t.Context(), ref.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				req := httptest.NewRequest(http.MethodGet, "/media", nil)
				req.Header.Set("Range", tc.rng)
				rec := httptest.NewRecorder()
				http.ServeContent(rec, req, "", r.Info().StoredAt, r)
				if rec.Code != http.StatusPartialContent {
					t.Fatalf("status %d, want 206", rec.Code)
				}
				if !bytes.Equal(rec.Body.Bytes(), content[tc.start:tc.end]) {
					t.Fatalf("body is not bytes %d-%d", tc.start, tc.end)
				}
			})
		}
		t.Run("ReadAt", func(t *testing.T) {
			r, err := st.store.Open(t.Context(), ref.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			buf := make([]byte, 1000)
			if _, err := r.ReadAt(buf, 70000); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, content[70000:71000]) {
				t.Fatal("ReadAt returned other bytes")
			}
			if r.Info().Size != int64(len(content)) {
				t.Fatalf("Info().Size = %d", r.Info().Size)
			}
		})
	})

	t.Run("UnknownBlobIsNotFound", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		missing := sha256Hex([]byte("never stored"))
		if _, err := st.store.Open(t.Context(), missing); !errors.Is(err, gateway.ErrBlobNotFound) {
			t.Fatalf("Open: %v", err)
		}
		if _, err := st.store.Stat(t.Context(), missing); !errors.Is(err, gateway.ErrBlobNotFound) {
			t.Fatalf("Stat: %v", err)
		}
		if _, err := st.store.Delete(t.Context(), missing, time.Time{}); !errors.Is(err, gateway.ErrBlobNotFound) {
			t.Fatalf("Delete: %v", err)
		}
	})

	t.Run("KeysThatAreNotHashesAreRefused", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		stored, err := st.store.Put(t.Context(), bytes.NewReader([]byte("x")), gateway.BlobPut{})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{
			"", "../../../../etc/passwd", "/etc/passwd", stored.SHA256[:63], stored.SHA256 + "0",
			"ABCDEF" + stored.SHA256[6:], stored.SHA256[:62] + "/.", "..%2F" + stored.SHA256[5:],
		} {
			if _, err := st.store.Open(t.Context(), id); !errors.Is(err, gateway.ErrInvalidBlobID) {
				t.Errorf("Open(%q): %v, want ErrInvalidBlobID", id, err)
			}
			if _, err := st.store.Stat(t.Context(), id); !errors.Is(err, gateway.ErrInvalidBlobID) {
				t.Errorf("Stat(%q): %v, want ErrInvalidBlobID", id, err)
			}
			if _, err := st.store.Delete(t.Context(), id, time.Time{}); !errors.Is(err, gateway.ErrInvalidBlobID) {
				t.Errorf("Delete(%q): %v, want ErrInvalidBlobID", id, err)
			}
		}
	})

	t.Run("DeleteKeepsABlobStoredSinceTheCutoff", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		ref, err := st.store.Put(t.Context(), bytes.NewReader(randomBytes(t, 100)), gateway.BlobPut{})
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.store.Stat(t.Context(), ref.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		deleted, err := st.store.Delete(t.Context(), ref.SHA256, info.StoredAt)
		if err != nil || deleted {
			t.Fatalf("Delete at cutoff = StoredAt: %v, %v; want kept", deleted, err)
		}
		if got := readBlob(t, st.store, ref.SHA256); len(got) != 100 {
			t.Fatalf("after a kept delete, read %d bytes", len(got))
		}
		// S3 keeps times to the second, so the cutoff is well past.
		deleted, err = st.store.Delete(t.Context(), ref.SHA256, info.StoredAt.Add(2*time.Second))
		if err != nil || !deleted {
			t.Fatalf("Delete past StoredAt: %v, %v; want deleted", deleted, err)
		}
		if _, err := st.store.Stat(t.Context(), ref.SHA256); !errors.Is(err, gateway.ErrBlobNotFound) {
			t.Fatalf("Stat after delete: %v", err)
		}
		if l := st.leftovers(t); len(l) != 0 {
			t.Fatalf("left behind: %v", l)
		}
	})

	t.Run("ListYieldsEveryBlobAndStopsEarly", func(t *testing.T) {
		t.Parallel()
		st := open(t)
		want := map[string]int64{}
		for i := range 5 {
			content := randomBytes(t, 10+i)
			ref, err := st.store.Put(t.Context(), bytes.NewReader(content), gateway.BlobPut{})
			if err != nil {
				t.Fatal(err)
			}
			want[ref.SHA256] = ref.Size
		}
		got := map[string]int64{}
		for _, info := range listAll(t, st.store) {
			got[info.SHA256] = info.Size
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
		n := 0
		for _, err := range st.store.List(t.Context()) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if n == 2 {
				break
			}
		}
		if n != 2 {
			t.Fatalf("stopped after %d", n)
		}
	})
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := crand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := crand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func readBlob(t *testing.T, s gateway.BlobStore, sha string) []byte {
	t.Helper()
	r, err := s.Open(t.Context(), sha)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listAll(t *testing.T, s gateway.BlobStore) []gateway.BlobInfo {
	t.Helper()
	var out []gateway.BlobInfo
	for info, err := range s.List(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, info)
	}
	return out
}

// patternReader yields n deterministic pseudo-random bytes without
// holding them: the content of the large-blob tests and benchmarks.
type patternReader struct {
	rng  *rand.ChaCha8
	left int64
}

func newPatternReader(n int64) *patternReader {
	return &patternReader{rng: rand.NewChaCha8([32]byte{'c', 'h', 'a', 't', 'g', 'a', 't', 'e'}), left: n}
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, _ := p.rng.Read(b)
	p.left -= int64(n)
	return n, nil
}

func patternSHA(t testing.TB, n int64) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, newPatternReader(n)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type failingReader struct{ err error }

func (f *failingReader) Read([]byte) (int, error) { return 0, f.err }

// cancelAfter cancels a context once it has passed on `after` bytes.
type cancelAfter struct {
	r      io.Reader
	after  int64
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.n >= c.after {
		c.cancel()
	}
	return n, err
}
