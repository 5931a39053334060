package devstack

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// RunningPostgresURL returns the URL of database on the managed cluster in
// dir (the Dir of a PostgresConfig) if its postmaster.pid says a server is
// up, so other processes (CLI commands) can attach to the cluster a running
// chatgate serves instead of starting it. The server may still refuse the
// connection (a pid file left by a crash): callers connect to find out.
func RunningPostgresURL(dir, database string) (string, bool) {
	pid, err := os.ReadFile(filepath.Join(dir, "pgdata", "postmaster.pid"))
	if err != nil {
		return "", false
	}
	lines := strings.Split(string(pid), "\n")
	if len(lines) < 4 {
		return "", false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil || port <= 0 {
		return "", false
	}
	pw, err := os.ReadFile(filepath.Join(dir, "password"))
	if err != nil || strings.TrimSpace(string(pw)) == "" {
		return "", false
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(Superuser, strings.TrimSpace(string(pw))),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String(), true
}
