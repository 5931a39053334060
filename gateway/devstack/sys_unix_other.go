//go:build unix && !linux

package devstack

import "syscall"

// serverSysProcAttr returns the attributes for initdb and postgres. Setpgid
// keeps a terminal's Ctrl-C away from the server, so chatgate can stop it
// cleanly. There is no Pdeathsig outside Linux.
func serverSysProcAttr(cred *credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// inspectProcess cannot inspect processes on this OS; known is false, so
// awaitOldServer falls back to whether the pid is alive.
func inspectProcess(int) (procState, bool) { return procState{}, false }

// postgresProcessesIn cannot list processes on this OS.
func postgresProcessesIn(string) ([]int, bool) { return nil, false }
