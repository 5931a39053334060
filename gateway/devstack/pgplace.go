package devstack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DefaultReachableRoot is PostgresConfig.ReachableRoot's default: a place the
// server's OS user can reach on any Debian-like system.
const DefaultReachableRoot = "/var/lib/chatgate"

// originName is the file in a directory under ReachableRoot that names the
// Dir linking to it, for whoever wonders what the directory belongs to.
const originName = "origin"

// placeDir returns the directory the cluster's files live in, made if
// missing and reachable by the server user. Normally that is dir itself.
// When we run as root and the server user cannot traverse a parent of dir
// that is not ours to open up (a 0700 home directory such as /root), it is
// a directory of its own under root, and dir becomes a symbolic link to it;
// later starts follow the link. Loosening the user's home instead would be
// easier and wrong: it is theirs.
func placeDir(dir, root string, u serverUser, log *slog.Logger) (string, error) {
	if u.cred == nil {
		if _, err := mkdirAllTracked(dir, 0o700); err != nil {
			return "", fmt.Errorf("create Dir: %w", err)
		}
		return dir, nil
	}
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(dir)
		if err != nil {
			return "", fmt.Errorf("read link %s: %w", dir, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(dir), target)
		}
		if resolved, err := filepath.EvalSymlinks(target); err == nil {
			target = resolved
		}
		return target, makeReachable(target, u)
	}
	blocked := blockedParents(dir, u)
	if len(blocked) == 0 {
		return dir, makeReachable(dir, u)
	}

	target := filepath.Join(root, relocatedName(dir))
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return "", fmt.Errorf("%w (a new cluster would be kept in %s, linked from Dir, but %s holds files already: "+
			"move them to %s and remove %s, or remove %s to start over)",
			traverseError(u, dir, blocked), target, dir, target, dir, dir)
	}
	if err := makeReachable(target, u); err != nil {
		return "", fmt.Errorf("%w; keeping the cluster in %s instead failed: %w", traverseError(u, dir, blocked), target, err)
	}
	if err := os.WriteFile(filepath.Join(target, originName), []byte(dir+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("record where %s belongs: %w", target, err)
	}
	// An empty Dir is what an earlier, failed start left.
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("replace empty %s with a link to %s: %w", dir, target, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", fmt.Errorf("create the parent of Dir: %w", err)
	}
	if err := os.Symlink(target, dir); err != nil {
		// Another start may have made the same link a moment ago.
		if got, rerr := os.Readlink(dir); rerr != nil || got != target {
			return "", fmt.Errorf("link %s to %s: %w", dir, target, err)
		}
	}
	log.Info("postgres cluster kept where its OS user can reach it",
		"dir", dir, "cluster_dir", target, "run_as", u.name, "blocked_at", strings.Join(blocked, ","))
	return target, nil
}

// relocatedName is the name of dir's directory under ReachableRoot: stable,
// so a start whose link went missing finds the same cluster again, and
// distinct per checkout.
func relocatedName(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return "pg-" + hex.EncodeToString(sum[:8])
}

// makeReachable creates dir if missing and makes sure the server user can
// reach it (see ensureTraversable).
func makeReachable(dir string, u serverUser) error {
	created, err := mkdirAllTracked(dir, 0o700)
	if err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return ensureTraversable(dir, created, u)
}

// blockedParents returns the existing parents of dir, nearest last, that u
// cannot traverse. Missing parents do not count: we create those.
func blockedParents(dir string, u serverUser) []string {
	var blocked []string
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && !canTraverse(fi, u) {
			blocked = append(blocked, d)
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	slices.Reverse(blocked)
	return blocked
}

// serverUser is who initdb and postgres run as.
type serverUser struct {
	name string
	gids []uint32    // primary and supplementary groups, for permission checks
	cred *credential // nil: run as ourselves
}

// lookupServerUser returns the current user, or osUser when we are root:
// initdb and postgres refuse to run as root.
func lookupServerUser(osUser string) (serverUser, error) {
	if os.Geteuid() != 0 {
		name := strconv.Itoa(os.Geteuid())
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		return serverUser{name: name}, nil
	}
	u, err := user.Lookup(osUser)
	if err != nil {
		return serverUser{}, fmt.Errorf("running as root, so PostgreSQL must run as OS user %q (initdb refuses root), "+
			"but looking it up failed: %w; create the user (Debian: `apt-get install postgresql` does) "+
			"or run chatgate as a non-root user", osUser, err)
	}
	uid, errU := strconv.ParseUint(u.Uid, 10, 32)
	gid, errG := strconv.ParseUint(u.Gid, 10, 32)
	if errU != nil || errG != nil {
		return serverUser{}, fmt.Errorf("OS user %q has a non-numeric uid %q or gid %q", osUser, u.Uid, u.Gid)
	}
	cred := &credential{Uid: uint32(uid), Gid: uint32(gid)}
	gids := []uint32{uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil && uint32(g) != uint32(gid) {
				cred.Groups = append(cred.Groups, uint32(g))
				gids = append(gids, uint32(g))
			}
		}
	}
	return serverUser{name: osUser, gids: gids, cred: cred}, nil
}

// mkdirAllTracked is os.MkdirAll that also returns the directories it
// created, which are ours to adjust later.
func mkdirAllTracked(dir string, perm os.FileMode) (map[string]bool, error) {
	created := map[string]bool{}
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		created[missing[i]] = true
	}
	return created, nil
}

// ensureTraversable makes sure the server user can reach dir: it needs
// search (x) permission on dir and every parent. We add o+x to dir itself
// and to the parents we created; anyone else's directories we only report,
// all at once so one round of fixes is enough. o+x lets others pass through,
// not list: the password file stays 0600.
func ensureTraversable(dir string, created map[string]bool, u serverUser) error {
	var blocked []string
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("check access to %s: %w", d, err)
		}
		if !canTraverse(fi, u) {
			if d == dir || created[d] {
				if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
					return fmt.Errorf("let OS user %s traverse %s: %w", u.name, d, err)
				}
			} else {
				blocked = append(blocked, d)
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(blocked) == 0 {
		return nil
	}
	slices.Reverse(blocked)
	return traverseError(u, dir, blocked)
}

// traverseError says that u cannot reach dir past blocked, and what to do.
func traverseError(u serverUser, dir string, blocked []string) error {
	return fmt.Errorf("PostgreSQL runs as OS user %q because chatgate runs as root, and it cannot traverse "+
		"directory %s on the way to %s: run `chmod o+x %s`, choose a Dir elsewhere (e.g. under /var/lib), "+
		"or run chatgate as a non-root user",
		u.name, strings.Join(blocked, ", "), dir, strings.Join(blocked, " "))
}

// canTraverse reports whether u has search permission on the directory fi.
func canTraverse(fi os.FileInfo, u serverUser) bool {
	perm := fi.Mode().Perm()
	uid, gid, ok := fileOwner(fi)
	if !ok || u.cred == nil {
		return perm&0o001 != 0
	}
	switch {
	case uid == u.cred.Uid:
		return perm&0o100 != 0
	case slices.Contains(u.gids, gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// chownTreeIfNeeded hands an existing cluster to the server user when it
// belongs to someone else (say it was created by a non-root run): postgres
// refuses a data directory it does not own.
func chownTreeIfNeeded(dataDir string, u serverUser) error {
	fi, err := os.Stat(dataDir)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", dataDir, err)
	}
	if uid, _, ok := fileOwner(fi); !ok || uid == u.cred.Uid {
		return nil
	}
	err = filepath.WalkDir(dataDir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(u.cred.Uid), int(u.cred.Gid))
	})
	if err != nil {
		return fmt.Errorf("hand %s to OS user %s: %w", dataDir, u.name, err)
	}
	return nil
}
