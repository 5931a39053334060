//go:build !unix

package devstack

import (
	"errors"
	"os"
	"syscall"
)

// credential stands in for syscall.Credential, which this OS lacks; it is
// never used because there is no root to drop here.
type credential struct {
	Uid, Gid uint32
	Groups   []uint32
}

// fileOwner cannot tell file owners outside Unix.
func fileOwner(os.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }

// errUnsupportedOS explains why the managed PostgreSQL cannot run here.
var errUnsupportedOS = errors.New("managed PostgreSQL needs a Unix-like OS: set CHATGATE_DATABASE_URL to use an existing database")

// platformSupportsPostgres reports why StartPostgres cannot work here.
func platformSupportsPostgres() error { return errUnsupportedOS }

// lockDir is a no-op outside Unix: there is no flock.
func lockDir(string) (func() error, error) { return func() error { return nil }, nil }

// processAlive cannot probe processes outside Unix; it claims they are gone
// and lets postgres itself judge its lock file.
func processAlive(int) bool { return false }

// inspectProcess cannot inspect processes outside Unix.
func inspectProcess(int) (procState, bool) { return procState{}, false }

// postgresProcessesIn cannot list processes outside Unix.
func postgresProcessesIn(string) ([]int, bool) { return nil, false }

// serverSysProcAttr has nothing to set outside Unix.
func serverSysProcAttr(*credential) *syscall.SysProcAttr { return nil }
