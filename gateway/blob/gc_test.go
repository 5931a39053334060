package blob_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/blob"
)

// referencedSet answers GC's question from a set, and records the
// questions.
type referencedSet struct {
	mu    sync.Mutex
	refs  map[string]bool
	asked [][]string
	// before, when set, runs before each answer (to act in the middle of
	// a collection).
	before func()
}

func (r *referencedSet) Referenced(_ context.Context, shas []string) (map[string]bool, error) {
	if r.before != nil {
		r.before()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, slices.Clone(shas))
	out := map[string]bool{}
	for _, s := range shas {
		if r.refs[s] {
			out[s] = true
		}
	}
	return out, nil
}

func put(t *testing.T, s gateway.BlobStore, content string) string {
	t.Helper()
	ref, err := s.Put(t.Context(), bytes.NewReader([]byte(content)), gateway.BlobPut{})
	if err != nil {
		t.Fatal(err)
	}
	return ref.SHA256
}

func shasOf(infos []gateway.BlobInfo) []string {
	var out []string
	for _, i := range infos {
		out = append(out, i.SHA256)
	}
	slices.Sort(out)
	return out
}

func TestR39_GCDeletesUnreferencedBlobsPastTheGracePeriod(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	s := newFileStore(t, clock)
	referenced := put(t, s, "on a message")
	orphan := put(t, s, "upload never sent")
	refreshed := put(t, s, "forwarded again later")
	clock.Advance(25 * time.Hour)
	young := put(t, s, "stored an hour ago, reference not yet committed")
	put(t, s, "forwarded again later")
	clock.Advance(time.Hour)

	refs := &referencedSet{refs: map[string]bool{referenced: true}}
	opts := blob.GCOptions{Referenced: refs.Referenced, OlderThan: 24 * time.Hour, Now: clock.Now}

	t.Run("dry run", func(t *testing.T) {
		rep, err := blob.GC(t.Context(), s, blob.GCOptions{Referenced: refs.Referenced, OlderThan: 24 * time.Hour, Now: clock.Now, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := shasOf(rep.Deleted); !slices.Equal(got, []string{orphan}) {
			t.Fatalf("would delete %v, want the orphan", got)
		}
		if _, err := s.Stat(t.Context(), orphan); err != nil {
			t.Fatalf("a dry run deleted: %v", err)
		}
	})

	rep, err := blob.GC(t.Context(), s, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := shasOf(rep.Deleted); !slices.Equal(got, []string{orphan}) {
		t.Fatalf("deleted %v, want only the orphan %s", got, orphan)
	}
	if rep.Scanned != 4 || rep.Referenced != 1 || rep.Young != 2 || rep.DeletedBytes != int64(len("upload never sent")) {
		t.Fatalf("report %+v", rep)
	}
	// Only candidates are asked about: not the young blobs.
	last := refs.asked[len(refs.asked)-1]
	slices.Sort(last)
	want := []string{referenced, orphan}
	slices.Sort(want)
	if !slices.Equal(last, want) {
		t.Fatalf("asked about %v, want %v", last, want)
	}
	for _, sha := range []string{referenced, refreshed, young} {
		if _, err := s.Stat(t.Context(), sha); err != nil {
			t.Fatalf("kept blob %s: %v", sha, err)
		}
	}
	if _, err := s.Stat(t.Context(), orphan); !errors.Is(err, gateway.ErrBlobNotFound) {
		t.Fatalf("orphan: %v", err)
	}
}

// TestR39_GCSparesABlobStoredAgainDuringTheCollection: between GC's
// listing and its delete, a Put hands the same bytes out again; the
// blob must stay.
func TestR39_GCSparesABlobStoredAgainDuringTheCollection(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	s := newFileStore(t, clock)
	sha := put(t, s, "a photo forwarded again")
	clock.Advance(48 * time.Hour)
	refs := &referencedSet{before: func() { put(t, s, "a photo forwarded again") }}
	rep, err := blob.GC(t.Context(), s, blob.GCOptions{Referenced: refs.Referenced, OlderThan: 24 * time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Deleted) != 0 || rep.Restored != 1 {
		t.Fatalf("report %+v, want nothing deleted, one restored", rep)
	}
	if got := readBlob(t, s, sha); string(got) != "a photo forwarded again" {
		t.Fatalf("read %q", got)
	}
	if l := dirEntries(t, s.Dir()+"/tmp"); len(l) != 0 {
		t.Fatalf("tmp holds %v", l)
	}
}

func TestGCAsksInBatches(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	s := newFileStore(t, clock)
	for _, c := range []string{"1", "2", "3", "4", "5"} {
		put(t, s, c)
	}
	clock.Advance(48 * time.Hour)
	refs := &referencedSet{}
	rep, err := blob.GC(t.Context(), s, blob.GCOptions{Referenced: refs.Referenced, OlderThan: time.Hour, Now: clock.Now, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Deleted) != 5 {
		t.Fatalf("deleted %d", len(rep.Deleted))
	}
	sizes := []int{}
	for _, a := range refs.asked {
		sizes = append(sizes, len(a))
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Fatalf("batches %v", sizes)
	}
}

func TestGCStopsOnAnError(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	s := newFileStore(t, clock)
	sha := put(t, s, "keep me")
	clock.Advance(48 * time.Hour)
	dbDown := errors.New("database unavailable")
	_, err := blob.GC(t.Context(), s, blob.GCOptions{
		Referenced: func(context.Context, []string) (map[string]bool, error) { return nil, dbDown },
		OlderThan:  time.Hour, Now: clock.Now,
	})
	if !errors.Is(err, dbDown) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.Stat(t.Context(), sha); err != nil {
		t.Fatalf("deleted without an answer: %v", err)
	}
	for name, o := range map[string]blob.GCOptions{
		"no Referenced": {OlderThan: time.Hour},
		"no grace":      {Referenced: (&referencedSet{}).Referenced},
	} {
		if _, err := blob.GC(t.Context(), s, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestR39_GCOnS3(t *testing.T) {
	t.Parallel()
	s := newS3Store(t)
	keep := put(t, s, "referenced")
	orphan := put(t, s, "orphan")
	refs := &referencedSet{refs: map[string]bool{keep: true}}
	// The server stamps objects with its own clock; a GC "two hours
	// from now" with a one-hour grace finds both old enough.
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	rep, err := blob.GC(t.Context(), s, blob.GCOptions{Referenced: refs.Referenced, OlderThan: time.Hour, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if got := shasOf(rep.Deleted); !slices.Equal(got, []string{orphan}) {
		t.Fatalf("deleted %v, want the orphan", got)
	}
	if _, err := s.Stat(t.Context(), keep); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), orphan); !errors.Is(err, gateway.ErrBlobNotFound) {
		t.Fatalf("orphan: %v", err)
	}
}
