package devstack

// Finding the PostgreSQL server binaries (initdb and postgres) and their
// version; see PostgresConfig.BinDir.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// pgBinaries are the server programs StartPostgres runs.
type pgBinaries struct {
	initdb, postgres string
	version          string // e.g. "15.18"
	major            string // as in PG_VERSION: "15", or "9.6" before 10
}

// findBinaries locates initdb and postgres; see PostgresConfig.BinDir.
func findBinaries(ctx context.Context, binDir, clusterVersion string) (pgBinaries, error) {
	initdb, postgres, err := locateBinaries(binDir, clusterVersion)
	if err != nil {
		return pgBinaries{}, err
	}
	return describeBinaries(ctx, initdb, postgres)
}

// locateBinaries is findBinaries without running anything.
func locateBinaries(binDir, clusterVersion string) (initdb, postgres string, err error) {
	var dirs []string
	if binDir != "" {
		dirs = []string{binDir}
	} else {
		if clusterVersion != "" {
			dirs = append(dirs, filepath.Join("/usr/lib/postgresql", clusterVersion, "bin"))
		}
		initdb, errI := exec.LookPath("initdb")
		postgres, errP := exec.LookPath("postgres")
		if errI == nil && errP == nil {
			return initdb, postgres, nil
		}
		dirs = append(dirs, debianBinDirs()...)
	}
	for _, d := range dirs {
		initdb, postgres := filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
		if isExecutable(initdb) && isExecutable(postgres) {
			return initdb, postgres, nil
		}
	}
	if binDir != "" {
		return "", "", fmt.Errorf("BinDir %s has no initdb and postgres: %w", binDir, ErrNoPostgresBinaries)
	}
	return "", "", fmt.Errorf("searched PATH and /usr/lib/postgresql/*/bin: %w", ErrNoPostgresBinaries)
}

// debianBinDirs returns /usr/lib/postgresql/*/bin, highest version first.
// Debian keeps server binaries there, off PATH.
func debianBinDirs() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(matches, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	return matches
}

// compareVersions compares dotted numeric versions ("9.6" < "15").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// isExecutable reports whether path is a regular file with an execute bit.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// describeBinaries resolves symlinks (so logs show the real installation)
// and asks postgres for its version.
func describeBinaries(ctx context.Context, initdb, postgres string) (pgBinaries, error) {
	if r, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = r
	}
	if r, err := filepath.EvalSymlinks(postgres); err == nil {
		postgres = r
	}
	out, err := exec.CommandContext(ctx, postgres, "--version").Output()
	if err != nil {
		return pgBinaries{}, fmt.Errorf("run %s --version: %w", postgres, err)
	}
	// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
	_, rest, ok := bytes.Cut(out, []byte("(PostgreSQL) "))
	fields := strings.Fields(string(rest))
	if !ok || len(fields) == 0 {
		return pgBinaries{}, fmt.Errorf("unexpected output from %s --version: %q", postgres, out)
	}
	version := fields[0]
	parts := strings.Split(version, ".")
	major := parts[0]
	if n, _ := strconv.Atoi(major); n < 10 && len(parts) > 1 {
		major += "." + parts[1]
	}
	return pgBinaries{initdb: initdb, postgres: postgres, version: version, major: major}, nil
}
