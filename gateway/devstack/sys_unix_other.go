//go:build unix && !linux

package devstack

import "syscall"

// serverSysProcAttr returns the attributes for initdb and postgres. Setpgid
// keeps a terminal's Ctrl-C away from the server, so chatgate can stop it
// cleanly. There is no Pdeathsig outside Linux.
func serverSysProcAttr(cred *credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// postgresProcess cannot inspect processes on this OS; known is false, so we
// leave stale postmaster.pid handling to postgres itself.
func postgresProcess(int) (isPostgres bool, cwd string, known bool) {
	return false, "", false
}
