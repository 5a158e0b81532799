// This file is the stat side of the Watcher: snapshots of files and
// directories, the polling of directories that inotify does not watch, and
// the directory listings whose changes ask workers for a rescan.

package importer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// fileState is a file as a look at it found it; the zero value is a file
// that does not exist.
type fileState struct {
	exists  bool
	mtimeNs int64
	size    int64
	ino     uint64
}

// statFile takes the snapshot of a file, following symbolic links as
// Python's open does.
func statFile(path string) fileState {
	fi, err := os.Stat(path)
	if err != nil {
		return fileState{}
	}
	st := fileState{exists: true, mtimeNs: fi.ModTime().UnixNano(), size: fi.Size()}
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = uint64(s.Ino)
	}
	return st
}

// racyWindow is how close to the moment of a look a directory's mtime must
// be for a later change within the same timestamp tick to be possible
// (Linux file systems take timestamps from a clock that ticks every few
// milliseconds). Such a directory is listed again at the next poll.
const racyWindow = 100 * time.Millisecond

// statDir returns whether dir exists as a directory, its mtime, and whether
// that mtime is too recent to trust (see racyWindow).
func statDir(dir string) (exists bool, mtimeNs int64, racy bool) {
	now := time.Now()
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return false, 0, false
	}
	mt := fi.ModTime()
	return true, mt.UnixNano(), now.Sub(mt) < racyWindow
}

// readEntries lists the names in dir that could be imported: *.py files and
// directories (packages, or namespace packages), noise excluded. A directory
// that does not exist has no entries (and the error says so).
func readEntries(dir string) (map[string]struct{}, error) {
	entries := make(map[string]struct{})
	f, err := os.Open(dir)
	if err != nil {
		return entries, err
	}
	defer f.Close()
	list, err := f.ReadDir(-1)
	for _, e := range list {
		name := e.Name()
		if isNoise(name) {
			continue
		}
		switch t := e.Type(); {
		case t.IsDir(), t.IsRegular() && strings.HasSuffix(name, ".py"):
			entries[name] = struct{}{}
		case t&fs.ModeSymlink != 0:
			if strings.HasSuffix(name, ".py") {
				entries[name] = struct{}{}
			} else if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.IsDir() {
				entries[name] = struct{}{}
			}
		}
	}
	return entries, err
}

// entriesDiffer reports whether a listing gained or lost a name other than
// the watched files (whose changes are reported as such).
func entriesDiffer(old, cur map[string]struct{}, watched map[string]fileState) bool {
	for name := range old {
		if _, ok := cur[name]; !ok {
			if _, w := watched[name]; !w {
				return true
			}
		}
	}
	for name := range cur {
		if _, ok := old[name]; !ok {
			if _, w := watched[name]; !w {
				return true
			}
		}
	}
	return false
}

// poll looks at every directory that inotify does not watch.
func (w *Watcher) poll() {
	w.mu.Lock()
	dirs := make([]string, 0, w.npolled)
	for p, d := range w.dirs {
		if d.how != byInotify {
			dirs = append(dirs, p)
		}
	}
	w.mu.Unlock()
	for _, dir := range dirs {
		w.pollDir(dir)
	}
}

// pollDir stats a polled directory and its watched files and records what
// differs from the last look. A directory waited for since its removal is
// watched by inotify again as soon as it exists, and then looked at once
// more, so that what was created before the watch is not lost.
func (w *Watcher) pollDir(dir string) {
	w.mu.Lock()
	d := w.dirs[dir]
	if d == nil || d.how == byInotify {
		w.mu.Unlock()
		return
	}
	gone := d.how == whileGone
	names := make([]string, 0, len(d.files))
	for name := range d.files {
		names = append(names, name)
	}
	w.mu.Unlock()

	exists, mtimeNs, racy := statDir(dir)
	relist := false
	if gone && exists && w.readd(d) {
		relist = true
		exists, mtimeNs, racy = statDir(dir)
	}
	stats := make([]fileState, len(names))
	for i, name := range names {
		stats[i] = statFile(filepath.Join(dir, name))
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dirs[dir] != d {
		return
	}
	for i, name := range names {
		if old, ok := d.files[name]; ok && old != stats[i] {
			d.files[name] = stats[i]
			w.markChangedLocked(filepath.Join(dir, name))
		}
	}
	if relist || d.racy || exists != d.exists || mtimeNs != d.mtimeNs {
		w.markListLocked(dir)
	}
	d.exists, d.mtimeNs, d.racy = exists, mtimeNs, racy
}

// readd watches a directory by inotify again after it came back. It reports
// whether that worked.
func (w *Watcher) readd(d *dirState) bool {
	w.addMu.Lock()
	defer w.addMu.Unlock()
	w.mu.Lock()
	ok := !w.closed && w.dirs[d.path] == d && d.how == whileGone
	w.mu.Unlock()
	if !ok {
		return false
	}
	// fsnotify may still hold the watch of the directory that went away
	// (its removal event not yet read); drop it so the new one is fresh.
	_ = w.fsw.Remove(d.path)
	err := w.add(w.fsw, d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false // gone again
	}
	if err != nil {
		w.warnLimit(d.path, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.setHowLocked(d, byPoll)
		return false
	}
	w.setHowLocked(d, byInotify)
	w.log.Debug("directory is back, watching it again", "dir", d.path)
	return true
}
