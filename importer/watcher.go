// This file holds the Watcher: which files are watched, how each directory
// is watched (inotify or polling), the mapping of fsnotify events to watched
// names, and the debounce that turns events into Batches.

package importer

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options configures a Watcher. The zero value watches with inotify and the
// defaults below.
type Options struct {
	// Mode is "auto" (the default when empty): inotify, and polling for a
	// directory where inotify cannot be had; "poll": polling only (for file
	// systems such as NFS whose changes inotify does not see); "off": Watch
	// does nothing and no Batch is ever delivered.
	Mode string
	// PollInterval is how often polled directories are stat-ed. Default 1s.
	PollInterval time.Duration
	// Settle is the debounce: a Batch is delivered once no event has
	// arrived for Settle (default 10ms), but never later than MaxDelay.
	Settle time.Duration
	// MaxDelay bounds the debounce: a Batch is delivered at most MaxDelay
	// (default 50ms) after the first event in it, even if events keep coming.
	MaxDelay time.Duration
	// Logger receives the fallback-to-polling and overflow warnings. Nil
	// discards.
	Logger *slog.Logger
}

// Batch is what the Watcher delivers once a burst of changes has settled.
type Batch struct {
	// Changed lists the watched files that were modified, replaced (renamed
	// over, as editors save), removed, created again, or touched; sorted, no
	// duplicates.
	Changed []string
	// Rescan lists the watched directories in which a *.py file other than
	// the watched ones, or a directory, appeared or disappeared (a new module
	// may now shadow a name); sorted, no duplicates. Editor and Python noise
	// (see isNoise) does not count.
	Rescan []string
}

// Watcher notices changes of individual files. It watches the directories
// that hold them, never the files themselves, since editors save by writing
// a new file and renaming it over the old one. Its methods are safe for
// concurrent use.
type Watcher struct {
	opts Options
	log  *slog.Logger
	fsw  *fsnotify.Watcher                     // nil in modes "poll" and "off", or when inotify is unavailable
	add  func(*fsnotify.Watcher, string) error // fsw.Add; replaced by tests

	events chan Batch    // closed by Close
	kick   chan struct{} // wakes the loop: pending work, or a new polled directory
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
	once   sync.Once

	warnedLimit    atomic.Bool // the fallback-to-polling warning was logged
	warnedOverflow atomic.Bool // the overflow warning was logged

	// Lock order: addMu, then mu. No fsnotify method is called with mu
	// held, and the goroutine reading fsnotify's channels takes only mu, so
	// fsnotify can always deliver.
	addMu   sync.Mutex // serialises changes of the directory set with their fsnotify Add and Remove
	mu      sync.Mutex // guards dirs, npolled, pend, closed
	dirs    map[string]*dirState
	npolled int // directories not watched by inotify (polled, permanently or while gone)
	pend    pending
	closed  bool
}

// how a directory is watched
type watchHow int

const (
	byInotify watchHow = iota
	byPoll             // for good: Mode "poll", or inotify failed for it
	whileGone          // polled while it does not exist; inotify again once it does
)

// dirState is a watched directory. Its fields are guarded by Watcher.mu.
type dirState struct {
	path    string
	files   map[string]fileState // watched files, by base name, as last seen
	how     watchHow
	exists  bool                // as last polled
	mtimeNs int64               // as last polled
	racy    bool                // mtimeNs was within the timestamp granularity of the look: list again next poll
	entries map[string]struct{} // *.py files and directories in it, noise excluded (listing)
}

// pending is the Batch being gathered.
type pending struct {
	changed map[string]struct{} // watched files
	rescan  map[string]struct{} // directories whose listing changed
	list    map[string]struct{} // directories whose listing must be compared at flush
	first   time.Time           // first event of the batch
	last    time.Time           // latest event of the batch
}

func (p *pending) empty() bool {
	return len(p.changed) == 0 && len(p.rescan) == 0 && len(p.list) == 0
}

// hooks lets tests stand in for the fsnotify calls that can fail.
type hooks struct {
	newFS func() (*fsnotify.Watcher, error)
	add   func(*fsnotify.Watcher, string) error
}

// NewWatcher returns a Watcher with no file watched; the caller must Close
// it. An error means only invalid Options: where inotify cannot be had the
// Watcher polls, and logs why once.
func NewWatcher(opts Options) (*Watcher, error) {
	return newWatcher(opts, hooks{})
}

func newWatcher(opts Options, h hooks) (*Watcher, error) {
	switch opts.Mode {
	case "":
		opts.Mode = "auto"
	case "auto", "poll", "off":
	default:
		return nil, fmt.Errorf("importer: watch mode %q: want auto, poll or off", opts.Mode)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.Settle <= 0 {
		opts.Settle = 10 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 50 * time.Millisecond
	}
	if h.newFS == nil {
		h.newFS = fsnotify.NewWatcher
	}
	if h.add == nil {
		h.add = (*fsnotify.Watcher).Add
	}
	w := &Watcher{
		opts:   opts,
		log:    opts.Logger,
		add:    h.add,
		events: make(chan Batch),
		kick:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		dirs:   make(map[string]*dirState),
		pend:   newPending(),
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if opts.Mode == "off" {
		return w, nil
	}
	if opts.Mode == "auto" {
		fsw, err := h.newFS()
		if err != nil {
			w.warnLimit("", err)
		} else {
			w.fsw = fsw
			w.wg.Add(1)
			go w.read()
		}
	}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

func newPending() pending {
	return pending{
		changed: make(map[string]struct{}),
		rescan:  make(map[string]struct{}),
		list:    make(map[string]struct{}),
	}
}

var errClosed = errors.New("importer: watcher closed")

// Watch starts watching file, an absolute path (cleaned here), by watching
// its directory. Watching a watched file again does nothing; a file that does
// not exist yet can be watched (its creation is a change), and so can one in
// a directory that does not exist yet. The only errors are a relative path
// and a closed Watcher: where inotify fails for the directory it is polled.
func (w *Watcher) Watch(file string) error {
	if w.opts.Mode == "off" {
		return nil
	}
	if !filepath.IsAbs(file) {
		return fmt.Errorf("importer: watch %q: not an absolute path", file)
	}
	file = filepath.Clean(file)
	dir, base := filepath.Dir(file), filepath.Base(file)

	w.addMu.Lock()
	defer w.addMu.Unlock()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errClosed
	}
	d := w.dirs[dir]
	if d != nil {
		if _, ok := d.files[base]; ok {
			w.mu.Unlock()
			return nil
		}
	}
	w.mu.Unlock()

	st := statFile(file)
	if d != nil {
		w.mu.Lock()
		d.files[base] = st
		w.mu.Unlock()
		return nil
	}

	// A new directory: take its snapshot before adding the inotify watch,
	// so that what happens in between is seen as a change rather than lost.
	d = &dirState{path: dir, files: map[string]fileState{base: st}, how: byPoll}
	d.exists, d.mtimeNs, d.racy = statDir(dir)
	d.entries, _ = readEntries(dir)
	if w.fsw != nil {
		d.how = byInotify
	}
	w.mu.Lock()
	w.dirs[dir] = d
	if d.how != byInotify {
		w.npolled++
	}
	w.mu.Unlock()

	if w.fsw != nil {
		if err := w.add(w.fsw, dir); err != nil {
			how := byPoll
			if errors.Is(err, fs.ErrNotExist) {
				how = whileGone
			} else {
				w.warnLimit(dir, err)
			}
			w.mu.Lock()
			w.setHowLocked(d, how)
			w.mu.Unlock()
		}
	}
	w.wake()
	return nil
}

// Unwatch stops watching file. The directory's watch goes when no file in it
// is watched. Unwatching a file that is not watched does nothing.
func (w *Watcher) Unwatch(file string) {
	if w.opts.Mode == "off" || !filepath.IsAbs(file) {
		return
	}
	file = filepath.Clean(file)
	dir, base := filepath.Dir(file), filepath.Base(file)

	w.addMu.Lock()
	defer w.addMu.Unlock()
	w.mu.Lock()
	d := w.dirs[dir]
	if d == nil || w.closed {
		w.mu.Unlock()
		return
	}
	delete(d.files, base)
	if len(d.files) > 0 {
		w.mu.Unlock()
		return
	}
	delete(w.dirs, dir)
	if d.how != byInotify {
		w.npolled--
	}
	w.mu.Unlock()
	if w.fsw != nil {
		// An error means the watch is already gone (the directory was
		// removed, or inotify was never had for it).
		_ = w.fsw.Remove(dir)
	}
}

// Events returns the channel on which Batches are delivered. It is closed by
// Close. Changes go on being gathered while nobody receives, and are
// delivered together.
func (w *Watcher) Events() <-chan Batch { return w.events }

// Mode says how the watched directories are watched: "inotify", "poll",
// "mixed" (some of each, e.g. after the watch limit was hit, or while a
// removed directory is waited for), or "off".
func (w *Watcher) Mode() string {
	if w.opts.Mode == "off" {
		return "off"
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.fsw == nil || w.npolled == len(w.dirs) && w.npolled > 0:
		return "poll"
	case w.npolled == 0:
		return "inotify"
	}
	return "mixed"
}

// Close stops watching, waits for the Watcher's goroutines and closes the
// channel returned by Events. It is idempotent.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		w.addMu.Lock()
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		w.addMu.Unlock()
		close(w.done)
		if w.fsw != nil {
			err = w.fsw.Close()
		}
		w.wg.Wait()
		close(w.events)
	})
	return err
}

// setHowLocked changes how d is watched, keeping npolled. w.mu is held.
func (w *Watcher) setHowLocked(d *dirState, how watchHow) {
	if (d.how == byInotify) != (how == byInotify) {
		if how == byInotify {
			w.npolled--
		} else {
			w.npolled++
		}
	}
	d.how = how
}

// wake tells the loop to look at the pending batch and the poll ticker.
func (w *Watcher) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// touchLocked records that an event arrived now. w.mu is held.
func (w *Watcher) touchLocked() {
	now := time.Now()
	if w.pend.empty() {
		w.pend.first = now
	}
	w.pend.last = now
}

// markChangedLocked adds a watched file to the pending batch. w.mu is held.
func (w *Watcher) markChangedLocked(file string) {
	w.touchLocked()
	w.pend.changed[file] = struct{}{}
	w.wake()
}

// markListLocked has dir's listing compared at the next flush. w.mu is held.
func (w *Watcher) markListLocked(dir string) {
	w.touchLocked()
	w.pend.list[dir] = struct{}{}
	w.wake()
}

// dirGoneLocked handles the removal (or renaming away) of a directory watched
// by inotify: every file in it changed, and the directory is polled until it
// exists again. w.mu is held.
func (w *Watcher) dirGoneLocked(d *dirState) {
	if d.how != byInotify {
		return
	}
	w.setHowLocked(d, whileGone)
	d.exists = false
	for base, st := range d.files {
		if st.exists {
			w.markChangedLocked(filepath.Join(d.path, base))
		}
		d.files[base] = fileState{}
	}
	w.markListLocked(d.path)
}

// read receives fsnotify's events and errors until fsnotify closes them.
func (w *Watcher) read() {
	defer w.wg.Done()
	for {
		select {
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.handleEvent(ev)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.handleError(err)
		}
	}
}

// handleEvent maps one fsnotify event to watched names.
func (w *Watcher) handleEvent(ev fsnotify.Event) {
	name := ev.Name
	dir, base := filepath.Dir(name), filepath.Base(name)
	if ev.Op == fsnotify.Chmod {
		// IN_ATTRIB: a chmod, which is no change, or a touch (utimensat),
		// which is. Only the stat tells them apart.
		w.mu.Lock()
		d := w.dirs[dir]
		_, watched := d.fileLocked(base)
		w.mu.Unlock()
		if !watched {
			return
		}
		st := statFile(name)
		w.mu.Lock()
		if old, ok := d.fileLocked(base); ok && w.dirs[dir] == d && old != st {
			d.files[base] = st
			w.markChangedLocked(name)
		}
		w.mu.Unlock()
		return
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if d := w.dirs[name]; d != nil && ev.Has(fsnotify.Remove|fsnotify.Rename) {
		// The watched directory itself, reported by its own watch
		// (IN_DELETE_SELF, IN_MOVE_SELF) or by its parent's.
		w.dirGoneLocked(d)
	}
	d := w.dirs[dir]
	if d == nil {
		return
	}
	if _, ok := d.files[base]; ok {
		w.markChangedLocked(name)
		return
	}
	if ev.Has(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) && !isNoise(base) {
		w.markListLocked(dir)
	}
}

// fileLocked returns the state of a watched file of d, which may be nil.
func (d *dirState) fileLocked(base string) (fileState, bool) {
	if d == nil {
		return fileState{}, false
	}
	st, ok := d.files[base]
	return st, ok
}

// handleError handles an error from fsnotify's Errors channel.
func (w *Watcher) handleError(err error) {
	if !errors.Is(err, fsnotify.ErrEventOverflow) {
		w.log.Warn("inotify: read events", "err", err)
		return
	}
	// Events were lost: every watched file may have changed, and every
	// listing too.
	if w.warnedOverflow.CompareAndSwap(false, true) {
		w.log.Warn("inotify event queue overflowed: treating every watched file as changed",
			"err", err, "hint", "raise sysctl fs.inotify.max_queued_events")
	} else {
		w.log.Debug("inotify event queue overflowed again")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range w.dirs {
		for base := range d.files {
			w.markChangedLocked(filepath.Join(d.path, base))
		}
		w.markListLocked(d.path)
	}
}

// warnLimit logs, once per Watcher, that inotify could not be had and
// polling takes over. dir is empty when inotify could not be initialised at
// all. Errors other than the watch limits are logged for every directory.
func (w *Watcher) warnLimit(dir string, err error) {
	hint := ""
	switch {
	case errors.Is(err, syscall.ENOSPC):
		hint = "inotify watch limit reached: raise sysctl fs.inotify.max_user_watches"
	case errors.Is(err, syscall.EMFILE):
		hint = "inotify instance limit reached: raise sysctl fs.inotify.max_user_instances"
	}
	if hint == "" {
		w.log.Warn("inotify unavailable, polling instead", "dir", dir, "err", err, "interval", w.opts.PollInterval)
		return
	}
	if !w.warnedLimit.CompareAndSwap(false, true) {
		w.log.Debug("inotify unavailable, polling instead", "dir", dir, "err", err)
		return
	}
	args := []any{"err", err, "interval", w.opts.PollInterval, "hint", hint}
	if dir != "" {
		args = append([]any{"dir", dir}, args...)
	}
	w.log.Warn("inotify unavailable, polling instead (logged once)", args...)
}

// loop delivers Batches when they have settled, and polls.
func (w *Watcher) loop() {
	defer w.wg.Done()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	var ticker *time.Ticker
	var tick <-chan time.Time
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		w.mu.Lock()
		polled := w.npolled > 0
		due, has := w.dueLocked()
		w.mu.Unlock()

		switch {
		case polled && ticker == nil:
			ticker = time.NewTicker(w.opts.PollInterval)
			tick = ticker.C
		case !polled && ticker != nil:
			ticker.Stop()
			ticker, tick = nil, nil
		}
		if has {
			if d := time.Until(due); d > 0 {
				settle.Reset(d)
			} else {
				if !w.flush() {
					return
				}
				continue
			}
		} else {
			settle.Stop()
		}

		select {
		case <-w.done:
			return
		case <-w.kick:
		case <-settle.C:
		case <-tick:
			w.poll()
		}
	}
}

// dueLocked says when the pending batch is to be delivered. w.mu is held.
func (w *Watcher) dueLocked() (time.Time, bool) {
	if w.pend.empty() {
		return time.Time{}, false
	}
	due := w.pend.last.Add(w.opts.Settle)
	if max := w.pend.first.Add(w.opts.MaxDelay); max.Before(due) {
		due = max
	}
	return due, true
}

// flush takes the pending batch, settles its listings and stats, and
// delivers it. It returns false if the Watcher was closed meanwhile.
func (w *Watcher) flush() bool {
	w.mu.Lock()
	p := w.pend
	w.pend = newPending()
	w.mu.Unlock()

	// Refresh the snapshot of every changed file, so that a later touch or
	// poll compares against what the consumer is about to read.
	stats := make(map[string]fileState, len(p.changed))
	for f := range p.changed {
		stats[f] = statFile(f)
	}
	type listing struct {
		entries map[string]struct{}
		err     error
	}
	lists := make(map[string]listing, len(p.list))
	for dir := range p.list {
		e, err := readEntries(dir)
		lists[dir] = listing{e, err}
	}

	w.mu.Lock()
	for f, st := range stats {
		if d := w.dirs[filepath.Dir(f)]; d != nil {
			if _, ok := d.files[filepath.Base(f)]; ok {
				d.files[filepath.Base(f)] = st
			}
		}
	}
	for dir, l := range lists {
		d := w.dirs[dir]
		if d == nil {
			continue
		}
		if l.err != nil && !errors.Is(l.err, fs.ErrNotExist) {
			w.log.Debug("list watched directory", "dir", dir, "err", l.err)
			continue
		}
		if l.err != nil && d.how == byInotify {
			// Its removal event was lost (an overflow): its files go in the
			// next batch, and it is polled until it is back.
			w.dirGoneLocked(d)
		}
		if entriesDiffer(d.entries, l.entries, d.files) {
			p.rescan[dir] = struct{}{}
		}
		d.entries = l.entries
	}
	w.mu.Unlock()

	b := Batch{Changed: sortedKeys(p.changed), Rescan: sortedKeys(p.rescan)}
	if len(b.Changed) == 0 && len(b.Rescan) == 0 {
		return true
	}
	select {
	case w.events <- b:
		return true
	case <-w.done:
		return false
	}
}

func sortedKeys(m map[string]struct{}) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// isNoise reports whether a name in a watched directory is editor or Python
// noise, whose appearance never asks for a rescan: hidden and lock files,
// backups, swap and temporary files, vim's "4913" probe, and __pycache__
// (pitfalls.md, "fsnotify pitfalls": gunicorn#2339, werkzeug's ignored dirs).
func isNoise(base string) bool {
	switch {
	case strings.HasPrefix(base, "."), strings.HasPrefix(base, "#"),
		strings.HasSuffix(base, "~"), strings.HasSuffix(base, ".swp"),
		strings.HasSuffix(base, ".swx"), strings.HasSuffix(base, ".tmp"),
		base == "4913", base == "__pycache__":
		return true
	}
	return false
}
