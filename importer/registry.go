// This file holds the Registry: the site modules each worker has loaded, the
// dependency graph between them, and the invalidations pending for each
// worker until its next request.

package importer

import (
	"cmp"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// FileStat is a module file as the worker read it (os.fstat of the open
// file, wire.md "module" entries).
type FileStat struct {
	MtimeNs, Size int64
	Ino           uint64
}

// Module is a site module a worker has loaded, as it reported it at END.
type Module struct {
	File       string    // absolute, normalised, not resolved through symbolic links
	Name       string    // __name__
	Generation int       // 1 on first load, +1 per reload in that worker
	Deps       []string  // site module files it imported (direct edges)
	Loaded     time.Time // when it was (re)loaded
	Stat       FileStat  // the file as read
	Reason     string    // why it was (re)loaded: "first import", "changed on disk", ...
	// Stale is set by the Registry when the module has been invalidated, and
	// cleared when the worker reports it again (reloaded).
	Stale bool
}

// Owner is one worker process: the modules it loaded die with it.
type Owner struct {
	Interpreter string
	Worker      int
	PID         int
}

// Invalidation is what a worker must drop before its next request (the
// CONTROL modules.invalidate frame).
type Invalidation struct {
	Changed    []string // module files of the worker that changed on disk; sorted
	Dependents []string // its modules that depend on one of them, transitively; sorted
	Rescan     bool     // forget every cached name -> file resolution
}

// OwnerModules is one worker's modules, for `mpgate modules`.
type OwnerModules struct {
	Owner   Owner
	Modules []Module // sorted by File
}

// Registry keeps the site modules each worker has loaded and turns changes
// of their files into pending Invalidations. Its methods are safe for
// concurrent use.
type Registry struct {
	w   *Watcher
	log *slog.Logger

	npending atomic.Int64  // owners with a pending invalidation; read by Take without mu
	changes  atomic.Uint64 // batches applied

	// Lock order: reportMu, then mu; the Watcher's locks are taken only
	// with mu released.
	reportMu  sync.Mutex // serialises Report and Forget, which Watch and Unwatch with mu released
	mu        sync.Mutex // guards owners, refs, onApplied and everything in each ownerState
	owners    map[Owner]*ownerState
	refs      map[string]int // watched file -> number of owners that need it
	onApplied []func(Batch)

	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// ownerState is one worker's modules and what it must drop.
type ownerState struct {
	mods  map[string]*Module  // by file
	files map[string]struct{} // module files and their deps: what must be watched for it

	// pending invalidation
	pending    bool
	changed    map[string]struct{}
	dependents map[string]struct{}
	rescan     bool
}

// NewRegistry returns an empty Registry that applies every Batch from w
// (nil: no watching; Report still checks each file's stat). The caller must
// Close it, and closes w itself, after the Registry.
func NewRegistry(w *Watcher, log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		w:      w,
		log:    log,
		owners: make(map[Owner]*ownerState),
		refs:   make(map[string]int),
		done:   make(chan struct{}),
	}
	if w != nil {
		r.wg.Add(1)
		go r.run()
	}
	return r
}

// Close stops applying Batches. It is idempotent and does not close the
// Watcher.
func (r *Registry) Close() {
	r.once.Do(func() {
		close(r.done)
		r.wg.Wait()
	})
}

// OnApplied registers f to be called, on the Registry's goroutine, after
// each Batch from the Watcher has been applied: from then on, Take returns
// its invalidations. For tests and benchmarks.
func (r *Registry) OnApplied(f func(Batch)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onApplied = append(r.onApplied, f)
}

// Changes returns the number of Batches from the Watcher applied so far.
func (r *Registry) Changes() uint64 { return r.changes.Load() }

func (r *Registry) run() {
	defer r.wg.Done()
	events := r.w.Events()
	for {
		select {
		case <-r.done:
			return
		case b, ok := <-events:
			if !ok {
				return
			}
			r.apply(b)
		}
	}
}

// apply invalidates what b names: its changed files for every owner, and a
// rescan for every owner with a file in one of b's Rescan directories.
func (r *Registry) apply(b Batch) {
	files := make(map[string]struct{}, len(b.Changed))
	for _, f := range b.Changed {
		files[f] = struct{}{}
	}
	dirs := make(map[string]struct{}, len(b.Rescan))
	for _, d := range b.Rescan {
		dirs[d] = struct{}{}
	}
	r.mu.Lock()
	for o, st := range r.owners {
		r.invalidateLocked(o, st, files)
		if len(dirs) > 0 && st.hasFileIn(dirs) {
			st.rescan = true
			r.markPendingLocked(st)
		}
	}
	hooks := slices.Clone(r.onApplied)
	r.mu.Unlock()
	r.changes.Add(1)
	for _, f := range hooks {
		f(b)
	}
}

// Invalidate does what a Batch does: every owner drops its modules in files
// and their dependents; with rescan, every owner forgets its name
// resolutions. For tests and `mpgate reload`.
func (r *Registry) Invalidate(files []string, rescan bool) {
	set := make(map[string]struct{}, len(files))
	for _, f := range files {
		set[filepath.Clean(f)] = struct{}{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for o, st := range r.owners {
		r.invalidateLocked(o, st, set)
		if rescan {
			st.rescan = true
			r.markPendingLocked(st)
		}
	}
}

// Report records the modules o loaded or reloaded during a request (END's
// "module" entries): each record replaces the one for the same file, which
// is watched from then on. A file whose stat differs from the one o read
// (it changed before it was watched), or that is gone, is invalidated for o
// at once, with its dependents.
func (r *Registry) Report(o Owner, mods []Module) {
	if len(mods) == 0 {
		return
	}
	r.reportMu.Lock()
	defer r.reportMu.Unlock()

	r.mu.Lock()
	st := r.owners[o]
	if st == nil {
		st = &ownerState{
			mods:       make(map[string]*Module),
			files:      make(map[string]struct{}),
			changed:    make(map[string]struct{}),
			dependents: make(map[string]struct{}),
		}
		r.owners[o] = st
	}
	reported := make([]*Module, 0, len(mods))
	for _, m := range mods {
		m.File = filepath.Clean(m.File)
		deps := make([]string, len(m.Deps))
		for i, d := range m.Deps {
			deps[i] = filepath.Clean(d)
		}
		m.Deps = deps
		m.Stale = false
		st.mods[m.File] = &m
		reported = append(reported, &m)
	}
	watch, unwatch := r.refreshFilesLocked(st)
	r.mu.Unlock()

	if r.w != nil {
		for _, f := range watch {
			if err := r.w.Watch(f); err != nil {
				r.log.Warn("watch site module", "file", f, "err", err)
			}
		}
		for _, f := range unwatch {
			r.w.Unwatch(f)
		}
	}

	// Now that the files are watched, any later change is an event; one
	// that came before is seen here.
	stale := make(map[string]struct{})
	for _, m := range reported {
		if cur := statFile(m.File); !cur.exists || cur.mtimeNs != m.Stat.MtimeNs ||
			cur.size != m.Stat.Size || cur.ino != m.Stat.Ino {
			stale[m.File] = struct{}{}
			r.log.Info("site module changed on disk before it was watched", "file", m.File,
				"interpreter", o.Interpreter, "worker", o.Worker, "pid", o.PID)
		}
	}
	if len(stale) > 0 {
		r.mu.Lock()
		if r.owners[o] == st {
			r.invalidateLocked(o, st, stale)
		}
		r.mu.Unlock()
	}
}

// Forget drops everything about o (the worker is gone), and stops watching
// the files no other owner needs.
func (r *Registry) Forget(o Owner) {
	r.reportMu.Lock()
	defer r.reportMu.Unlock()
	r.mu.Lock()
	st := r.owners[o]
	if st == nil {
		r.mu.Unlock()
		return
	}
	delete(r.owners, o)
	if st.pending {
		r.npending.Add(-1)
	}
	var unwatch []string
	for f := range st.files {
		if r.unrefLocked(f) {
			unwatch = append(unwatch, f)
		}
	}
	r.mu.Unlock()
	if r.w != nil {
		for _, f := range unwatch {
			r.w.Unwatch(f)
		}
	}
}

// Take returns the invalidation pending for o and clears it; ok is false
// when nothing is pending. It is called before every request: with nothing
// pending for any worker it is one atomic load, and it never allocates when
// nothing is pending for o.
func (r *Registry) Take(o Owner) (inv Invalidation, ok bool) {
	if r.npending.Load() == 0 {
		return Invalidation{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.owners[o]
	if st == nil || !st.pending {
		return Invalidation{}, false
	}
	inv.Changed = sortedKeys(st.changed)
	for f := range st.dependents {
		if _, ok := st.changed[f]; !ok {
			inv.Dependents = append(inv.Dependents, f)
		}
	}
	slices.Sort(inv.Dependents)
	inv.Rescan = st.rescan
	clear(st.changed)
	clear(st.dependents)
	st.rescan = false
	st.pending = false
	r.npending.Add(-1)
	return inv, true
}

// Snapshot returns every owner's modules, with their Stale flags: owners
// sorted by interpreter then worker, modules by file. The result is a copy.
func (r *Registry) Snapshot() []OwnerModules {
	r.mu.Lock()
	out := make([]OwnerModules, 0, len(r.owners))
	for o, st := range r.owners {
		om := OwnerModules{Owner: o, Modules: make([]Module, 0, len(st.mods))}
		for _, m := range st.mods {
			c := *m
			c.Deps = slices.Clone(m.Deps)
			om.Modules = append(om.Modules, c)
		}
		slices.SortFunc(om.Modules, func(a, b Module) int { return cmp.Compare(a.File, b.File) })
		out = append(out, om)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b OwnerModules) int {
		return cmp.Or(cmp.Compare(a.Owner.Interpreter, b.Owner.Interpreter),
			cmp.Compare(a.Owner.Worker, b.Owner.Worker), cmp.Compare(a.Owner.PID, b.Owner.PID))
	})
	return out
}

// refreshFilesLocked recomputes the files st needs watched (its modules and
// their deps) and returns those that no owner needed before and those that
// no owner needs any more. r.mu is held.
func (r *Registry) refreshFilesLocked(st *ownerState) (watch, unwatch []string) {
	files := make(map[string]struct{}, len(st.files))
	for f, m := range st.mods {
		files[f] = struct{}{}
		for _, d := range m.Deps {
			files[d] = struct{}{}
		}
	}
	for f := range files {
		if _, ok := st.files[f]; !ok {
			r.refs[f]++
			if r.refs[f] == 1 {
				watch = append(watch, f)
			}
		}
	}
	for f := range st.files {
		if _, ok := files[f]; !ok && r.unrefLocked(f) {
			unwatch = append(unwatch, f)
		}
	}
	st.files = files
	return watch, unwatch
}

// unrefLocked drops one owner's reference to f and reports whether it was
// the last. r.mu is held.
func (r *Registry) unrefLocked(f string) bool {
	r.refs[f]--
	if r.refs[f] > 0 {
		return false
	}
	delete(r.refs, f)
	return true
}

// invalidateLocked marks stale, for one owner, its modules whose files are
// in files and, transitively, every module of it that depends on one of
// them; and merges them into its pending invalidation. Dependency edges to
// files the owner never reported (a module that failed to load) count as
// well. r.mu is held.
func (r *Registry) invalidateLocked(o Owner, st *ownerState, files map[string]struct{}) {
	var queue []string
	for f := range files {
		if _, ok := st.files[f]; ok {
			queue = append(queue, f)
		}
	}
	if len(queue) == 0 {
		return
	}
	changed := len(queue)
	// Reverse edges: file -> the modules that import it.
	importers := make(map[string][]string)
	for f, m := range st.mods {
		for _, d := range m.Deps {
			importers[d] = append(importers[d], f)
		}
	}
	seen := make(map[string]struct{}, len(queue))
	for _, f := range queue {
		seen[f] = struct{}{}
		st.changed[f] = struct{}{}
	}
	for i := 0; i < len(queue); i++ {
		f := queue[i]
		if m := st.mods[f]; m != nil {
			m.Stale = true
		}
		if i >= changed {
			st.dependents[f] = struct{}{}
		}
		for _, imp := range importers[f] {
			if _, ok := seen[imp]; !ok {
				seen[imp] = struct{}{}
				queue = append(queue, imp)
			}
		}
	}
	r.markPendingLocked(st)
	r.log.Debug("site modules invalidated", "interpreter", o.Interpreter, "worker", o.Worker,
		"pid", o.PID, "changed", queue[:changed], "dependents", len(queue)-changed)
}

// markPendingLocked notes that st has something pending. r.mu is held.
func (r *Registry) markPendingLocked(st *ownerState) {
	if !st.pending {
		st.pending = true
		r.npending.Add(1)
	}
}

// hasFileIn reports whether one of the files st needs is in one of dirs.
func (st *ownerState) hasFileIn(dirs map[string]struct{}) bool {
	for f := range st.files {
		if _, ok := dirs[filepath.Dir(f)]; ok {
			return true
		}
	}
	return false
}
