package devstack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

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
