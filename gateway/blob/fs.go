package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// FileOptions configure a FileStore.
type FileOptions struct {
	// MaxBytes is the size limit of a Put that names none; default
	// DefaultMaxBytes.
	MaxBytes int64
	// Now is the clock that stamps stored blobs; default time.Now. Temporary
	// files of writes in progress carry the operating system's times.
	Now func() time.Time
}

// FileStore is a BlobStore in a directory of the local filesystem (the
// default: the data directory's media folder). Blobs live in
// blobs/ab/cd/abcd…, named by their sha256 only, so no caller-supplied
// string ever becomes part of a path; writes go to tmp/ first and are
// renamed into place after an fsync, on the same filesystem, so a blob is
// there whole or not at all, even after a crash.
type FileStore struct {
	dir      string
	maxBytes int64
	now      func() time.Time
	// writing holds the temporary files of this process's Puts in
	// progress, which SweepTemp never removes whatever their age.
	writing sync.Map
}

var _ gateway.BlobStore = (*FileStore)(nil)

const (
	blobsDir = "blobs"
	tmpDir   = "tmp"
	// Temporary names: a Put's content, and a blob that Delete has moved
	// aside while it checks that nobody stored it again.
	tmpPutPrefix = "put-"
	tmpGCPrefix  = "gc-"
)

// NewFileStore opens (creating it if needed) the store in dir.
func NewFileStore(dir string, opts FileOptions) (*FileStore, error) {
	if dir == "" {
		return nil, errors.New("blob file store: directory is required")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob file store %s: %w", dir, err)
	}
	for _, d := range []string{blobsDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o750); err != nil {
			return nil, fmt.Errorf("blob file store %s: %w", dir, err)
		}
	}
	s := &FileStore{dir: abs, maxBytes: opts.MaxBytes, now: opts.Now}
	if s.maxBytes <= 0 {
		s.maxBytes = DefaultMaxBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Dir is the store's directory, absolute.
func (s *FileStore) Dir() string { return s.dir }

func (s *FileStore) path(sha string) (string, error) {
	if !gateway.ValidBlobID(sha) {
		return "", fmt.Errorf("blob %q: %w", sha, gateway.ErrInvalidBlobID)
	}
	return filepath.Join(s.dir, blobsDir, filepath.FromSlash(shard(sha))), nil
}

// Put implements gateway.BlobStore: the content goes through a temporary
// file, is fsynced, and is renamed into place, or, when the same bytes are
// already stored, the temporary file is dropped and the stored blob's time
// refreshed.
func (s *FileStore) Put(ctx context.Context, r io.Reader, p gateway.BlobPut) (gateway.BlobRef, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), tmpPutPrefix+"*")
	if err != nil {
		return gateway.BlobRef{}, fmt.Errorf("store blob: %w", err)
	}
	s.writing.Store(filepath.Base(tmp.Name()), struct{}{})
	defer s.writing.Delete(filepath.Base(tmp.Name()))
	committed := false
	defer func() {
		if !committed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()

	in := newIntake(ctx, r, limitFor(p, s.maxBytes))
	if _, err := io.Copy(tmp, in); err != nil {
		if in.err != nil {
			err = in.err // ours (too large, cancelled) rather than how io.Copy saw it
		}
		return gateway.BlobRef{}, fmt.Errorf("store blob: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return gateway.BlobRef{}, fmt.Errorf("store blob: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return gateway.BlobRef{}, fmt.Errorf("store blob: %w", err)
	}
	ref := in.ref(p)
	dest, err := s.path(ref.SHA256)
	if err != nil {
		return gateway.BlobRef{}, err
	}
	now := s.now()
	// Already there: keep it and refresh its time, so GC, which only
	// deletes blobs stored before its cutoff, spares it. Chtimes on a path
	// is atomic with Delete's rename: either the refresh lands first and
	// Delete sees it, or Chtimes finds nothing and the rename below puts
	// the bytes back.
	switch err := os.Chtimes(dest, now, now); {
	case err == nil:
		return ref, nil
	case !errors.Is(err, fs.ErrNotExist):
		return gateway.BlobRef{}, fmt.Errorf("store blob %s: %w", ref.SHA256, err)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o750); err != nil {
		return gateway.BlobRef{}, fmt.Errorf("store blob %s: %w", ref.SHA256, err)
	}
	if err := os.Chtimes(tmp.Name(), now, now); err != nil {
		return gateway.BlobRef{}, fmt.Errorf("store blob %s: %w", ref.SHA256, err)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return gateway.BlobRef{}, fmt.Errorf("store blob %s: %w", ref.SHA256, err)
	}
	committed = true
	if err := syncDir(filepath.Dir(dest)); err != nil {
		return gateway.BlobRef{}, fmt.Errorf("store blob %s: %w", ref.SHA256, err)
	}
	return ref, nil
}

// syncDir makes a rename into dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// fileReader is an open blob: *os.File already reads, seeks and reads at.
type fileReader struct {
	*os.File
	info gateway.BlobInfo
}

func (f *fileReader) Info() gateway.BlobInfo { return f.info }

// Open implements gateway.BlobStore.
func (s *FileStore) Open(ctx context.Context, sha string) (gateway.BlobReader, error) {
	p, err := s.path(sha)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(sha, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open blob %s: %w", sha, err)
	}
	return &fileReader{File: f, info: infoOf(sha, fi)}, nil
}

// Stat implements gateway.BlobStore.
func (s *FileStore) Stat(ctx context.Context, sha string) (gateway.BlobInfo, error) {
	p, err := s.path(sha)
	if err != nil {
		return gateway.BlobInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return gateway.BlobInfo{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return gateway.BlobInfo{}, notFound(sha, err)
	}
	return infoOf(sha, fi), nil
}

func infoOf(sha string, fi fs.FileInfo) gateway.BlobInfo {
	return gateway.BlobInfo{SHA256: sha, Size: fi.Size(), StoredAt: fi.ModTime().UTC()}
}

func notFound(sha string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", sha, gateway.ErrBlobNotFound)
	}
	return fmt.Errorf("blob %s: %w", sha, err)
}

// Delete implements gateway.BlobStore. With a cutoff, the blob is first
// renamed aside, which a concurrent Put's refresh cannot interleave with;
// if its time shows that it was stored again since cutoff, it is renamed
// back, else removed.
func (s *FileStore) Delete(ctx context.Context, sha string, cutoff time.Time) (bool, error) {
	p, err := s.path(sha)
	if err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if cutoff.IsZero() {
		if err := os.Remove(p); err != nil {
			return false, notFound(sha, err)
		}
		return true, nil
	}
	asideName := tmpGCPrefix + sha + "-" + randomSuffix()
	aside := filepath.Join(s.dir, tmpDir, asideName)
	s.writing.Store(asideName, struct{}{}) // SweepTemp: hands off
	defer s.writing.Delete(asideName)
	if err := os.Rename(p, aside); err != nil {
		return false, notFound(sha, err)
	}
	fi, err := os.Stat(aside)
	if err == nil && fi.ModTime().Before(cutoff) {
		if err := os.Remove(aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("delete blob %s: %w", sha, err)
		}
		return true, nil
	}
	// Stored again (or unreadable): put it back. A Put that found nothing
	// in the meantime has written the same bytes there; replacing them
	// with these is harmless.
	if rerr := os.Rename(aside, p); rerr != nil {
		return false, fmt.Errorf("delete blob %s: put back: %w", sha, rerr)
	}
	if err != nil {
		return false, fmt.Errorf("delete blob %s: %w", sha, err)
	}
	return false, nil
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// List implements gateway.BlobStore. Only files named by their own hash
// under the right shard directories are blobs; anything else is skipped.
func (s *FileStore) List(ctx context.Context) iter.Seq2[gateway.BlobInfo, error] {
	return func(yield func(gateway.BlobInfo, error) bool) {
		root := filepath.Join(s.dir, blobsDir)
		level1, err := os.ReadDir(root)
		if err != nil {
			yield(gateway.BlobInfo{}, fmt.Errorf("list blobs: %w", err))
			return
		}
		for _, d1 := range level1 {
			if !d1.IsDir() || !isHexPair(d1.Name()) {
				continue
			}
			level2, err := os.ReadDir(filepath.Join(root, d1.Name()))
			if err != nil {
				if !yield(gateway.BlobInfo{}, fmt.Errorf("list blobs: %w", err)) {
					return
				}
				continue
			}
			for _, d2 := range level2 {
				if !d2.IsDir() || !isHexPair(d2.Name()) {
					continue
				}
				if !s.listShard(ctx, filepath.Join(root, d1.Name(), d2.Name()), d1.Name()+d2.Name(), yield) {
					return
				}
			}
		}
	}
}

// listShard yields the blobs of one shard directory; false means stop.
func (s *FileStore) listShard(ctx context.Context, dir, prefix string, yield func(gateway.BlobInfo, error) bool) bool {
	if err := ctx.Err(); err != nil {
		yield(gateway.BlobInfo{}, err)
		return false
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return yield(gateway.BlobInfo{}, fmt.Errorf("list blobs: %w", err))
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !gateway.ValidBlobID(name) || !strings.HasPrefix(name, prefix) {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			if !yield(gateway.BlobInfo{}, fmt.Errorf("list blobs: %w", err)) {
				return false
			}
			continue
		}
		if !yield(infoOf(name, fi), nil) {
			return false
		}
	}
	return true
}

func isHexPair(s string) bool {
	return len(s) == 2 && gateway.ValidBlobID(strings.Repeat(s, 32))
}

// SweepTemp removes what writes and deletes interrupted by a crash left in
// tmp/ before cutoff: partial Puts (never one of this process's Puts in
// progress, and a write in progress keeps its file's time current), and
// blobs that Delete had moved aside. One of those stored again since cutoff
// is put back instead, as Delete would have. It returns how many files it
// removed.
func (s *FileStore) SweepTemp(ctx context.Context, cutoff time.Time) (int, error) {
	dir := filepath.Join(s.dir, tmpDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("sweep blob temp files: %w", err)
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		name := e.Name()
		if _, busy := s.writing.Load(name); busy || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone since ReadDir
		}
		full := filepath.Join(dir, name)
		if sha, ok := asideSHA(name); ok && !fi.ModTime().Before(cutoff) {
			if dest, err := s.path(sha); err == nil {
				if _, err := os.Stat(dest); errors.Is(err, fs.ErrNotExist) {
					if err := os.MkdirAll(filepath.Dir(dest), 0o750); err != nil {
						errs = append(errs, fmt.Errorf("put back blob %s: %w", sha, err))
					} else if err := os.Rename(full, dest); err != nil {
						errs = append(errs, fmt.Errorf("put back blob %s: %w", sha, err))
					}
				}
			}
			continue
		}
		if !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove blob temp file %s: %w", name, err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// asideSHA is the hash in the name of a blob Delete moved aside.
func asideSHA(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, tmpGCPrefix)
	if !ok || len(rest) < 64 || !gateway.ValidBlobID(rest[:64]) {
		return "", false
	}
	return rest[:64], true
}
