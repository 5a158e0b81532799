// This file decides which user Apache's children run as and hands files and directories to it.

package apachetest

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// defaultRootUser is the user Apache's children run as when the test runs as root, as in Debian's
// stock configuration (Apache refuses to serve requests as root).
const defaultRootUser = "www-data"

var runAs = sync.OnceValue(func() apacheUser {
	if os.Geteuid() != 0 {
		u := apacheUser{uid: os.Geteuid(), gid: os.Getegid(), name: strconv.Itoa(os.Geteuid())}
		if cur, err := user.Current(); err == nil {
			u.name = cur.Username
		}
		return u
	}
	u, err := lookupUser(defaultRootUser)
	if err != nil {
		return apacheUser{uid: -1, gid: -1, name: defaultRootUser, err: err}
	}
	return u
})

// apacheUser is the account a server's children run as.
type apacheUser struct {
	uid, gid int
	name     string
	err      error // the account does not exist; Start fails with it
}

func lookupUser(name string) (apacheUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return apacheUser{}, fmt.Errorf("user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return apacheUser{}, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return apacheUser{}, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	return apacheUser{uid: uid, gid: gid, name: name}, nil
}

// RunAs returns the user a server's children run as unless Options.User says otherwise: www-data
// when the test runs as root, otherwise the current user. uid and gid are -1 if www-data does not
// exist (Start then fails saying so).
func RunAs() (uid, gid int, name string) {
	u := runAs()
	return u.uid, u.gid, u.name
}

// Chown gives path, and everything under it when it is a directory, to the RunAs user when the test
// runs as root; otherwise it does nothing. Symbolic links are changed, not followed.
func Chown(t testing.TB, path string) {
	t.Helper()
	u := runAs()
	if err := chownTree(path, u.uid, u.gid); err != nil {
		t.Fatalf("apachetest: %v", err)
	}
}

func chownTree(path string, uid, gid int) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// TempDir returns a new directory, removed when the test ends, that the RunAs user can use: it is
// mode 0755, every directory above it lets others through, and when the test runs as root it is owned
// by the RunAs user. Tests stage there what Apache or its children must read, run or write (fcgid
// programs, sockets, session stores). Unlike t.TempDir, its path is short (about 30 bytes), which
// leaves room for unix socket names (108 bytes at most).
func TempDir(t testing.TB) string {
	t.Helper()
	u := runAs()
	return tempDir(t, u.uid, u.gid)
}

func tempDir(t testing.TB, uid, gid int) string {
	t.Helper()
	base := os.TempDir()
	if os.Geteuid() == 0 && !traversable(base) {
		// $TMPDIR may be under /root; the Apache user could not reach anything there.
		base = "/tmp"
	}
	if os.Geteuid() == 0 && !traversable(base) {
		t.Fatalf("apachetest: neither $TMPDIR nor /tmp can be traversed by other users; Apache's children could not reach its files")
	}
	dir, err := os.MkdirTemp(base, "apachetest-")
	if err != nil {
		t.Fatalf("apachetest: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("apachetest: remove %s: %v", dir, err)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("apachetest: %v", err)
	}
	if err := chownTree(dir, uid, gid); err != nil {
		t.Fatalf("apachetest: %v", err)
	}
	return dir
}

// traversable reports whether dir and every directory above it can be searched by others.
func traversable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}
