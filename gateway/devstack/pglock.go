package devstack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultOldServerWait bounds how long StartPostgres waits for the server of
// an earlier run to finish exiting: after a kill -9 of its owner the
// postmaster dies at once, but its backends take a moment to notice.
const DefaultOldServerWait = 30 * time.Second

// lockName is the file in PostgresConfig.Dir that a Postgres holds an
// exclusive flock on for as long as it manages the cluster. The kernel drops
// the lock when its process dies, however it dies, so unlike postmaster.pid
// it is never stale: taking it proves that no other devstack process manages
// this cluster any more, and that whatever server still runs there is
// leftover from one that did.
const lockName = "postgres.lock"

// oldServerLogEvery is how often a wait for an old server says it still waits.
const oldServerLogEvery = 5 * time.Second

// procState is what the OS says about one process.
type procState struct {
	exists   bool   // the pid is in use, zombies included
	zombie   bool   // exited but not reaped: it holds nothing any more
	postgres bool   // its command name is postgres (or postmaster)
	cwd      string // its working directory; "" when unknown
}

// oldServer is what a start finds left of an earlier server on its data
// directory, and what to do about it.
type oldServer struct {
	action oldServerAction
	why    string // for logs and errors
}

type oldServerAction int

const (
	oldNone  oldServerAction = iota // nothing there, or nothing postgres would trip over
	oldWait                         // a server or its last processes still run: wait
	oldStale                        // postmaster.pid names no server of this directory, yet postgres would refuse it
)

// awaitOldServer makes way for a new postmaster on dataDir. It waits, up to
// wait, for a previous server of the directory to exit, and recovers a
// postmaster.pid that postgres would refuse although no server of this
// directory is left (a pid now used by another process or a zombie, or a
// file it cannot parse); see reclaimPidFile. A pid file of a process that is
// simply gone stays: postgres handles that itself.
//
// The caller holds the directory's lock (lockName), so any server found here
// is not managed by a live devstack process: it is dying, or it was started
// by hand. A server still there after wait fails the start with ErrDirInUse.
func awaitOldServer(ctx context.Context, dataDir string, wait time.Duration, log *slog.Logger) error {
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	start := time.Now()
	deadline := start.Add(wait)
	var lastLog time.Time
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		old, err := inspectOldServer(dataDir)
		if err != nil {
			return err
		}
		switch old.action {
		case oldNone:
			if !lastLog.IsZero() {
				log.Info("previous postgres server has exited", "data_dir", dataDir, "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		case oldStale:
			log.Warn("recovering stale postmaster.pid", "reason", old.why, "data_dir", dataDir)
			return reclaimPidFile(pidFile)
		}
		now := time.Now()
		if now.After(deadline) {
			return fmt.Errorf("%w: %s, still after waiting %s for it to exit; stop it, or use another Dir",
				ErrDirInUse, old.why, wait)
		}
		switch {
		case lastLog.IsZero():
			log.Info("waiting for the previous postgres server of this data directory to exit",
				"reason", old.why, "data_dir", dataDir, "up_to", wait)
			lastLog = now
		case now.Sub(lastLog) >= oldServerLogEvery:
			log.Warn("still waiting for the previous postgres server to exit",
				"reason", old.why, "data_dir", dataDir, "waited", now.Sub(start).Round(time.Second), "up_to", wait)
			lastLog = now
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the previous server of %s (%s): %w", dataDir, old.why, ctx.Err())
		case <-tick.C:
		}
	}
}

// inspectOldServer reads postmaster.pid and the process table once.
func inspectOldServer(dataDir string) (oldServer, error) {
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return oldServer{}, fmt.Errorf("read %s: %w", pidFile, err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, perr := strconv.Atoi(strings.TrimSpace(first))
	valid := exists && perr == nil && pid > 0

	procs, procsKnown := postgresProcessesIn(dataDir)
	owner, ownerKnown := procState{}, false
	if valid {
		owner, ownerKnown = inspectProcess(pid)
	}
	if !procsKnown || (valid && !ownerKnown) {
		// No /proc: all we can tell is whether the pid is alive.
		switch {
		case !exists:
			return oldServer{action: oldNone}, nil
		case !valid:
			return oldServer{action: oldStale, why: "postmaster.pid holds no pid"}, nil
		case processAlive(pid):
			return oldServer{action: oldWait, why: fmt.Sprintf("process %d named in postmaster.pid is alive", pid)}, nil
		}
		return oldServer{action: oldNone}, nil
	}

	others := slices.DeleteFunc(procs, func(p int) bool { return p == pid })
	switch {
	case valid && owner.exists && !owner.zombie && owner.postgres && sameDir(owner.cwd, dataDir):
		return oldServer{action: oldWait, why: fmt.Sprintf("PostgreSQL (pid %d) is running on %s", pid, dataDir)}, nil
	case len(others) > 0:
		return oldServer{action: oldWait, why: fmt.Sprintf("%d postgres processes of an earlier server (pids %s) still run in %s",
			len(others), joinPids(others), dataDir)}, nil
	case !exists:
		return oldServer{action: oldNone}, nil
	case !valid:
		return oldServer{action: oldStale, why: "postmaster.pid holds no pid"}, nil
	case !owner.exists:
		return oldServer{action: oldNone}, nil // postgres takes over a dead pid's file itself
	case owner.zombie:
		return oldServer{action: oldStale, why: fmt.Sprintf("pid %d has exited (a zombie not yet reaped)", pid)}, nil
	default:
		return oldServer{action: oldStale, why: fmt.Sprintf("pid %d belongs to another process now", pid)}, nil
	}
}

// joinPids formats pids for a message, at most five of them.
func joinPids(pids []int) string {
	var s []string
	for i, p := range pids {
		if i == 5 {
			s = append(s, "…")
			break
		}
		s = append(s, strconv.Itoa(p))
	}
	return strings.Join(s, ", ")
}

// reclaimPidFile makes a stale postmaster.pid acceptable to the postmaster we
// are about to start, which refuses a file whose pid is alive. It puts our own
// pid in the first line: postgres takes a lock file of its parent for a
// leftover (pg_ctl relies on the same rule) and then still checks the old
// server's shared memory, named further down in the file, and releases it. A
// file without those lines is removed instead.
func reclaimPidFile(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read stale %s: %w", path, err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 7 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", path, err)
		}
		return nil
	}
	lines[0] = strconv.Itoa(os.Getpid())
	// Rewritten in place, so it keeps the server user as its owner.
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		return fmt.Errorf("rewrite stale %s: %w", path, err)
	}
	return nil
}

// sameDir reports whether a and b name the same directory.
func sameDir(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
