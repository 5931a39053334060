package devstack

import (
	"errors"
	"io/fs"
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

// inspectProcess tells what pid is, from /proc. known is false when /proc
// cannot tell us anything.
func inspectProcess(pid int) (st procState, known bool) {
	base := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(base, "stat"))
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat("/proc/self/stat"); err != nil {
			return procState{}, false // no /proc at all
		}
		return procState{}, true // no such process
	}
	if err != nil {
		return procState{}, false
	}
	st.exists = true
	// "pid (comm) S …": comm may hold spaces and parentheses, so the state
	// follows the last ") ".
	if i := strings.LastIndex(string(stat), ") "); i >= 0 && i+2 < len(stat) {
		st.zombie = stat[i+2] == 'Z' || stat[i+2] == 'X'
	}
	if comm, err := os.ReadFile(filepath.Join(base, "comm")); err == nil {
		name := strings.TrimSpace(string(comm))
		st.postgres = name == "postgres" || name == "postmaster"
	}
	if !st.zombie {
		// Unreadable for other users' processes when we are not root; the
		// postmaster chdirs into its data directory and its children inherit it.
		st.cwd, _ = os.Readlink(filepath.Join(base, "cwd"))
	}
	return st, true
}

// postgresProcessesIn returns the live (not zombie) postgres processes whose
// working directory is dataDir: a postmaster and its children serving it, or
// the children of a postmaster that died before them. known is false when
// /proc cannot be read.
func postgresProcessesIn(dataDir string) (pids []int, known bool) {
	want, err := os.Stat(dataDir)
	if err != nil {
		return nil, true // no data directory: nobody serves it
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		st, ok := inspectProcess(pid)
		if !ok || !st.exists || st.zombie || !st.postgres || st.cwd == "" {
			continue
		}
		if fi, err := os.Stat(st.cwd); err == nil && os.SameFile(fi, want) {
			pids = append(pids, pid)
		}
	}
	return pids, true
}
