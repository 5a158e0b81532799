// This file keeps other processes off the database: an exclusive flock(2)
// on a lock file beside it, holding the owner's pid. buntdb corrupts a file
// two processes append to (tidwall/buntdb#61), and it takes no lock itself.

package session

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// fileLock is an exclusive flock(2) held for as long as f is open.
type fileLock struct {
	f *os.File
}

// lockFile takes an exclusive, non-blocking flock on path (created 0600),
// then writes this process's pid into it. When another open file
// description holds the lock (another daemon, or a second Open in this
// process) it fails at once, naming the holder's pid when the file has one.
//
// The lock is on a file of its own, not on the database, because buntdb's
// Shrink renames a new file over the database: a lock on the old inode
// would no longer keep anyone off the new one.
func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				return nil, fmt.Errorf("%s is locked by another process (pid %d): is another mpgate daemon using this session database?", path, pid)
			}
			return nil, fmt.Errorf("%s is locked by another process: is another mpgate daemon using this session database?", path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write pid to %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

// unlock releases the lock. The file stays, since removing it would race
// with a process that has just opened it.
func (l *fileLock) unlock() error { return l.f.Close() }
