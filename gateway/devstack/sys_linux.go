package devstack

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// serverSysProcAttr returns the attributes for initdb and postgres.
//
// Setpgid puts the server in its own process group, so a Ctrl-C in the
// terminal (sent to the foreground group) reaches chatgate only, and chatgate
// shuts the server down cleanly. Pdeathsig kills the server if this process
// dies without doing so (a test binary killed on timeout, say). The kernel
// sends it when the thread that started the child exits, not the process;
// the Go runtime only retires threads of goroutines that exit while locked
// to their thread, which we never do around a start.
func serverSysProcAttr(cred *credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: cred,
	}
}

// postgresProcess reports whether pid is a live postgres process, and if so,
// the data directory it serves (its working directory: the postmaster chdirs
// into it). known is false when /proc cannot tell us.
func postgresProcess(pid int) (isPostgres bool, cwd string, known bool) {
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return false, "", false
	}
	name := strings.TrimSpace(string(comm))
	if name != "postgres" && name != "postmaster" {
		return false, "", true
	}
	cwd, err = os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "cwd"))
	if err != nil {
		return true, "", false
	}
	return true, cwd, true
}
