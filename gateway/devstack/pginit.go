package devstack

// Creating the cluster on first use (initdb into a directory renamed into
// place when complete), its superuser password, and where its socket goes.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// maxSocketPath is the longest Unix socket path we use: sun_path holds 108
// bytes including the terminating NUL.
const maxSocketPath = 107

// initCluster runs initdb into Dir/pgdata.init and renames it to Dir/pgdata
// when complete, so an interrupted initdb never leaves a half-made cluster
// where later starts would trust it.
func (p *Postgres) initCluster(ctx context.Context) error {
	initDir := filepath.Join(p.dir, pgInitName)
	if err := os.RemoveAll(initDir); err != nil {
		return fmt.Errorf("remove leftover %s: %w", initDir, err)
	}
	if err := removeEmptyDataDir(p.dataDir); err != nil {
		return err
	}
	// Created by us (not initdb) because the server user may not be
	// allowed to create entries in Dir.
	if err := os.Mkdir(initDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", initDir, err)
	}
	pwfile := filepath.Join(p.dir, pwfileName)
	if err := os.WriteFile(pwfile, []byte(p.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write initdb password file: %w", err)
	}
	defer os.Remove(pwfile)
	if p.runAs.cred != nil {
		// initdb reads the password file as the server user.
		for _, path := range []string{initDir, pwfile} {
			if err := os.Chown(path, int(p.runAs.cred.Uid), int(p.runAs.cred.Gid)); err != nil {
				return fmt.Errorf("hand %s to OS user %s: %w", path, p.runAs.name, err)
			}
		}
	}

	args := []string{
		"-D", initDir,
		"--auth=scram-sha-256",
		"--username=" + Superuser,
		"--pwfile=" + pwfile,
		"--encoding=UTF8",
		"--data-checksums",
		localeFlag(),
	}
	if p.cfg.NoSync {
		args = append(args, "--no-sync")
	}
	if compareVersions(p.bins.major, "14") >= 0 {
		// Its "start with pg_ctl -D …pgdata.init" advice would mislead
		// whoever reads postgres.log: we start the server, from pgdata.
		args = append(args, "--no-instructions")
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, p.bins.initdb, args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = p.logFile, p.logFile
	cmd.SysProcAttr = serverSysProcAttr(p.runAs.cred)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run %s: %w%s", p.bins.initdb, err, p.logTailForError())
	}
	if err := os.Rename(initDir, p.dataDir); err != nil {
		return fmt.Errorf("move new cluster into place: %w", err)
	}
	p.log.Info("postgres cluster created",
		"data_dir", p.dataDir, "initdb", p.bins.initdb, "version", p.bins.version,
		"superuser", Superuser, "password_file", filepath.Join(p.dir, passwordName),
		"duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// chooseSocketDir picks the Unix socket directory: the data directory when
// the socket path fits in sun_path, else a fresh directory under /tmp. Either
// way the server user can write it.
func (p *Postgres) chooseSocketDir() error {
	// ".s.PGSQL.65535.lock" is the longest name postgres puts there.
	if len(p.dataDir)+len("/.s.PGSQL.65535.lock") <= maxSocketPath {
		p.sockDir = p.dataDir
		return nil
	}
	dir, err := os.MkdirTemp("/tmp", "chatgate-pg-")
	if err != nil {
		return fmt.Errorf("create socket directory: %w", err)
	}
	if p.runAs.cred != nil {
		if err := os.Chown(dir, int(p.runAs.cred.Uid), int(p.runAs.cred.Gid)); err != nil {
			_ = os.Remove(dir)
			return fmt.Errorf("hand socket directory %s to OS user %s: %w", dir, p.runAs.name, err)
		}
	}
	p.sockDir, p.tempSock = dir, true
	return nil
}

// localeFlag chooses the cluster locale. C.UTF-8 sorts by code point like C
// but classifies non-ASCII letters (upper(), lower(), ILIKE), which matters
// for names and messages in any language; it is not installed everywhere, so
// we fall back to plain C.
func localeFlag() string {
	for _, dir := range []string{"/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8"} {
		if _, err := os.Stat(dir); err == nil {
			return "--locale=C.UTF-8"
		}
	}
	return "--no-locale"
}

// readClusterVersion returns the major version recorded in dataDir/PG_VERSION,
// or "" when dataDir holds no cluster.
func readClusterVersion(dataDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cluster version: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// removeEmptyDataDir clears the way for the rename of a new cluster: an empty
// Dir/pgdata (someone made it by hand) goes; anything else is not ours to
// delete.
func removeEmptyDataDir(dataDir string) error {
	entries, err := os.ReadDir(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w", dataDir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty but holds no PostgreSQL cluster (no PG_VERSION): move it away", dataDir)
	}
	return os.Remove(dataDir)
}

// loadOrCreatePassword returns the superuser password from Dir/password,
// generating it for a new cluster. The file is the only copy: without it an
// existing cluster is unreachable, so we refuse to invent a new one.
func loadOrCreatePassword(dir string, clusterExists bool) (string, error) {
	path := filepath.Join(dir, passwordName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		// Tighten a file someone loosened; it is a superuser password.
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return "", fmt.Errorf("restrict %s to mode 0600: %w", path, err)
			}
		}
		pw := strings.TrimSpace(string(b))
		if pw == "" {
			return "", fmt.Errorf("password file %s is empty", path)
		}
		return pw, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read password file: %w", err)
	case clusterExists:
		return "", fmt.Errorf("cluster %s exists but its password file %s is missing: restore the file, "+
			"or remove %s to start over with an empty cluster", filepath.Join(dir, pgdataName), path, filepath.Join(dir, pgdataName))
	}
	pw := rand.Text() // 26 base32 characters, 130 bits; safe in URLs unescaped
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write password file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write password file: %w", err)
	}
	return pw, nil
}
