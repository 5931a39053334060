package blob

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatgate/chatgate/gateway"
)

// DefaultGCBatch is how many candidate hashes GC asks about at once.
const DefaultGCBatch = 500

// TempSweeper is a store that can leave temporary data behind when a
// process dies in the middle of a write or a delete. GC sweeps it too.
type TempSweeper interface {
	// SweepTemp removes temporary data older than cutoff, never that of a
	// write in progress, and says how much it removed.
	SweepTemp(ctx context.Context, cutoff time.Time) (int, error)
}

var (
	_ TempSweeper = (*FileStore)(nil)
	_ TempSweeper = (*S3Store)(nil)
)

// GCOptions configure one garbage collection.
type GCOptions struct {
	// Referenced reports which of the given hashes something still refers
	// to (a message, an upload not yet sent); absent or false means
	// unreferenced. It is asked about batches of candidates, so a store can
	// answer with one query. Required.
	Referenced func(ctx context.Context, shas []string) (map[string]bool, error)
	// OlderThan is the grace period: only blobs last stored longer ago are
	// candidates. It must cover the time between a Put and the commit of
	// the reference to it (a record waiting in Kafka, a retried batch), so
	// an hour at the very least; the retention policy sets it. Required.
	OlderThan time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// DryRun reports what would be deleted and deletes nothing.
	DryRun bool
	// Batch is how many candidates Referenced gets at once; default
	// DefaultGCBatch.
	Batch int
}

// GCReport says what one garbage collection did.
type GCReport struct {
	// Scanned is how many blobs were listed.
	Scanned int
	// Deleted lists the blobs deleted (in a dry run: that would be).
	Deleted []gateway.BlobInfo
	// DeletedBytes is the total size of Deleted.
	DeletedBytes int64
	// Referenced is how many old enough blobs were kept because something
	// refers to them; Young, how many were too recent to be candidates;
	// Restored, how many were stored again while being collected.
	Referenced, Young, Restored int
	// TempRemoved counts leftovers of interrupted writes removed.
	TempRemoved int
}

// GC deletes the blobs of store that nothing references and that were
// last stored before the grace period (R39's retention purges through
// it). A blob being written is never a candidate: stores list only
// complete blobs, and a Put of bytes already stored refreshes their time,
// which Delete checks again, so bytes handed out again during the
// collection stay. On an error GC stops and returns what it did so far.
func GC(ctx context.Context, store gateway.BlobStore, o GCOptions) (GCReport, error) {
	var rep GCReport
	if o.Referenced == nil {
		return rep, errors.New("blob gc: Referenced is required")
	}
	if o.OlderThan <= 0 {
		return rep, fmt.Errorf("blob gc: OlderThan %s: want a positive grace period", o.OlderThan)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Batch <= 0 {
		o.Batch = DefaultGCBatch
	}
	cutoff := o.Now().Add(-o.OlderThan)
	var batch []gateway.BlobInfo
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		defer func() { batch = batch[:0] }()
		shas := make([]string, len(batch))
		for i, b := range batch {
			shas[i] = b.SHA256
		}
		refs, err := o.Referenced(ctx, shas)
		if err != nil {
			return fmt.Errorf("blob gc: which blobs are referenced: %w", err)
		}
		for _, b := range batch {
			if refs[b.SHA256] {
				rep.Referenced++
				continue
			}
			if o.DryRun {
				rep.Deleted = append(rep.Deleted, b)
				rep.DeletedBytes += b.Size
				continue
			}
			deleted, err := store.Delete(ctx, b.SHA256, cutoff)
			switch {
			case errors.Is(err, gateway.ErrBlobNotFound):
				continue // deleted by someone else meanwhile
			case err != nil:
				return fmt.Errorf("blob gc: %w", err)
			case !deleted:
				rep.Restored++
				continue
			}
			rep.Deleted = append(rep.Deleted, b)
			rep.DeletedBytes += b.Size
		}
		return nil
	}
	for info, err := range store.List(ctx) {
		if err != nil {
			return rep, fmt.Errorf("blob gc: %w", err)
		}
		rep.Scanned++
		if !info.StoredAt.Before(cutoff) {
			rep.Young++
			continue
		}
		batch = append(batch, info)
		if len(batch) >= o.Batch {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	if ts, ok := store.(TempSweeper); ok && !o.DryRun {
		n, err := ts.SweepTemp(ctx, cutoff)
		rep.TempRemoved = n
		if err != nil {
			return rep, fmt.Errorf("blob gc: %w", err)
		}
	}
	return rep, nil
}
