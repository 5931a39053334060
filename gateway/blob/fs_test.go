package blob_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/blob"
)

func TestR39_FileStore(t *testing.T) {
	t.Parallel()
	runStoreSuite(t, func(t *testing.T) storeUnderTest {
		s := newFileStore(t, nil)
		return storeUnderTest{store: s, leftovers: func(t *testing.T) []string { return dirEntries(t, filepath.Join(s.Dir(), "tmp")) }}
	})
}

// fakeClock is an injected clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newClock(at time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(at.UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newFileStore(t *testing.T, clock *fakeClock) *blob.FileStore {
	t.Helper()
	o := blob.FileOptions{}
	if clock != nil {
		o.Now = clock.Now
	}
	s, err := blob.NewFileStore(filepath.Join(t.TempDir(), "media"), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFileStoreShardsBlobsByHash(t *testing.T) {
	t.Parallel()
	s := newFileStore(t, nil)
	content := []byte("%PDF-1.7\n%âãÏÓ\n")
	ref, err := s.Put(t.Context(), bytes.NewReader(content), gateway.BlobPut{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.Dir(), "blobs", ref.SHA256[:2], ref.SHA256[2:4], ref.SHA256)
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("blob not at %s: %v", p, err)
	}
	if !bytes.Equal(got, content) {
		t.Fatal("file content differs")
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		t.Fatalf("blob is readable by others: %v", perm)
	}
	if ref.ContentType != "application/pdf" || ref.FileName != "document.pdf" || ref.Kind != gateway.MediaDocument {
		t.Fatalf("ref = %+v", ref)
	}
}

func TestFileStoreSecondPutRefreshesStoredAt(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC))
	s := newFileStore(t, clock)
	content := []byte("same bytes twice")
	ref, err := s.Put(t.Context(), bytes.NewReader(content), gateway.BlobPut{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Stat(t.Context(), ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !first.StoredAt.Equal(clock.Now()) {
		t.Fatalf("StoredAt %v, want the injected clock's %v", first.StoredAt, clock.Now())
	}
	clock.Advance(48 * time.Hour)
	if _, err := s.Put(t.Context(), bytes.NewReader(content), gateway.BlobPut{}); err != nil {
		t.Fatal(err)
	}
	second, err := s.Stat(t.Context(), ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !second.StoredAt.Equal(clock.Now()) {
		t.Fatalf("StoredAt after the second Put %v, want %v", second.StoredAt, clock.Now())
	}
	// A delete with a cutoff between the two Puts keeps it.
	if deleted, err := s.Delete(t.Context(), ref.SHA256, first.StoredAt.Add(time.Hour)); err != nil || deleted {
		t.Fatalf("Delete: %v %v, want kept", deleted, err)
	}
	if _, err := s.Stat(t.Context(), ref.SHA256); err != nil {
		t.Fatalf("blob gone after a kept delete: %v", err)
	}
}

func TestFileStoreListSkipsWhatIsNotABlob(t *testing.T) {
	t.Parallel()
	s := newFileStore(t, nil)
	ref, err := s.Put(t.Context(), bytes.NewReader([]byte("real")), gateway.BlobPut{})
	if err != nil {
		t.Fatal(err)
	}
	other := sha256Hex([]byte("misplaced"))
	for _, p := range []string{
		filepath.Join("blobs", "README"),
		filepath.Join("blobs", "zz", "00", other),
		filepath.Join("blobs", ref.SHA256[:2], ref.SHA256[2:4], "notes.txt"),
		filepath.Join("blobs", ref.SHA256[:2], ref.SHA256[2:4], other), // wrong shard for its name
	} {
		full := filepath.Join(s.Dir(), p)
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := listAll(t, s)
	if len(got) != 1 || got[0].SHA256 != ref.SHA256 {
		t.Fatalf("listed %+v, want only %s", got, ref.SHA256)
	}
}

func TestFileStoreSweepTemp(t *testing.T) {
	t.Parallel()
	s := newFileStore(t, nil)
	tmp := filepath.Join(s.Dir(), "tmp")
	now := time.Now()
	old := now.Add(-48 * time.Hour)

	write := func(name string, mtime time.Time, content []byte) {
		t.Helper()
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write("put-stale", old, []byte("crashed write"))
	write("put-fresh", now, []byte("someone else's write"))
	// A blob Delete moved aside before a crash: an old one was being
	// deleted; a fresh one had been stored again and goes back.
	gone, back := []byte("collected"), []byte("stored again")
	write("gc-"+sha256Hex(gone)+"-1", old, gone)
	write("gc-"+sha256Hex(back)+"-1", now, back)

	// A Put in progress whose file looks old still stays.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(t.Context(), pr, gateway.BlobPut{})
		done <- err
	}()
	if _, err := pw.Write([]byte("first half ")); err != nil {
		t.Fatal(err)
	}
	var inProgress string
	for _, name := range dirEntries(t, tmp) {
		if name != "put-stale" && name != "put-fresh" && name[:3] == "put" {
			inProgress = name
		}
	}
	if inProgress == "" {
		t.Fatal("no temporary file for the Put in progress")
	}
	if err := os.Chtimes(filepath.Join(tmp, inProgress), old, old); err != nil {
		t.Fatal(err)
	}

	removed, err := s.SweepTemp(t.Context(), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if removed != 2 {
		t.Fatalf("removed %d, want 2 (put-stale and the collected blob)", removed)
	}
	left := map[string]bool{}
	for _, n := range dirEntries(t, tmp) {
		left[n] = true
	}
	if left["put-stale"] || !left["put-fresh"] || !left[inProgress] || len(left) != 2 {
		t.Fatalf("tmp holds %v", left)
	}
	if got := readBlob(t, s, sha256Hex(back)); !bytes.Equal(got, back) {
		t.Fatal("the blob stored again was not put back")
	}
	if _, err := s.Stat(t.Context(), sha256Hex(gone)); !errors.Is(err, gateway.ErrBlobNotFound) {
		t.Fatalf("the collected blob: %v", err)
	}

	if _, err := pw.Write([]byte("second half")); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("the Put in progress failed after the sweep: %v", err)
	}
	if got := readBlob(t, s, sha256Hex([]byte("first half second half"))); string(got) != "first half second half" {
		t.Fatalf("read %q", got)
	}
}

// TestFileStoreHundredMegabytes is the size the store must handle (item 4
// of the media issue); the benchmarks measure its memory.
func TestFileStoreHundredMegabytes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("writes 100 MB")
	}
	s := newFileStore(t, nil)
	const size = 100 << 20
	want := patternSHA(t, size)
	ref, err := s.Put(t.Context(), newPatternReader(size), gateway.BlobPut{MaxBytes: size, FileName: "manual.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	if ref.SHA256 != want || ref.Size != size {
		t.Fatalf("ref = %+v", ref)
	}
	r, err := s.Open(t.Context(), ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(h.Sum(nil)) != want {
		t.Fatal("read back other bytes")
	}
}

func TestNewFileStoreRefusesAnEmptyDir(t *testing.T) {
	t.Parallel()
	if _, err := blob.NewFileStore("", blob.FileOptions{}); err == nil {
		t.Fatal("no error for an empty directory")
	}
}
