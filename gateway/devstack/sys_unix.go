//go:build unix

package devstack

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// credential is the uid/gid a child process switches to.
type credential = syscall.Credential

// fileOwner returns the owner and group of a file.
func fileOwner(fi os.FileInfo) (uid, gid uint32, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Uid, st.Gid, true
}

// platformSupportsPostgres reports why StartPostgres cannot work here: on
// Unix, nothing stops it.
func platformSupportsPostgres() error { return nil }

// lockDir takes an exclusive advisory lock on path (creating it), so a second
// server on the same directory fails fast instead of corrupting it. The lock
// goes away with the process, so a crash never leaves it stale.
func lockDir(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (lock %s is held)", ErrDirInUse, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f.Close, nil
}

// processAlive reports whether a process with this pid exists. EPERM means
// it exists but belongs to someone else.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
