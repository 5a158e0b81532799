// This file reads .htaccess files for the directory walk, the way
// Apache's ap_parse_htaccess does, and keeps them parsed between requests:
// a directory's entry stays valid until inotify reports a change in it (or,
// where inotify is unavailable, until a stat of its access files differs).

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// maxWatchedDirs bounds the inotify watches one Config holds; directories
// beyond it are checked with stat on every request.
const maxWatchedDirs = 8192

// nextDynamicKey numbers .htaccess sections for Lookup's cache keys, above
// any static section's index.
var nextDynamicKey atomic.Uint64

func init() { nextDynamicKey.Store(1 << 40) }

// htPolicy is what a .htaccess file is parsed with: the same file gives a
// different configuration under a different AllowOverride.
type htPolicy struct {
	override uint16
	list     *section // the section whose AllowOverrideList is in effect; nil for none
	names    string   // AccessFileName's names, space separated
}

// htFile is the parse of one directory's access file under one policy.
type htFile struct {
	path     string   // the file read; "" when none of the names exists
	sec      *section // nil when there is no file, or it is broken
	err      *Error   // the first broken line: the request gets status
	status   int      // 500 for a broken file, 403 for one that cannot be read
	warnings []Warning
	key      uint64 // a fresh number per parse, for Lookup's cache keys
}

// htDir is one directory's entry.
type htDir struct {
	dir   string      // with trailing '/'
	stale atomic.Bool // an event came since the last read (or it was never read)
	// variants are the parses of the current files, one per policy; read
	// without locks, replaced whole under mu.
	variants atomic.Pointer[[]htVariant]

	mu      sync.Mutex  // guards stamps; serialises reads of the files
	stamps  []fileStamp // what stat said of each access name when they were read
	watched atomic.Bool // an inotify watch covers the directory
}

type htVariant struct {
	pol  htPolicy
	file *htFile
}

// fileStamp is enough of a stat to notice a change.
type fileStamp struct {
	exists bool
	size   int64
	mtime  time.Time
	ino    uint64
}

func stampOf(fi fs.FileInfo, err error) fileStamp {
	if err != nil {
		return fileStamp{}
	}
	st := fileStamp{exists: true, size: fi.Size(), mtime: fi.ModTime()}
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = s.Ino
	}
	return st
}

// htCache holds a Config's .htaccess entries and the watcher keeping them
// valid.
type htCache struct {
	mu   sync.RWMutex // guards dirs
	dirs map[string]*htDir

	watchMu  sync.Mutex // guards fsw, watched, closed, failed; taken before mu, never the other way
	fsw      *fsnotify.Watcher
	watched  map[string]bool // paths given to fsw.Add, without trailing '/' (but "/")
	closed   bool
	failed   bool          // inotify unavailable: stat only
	done     chan struct{} // closed when the event goroutine ends
	statOnly bool          // Options.HtaccessStat
	// handled, when not nil (tests), gets a value, without blocking, after
	// each inotify event has been applied: what a change's wait waits on.
	handled chan struct{}
}

// htaccess returns the parse of dir's access file for v's names and the
// policy, reading it when it changed. dir ends in '/'.
func (c *Config) htaccess(dir string, pol htPolicy, v *VirtualHost, listSec *section) *htFile {
	h := &c.ht
	h.mu.RLock()
	d := h.dirs[dir]
	h.mu.RUnlock()
	if d != nil && !d.stale.Load() {
		if f := d.find(pol); f != nil && (d.watchedNow() || !c.changedOnDisk(d, v)) {
			return f
		}
	}
	return c.readHtaccess(dir, pol, v, listSec)
}

// watchedNow reports whether inotify vouches for the entry.
func (d *htDir) watchedNow() bool {
	return d.watched.Load()
}

func (d *htDir) find(pol htPolicy) *htFile {
	vs := d.variants.Load()
	if vs == nil {
		return nil
	}
	for i := range *vs {
		if (*vs)[i].pol == pol {
			return (*vs)[i].file
		}
	}
	return nil
}

// changedOnDisk stats the access names of an unwatched directory and
// compares with what they were when read.
func (c *Config) changedOnDisk(d *htDir, v *VirtualHost) bool {
	d.mu.Lock()
	stamps := d.stamps
	d.mu.Unlock()
	if len(stamps) != len(v.accessNames) {
		return true
	}
	for i, name := range v.accessNames {
		if stampOf(c.rs.fs.Stat(d.dir+name)) != stamps[i] {
			d.stale.Store(true)
			return true
		}
	}
	return false
}

// readHtaccess is the slow path: watch the directory, then read and parse
// its access file under pol, and remember the result.
func (c *Config) readHtaccess(dir string, pol htPolicy, v *VirtualHost, listSec *section) *htFile {
	h := &c.ht
	h.mu.Lock()
	if h.dirs == nil {
		h.dirs = map[string]*htDir{}
	}
	d := h.dirs[dir]
	if d == nil {
		d = &htDir{dir: dir}
		d.stale.Store(true)
		if len(h.dirs) >= maxCacheEntries*4 {
			evict(h.dirs)
		}
		h.dirs[dir] = d
	}
	h.mu.Unlock()

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stale.Load() {
		// Watch first, then clear the mark, then read: an event from
		// now on marks the entry again.
		d.watched.Store(c.watch(dir))
		d.stale.Store(false)
		d.variants.Store(nil)
		d.stamps = nil
	}
	if f := d.find(pol); f != nil && (d.watched.Load() || !c.changedOnDiskLocked(d, v)) {
		return f
	}
	if !d.watched.Load() {
		d.stamps = d.stamps[:0]
		for _, name := range v.accessNames {
			d.stamps = append(d.stamps, stampOf(c.rs.fs.Stat(dir+name)))
		}
		d.variants.Store(nil)
	}
	f := c.parseAccessFile(dir, pol, v, listSec)
	var vs []htVariant
	if old := d.variants.Load(); old != nil {
		vs = append(vs, *old...)
	}
	vs = append(vs, htVariant{pol: pol, file: f})
	d.variants.Store(&vs)
	return f
}

func (c *Config) changedOnDiskLocked(d *htDir, v *VirtualHost) bool {
	if len(d.stamps) != len(v.accessNames) {
		return true
	}
	for i, name := range v.accessNames {
		if stampOf(c.rs.fs.Stat(d.dir+name)) != d.stamps[i] {
			return true
		}
	}
	return false
}

// parseAccessFile is ap_parse_htaccess for one directory: the first of the
// access names that exists is read; one that exists but cannot be read
// refuses the request (403), as Apache does "to be safe".
func (c *Config) parseAccessFile(dir string, pol htPolicy, v *VirtualHost, listSec *section) *htFile {
	f := &htFile{key: nextDynamicKey.Add(1)}
	for _, name := range v.accessNames {
		p := dir + name
		src, err := c.rs.fs.ReadFile(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				continue
			}
			f.path = p
			f.status = 403
			f.err = &Error{File: p, Directive: "AccessFileName", Err: fmt.Errorf("unable to check htaccess file, ensure it is readable and that %q is executable: %w", dir, unwrapPathError(err))}
			return f
		}
		f.path = p
		c.buildAccessFile(f, dir, src, pol, v, listSec)
		return f
	}
	return f
}

// buildAccessFile reads one .htaccess file's text with the reader and the
// builder of the main configuration, in a .htaccess context: only the
// directives AllowOverride or AllowOverrideList grant apply, handlers get
// the file's directory (mod_python's determine_context), and the first
// broken line makes the file refuse requests.
func (c *Config) buildAccessFile(f *htFile, dir string, src []byte, pol htPolicy, v *VirtualHost, listSec *section) {
	r := &reader{
		fs:         c.rs.fs,
		serverRoot: c.rs.serverRoot,
		vars:       c.rs.vars,
		env:        c.rs.env,
		modules:    c.rs.modules,
		defines:    c.defines,
		htaccess:   true,
		files:      1,
		bytes:      int64(len(src)),
	}
	var tree []*node
	r.parse(f.path, src, &tree, "")
	scratch := &Config{}
	b := &builder{c: scratch, r: r, mainFile: f.path, dynamic: true}
	s := b.newSection(kindHtaccess, ".htaccess", dir, f.path, 0)
	s.path = dir
	s.components = strings.Count(dir, "/")
	s.server = v
	hc := &htCtx{override: pol.override}
	if listSec != nil {
		hc.list = listSec.core.overrideList
	}
	srv := &VirtualHost{File: f.path}
	srv.body = s
	b.walk(tree, walkCtx{srv: srv, sec: s, dirSec: s, ht: hc})
	f.warnings = r.warns
	s.htWarnings = r.warns
	if len(r.errs) > 0 {
		first := r.errs[0]
		for _, e := range r.errs[1:] {
			if e.seq < first.seq {
				first = e
			}
		}
		f.err = first
		f.status = 500
		return
	}
	f.sec = s
}

// watch makes sure an inotify watch covers dir and its ancestors (so that
// replacing a parent directory is noticed too). It reports false when the
// directory is left to stat checks.
func (c *Config) watch(dir string) bool {
	h := &c.ht
	h.watchMu.Lock()
	defer h.watchMu.Unlock()
	if h.closed || h.failed || h.statOnly {
		return false
	}
	if _, ok := c.rs.fs.(osFS); !ok {
		return false // an in-memory file system (tests) has nothing to watch
	}
	if h.fsw == nil {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			h.failed = true
			c.logger.Warn("cannot watch .htaccess files; they are checked with stat on every request", "err", err)
			return false
		}
		h.fsw = w
		h.watched = map[string]bool{}
		h.done = make(chan struct{})
		go c.readEvents(w, h.done)
	}
	p := strings.TrimSuffix(dir, "/")
	if p == "" {
		p = "/"
	}
	var paths []string
	for q := p; ; {
		paths = append(paths, q)
		if q == "/" {
			break
		}
		i := strings.LastIndexByte(q, '/')
		if i <= 0 {
			q = "/"
		} else {
			q = q[:i]
		}
	}
	for i := len(paths) - 1; i >= 0; i-- {
		q := paths[i]
		if h.watched[q] && i > 0 {
			continue
		}
		if len(h.watched) >= maxWatchedDirs {
			return false
		}
		if h.watched[q] {
			// The directory itself is read again after an event:
			// renew the watch, which may cover an old inode.
			_ = h.fsw.Remove(q)
		}
		if err := h.fsw.Add(q); err != nil {
			delete(h.watched, q)
			if i == 0 {
				return false
			}
			continue
		}
		h.watched[q] = true
	}
	return true
}

// readEvents marks entries stale as inotify reports changes, until the
// watcher is closed.
func (c *Config) readEvents(w *fsnotify.Watcher, done chan struct{}) {
	defer close(done)
	for {
		select {
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			c.htEvent(ev)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			// An overflow loses events: nothing can be trusted.
			c.logger.Warn("watching .htaccess files", "err", err)
			c.htInvalidate("/")
		}
		if c.ht.handled != nil {
			select {
			case c.ht.handled <- struct{}{}:
			default:
			}
		}
	}
}

// htEvent maps one event to the entries it may change: the directory of a
// changed access file, and every directory at or below a path created,
// removed or renamed.
func (c *Config) htEvent(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod {
		// A permission change can make a file unreadable (403).
		c.htInvalidate(ev.Name)
		return
	}
	name := ev.Name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir := name[:i+1]
		c.ht.mu.RLock()
		d := c.ht.dirs[dir]
		c.ht.mu.RUnlock()
		if d != nil {
			d.stale.Store(true)
		}
	}
	if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		c.htInvalidate(name)
	}
}

// htInvalidate marks stale every entry at or below path.
func (c *Config) htInvalidate(path string) {
	prefix := strings.TrimSuffix(path, "/") + "/"
	c.ht.mu.RLock()
	for dir, d := range c.ht.dirs {
		if strings.HasPrefix(dir, prefix) {
			d.stale.Store(true)
		}
	}
	c.ht.mu.RUnlock()
}

// Close stops watching .htaccess files. Lookup still works afterwards,
// checking them with stat. Close is idempotent.
func (c *Config) Close() error {
	h := &c.ht
	h.watchMu.Lock()
	if h.closed {
		h.watchMu.Unlock()
		return nil
	}
	h.closed = true
	w, done := h.fsw, h.done
	h.watchMu.Unlock()
	if w == nil {
		return nil
	}
	err := w.Close()
	<-done
	// Entries vouched for by the watcher must now be checked with stat.
	c.ht.mu.RLock()
	for _, d := range c.ht.dirs {
		d.stale.Store(true)
	}
	c.ht.mu.RUnlock()
	return err
}
