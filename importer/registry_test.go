package importer

// Registry tests: the dependency closure (chains, diamonds, cycles, edges to
// modules never reported), several owners, Report's stat check, Take,
// Forget, and the whole path from an edit on disk to Take.

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

var (
	owner1 = Owner{Interpreter: "main", Worker: 1, PID: 101}
	owner2 = Owner{Interpreter: "main", Worker: 2, PID: 102}
	owner3 = Owner{Interpreter: "other", Worker: 1, PID: 103}
)

// site is a directory of module files for Registry tests.
type site struct {
	t   testing.TB
	dir string
}

func newSite(t testing.TB) site { return site{t, t.TempDir()} }

func (s site) path(name string) string { return filepath.Join(s.dir, name+".py") }

func (s site) paths(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, s.path(n))
	}
	return out
}

// mod writes <name>.py if it does not exist and returns its record as a
// worker would report it: importing deps, with the file's stat.
func (s site) mod(name string, deps ...string) Module {
	s.t.Helper()
	f := s.path(name)
	if _, err := os.Stat(f); err != nil {
		writeFile(s.t, f, "# "+name+"\n")
	}
	return Module{File: f, Name: name, Generation: 1, Deps: s.paths(deps...),
		Loaded: time.Unix(1700000000, 0), Stat: s.stat(name), Reason: "first import"}
}

func (s site) stat(name string) FileStat {
	s.t.Helper()
	fi, err := os.Stat(s.path(name))
	must(s.t, err)
	return FileStat{MtimeNs: fi.ModTime().UnixNano(), Size: fi.Size(), Ino: fi.Sys().(*syscall.Stat_t).Ino}
}

// wantTake fails unless Take(o) returns exactly changed and deps (nil
// changed and deps and !rescan: nothing pending).
func wantTake(t testing.TB, r *Registry, o Owner, changed, deps []string, rescan bool) {
	t.Helper()
	inv, ok := r.Take(o)
	if changed == nil && deps == nil && !rescan {
		if ok {
			t.Errorf("Take(%v) = %+v, true; want nothing pending", o, inv)
		}
		return
	}
	if !ok || !slices.Equal(inv.Changed, changed) || !slices.Equal(inv.Dependents, deps) || inv.Rescan != rescan {
		t.Errorf("Take(%v) = %+v, %v; want Changed %q Dependents %q Rescan %v", o, inv, ok, changed, deps, rescan)
	}
}

// TestInvalidateClosure checks which modules an owner must drop for a
// change: the changed ones and, transitively, everything that imports them.
func TestInvalidateClosure(t *testing.T) {
	type m struct {
		name string
		deps []string
	}
	tests := []struct {
		name          string
		mods          []m
		change        []string
		changed, deps []string // want; both nil: nothing pending
	}{{
		name:   "chain",
		mods:   []m{{"a", nil}, {"b", []string{"a"}}, {"c", []string{"b"}}, {"x", nil}},
		change: []string{"a"}, changed: []string{"a"}, deps: []string{"b", "c"},
	}, {
		name:   "middle of a chain",
		mods:   []m{{"a", nil}, {"b", []string{"a"}}, {"c", []string{"b"}}},
		change: []string{"b"}, changed: []string{"b"}, deps: []string{"c"},
	}, {
		name:   "diamond",
		mods:   []m{{"a", nil}, {"b", []string{"a"}}, {"c", []string{"a"}}, {"d", []string{"b", "c"}}},
		change: []string{"a"}, changed: []string{"a"}, deps: []string{"b", "c", "d"},
	}, {
		name:   "cycle",
		mods:   []m{{"a", []string{"b"}}, {"b", []string{"a"}}, {"h", []string{"a"}}, {"x", nil}},
		change: []string{"b"}, changed: []string{"b"}, deps: []string{"a", "h"},
	}, {
		name:   "self import",
		mods:   []m{{"a", []string{"a"}}, {"h", []string{"a"}}},
		change: []string{"a"}, changed: []string{"a"}, deps: []string{"h"},
	}, {
		name:   "two changes, one importing the other",
		mods:   []m{{"a", nil}, {"b", []string{"a"}}, {"c", []string{"b"}}},
		change: []string{"b", "a"}, changed: []string{"a", "b"}, deps: []string{"c"},
	}, {
		// d failed to load, so it was never reported; h's edge to it stays.
		name:   "dependency never reported",
		mods:   []m{{"h", []string{"d"}}, {"g", []string{"h"}}},
		change: []string{"d"}, changed: []string{"d"}, deps: []string{"g", "h"},
	}, {
		name:   "a file nobody loaded",
		mods:   []m{{"a", nil}, {"b", []string{"a"}}},
		change: []string{"z"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t)
			r := NewRegistry(nil, nil)
			defer r.Close()
			var mods []Module
			for _, m := range tc.mods {
				mods = append(mods, s.mod(m.name, m.deps...))
			}
			r.Report(owner1, mods)
			wantTake(t, r, owner1, nil, nil, false) // every stat matched
			r.Invalidate(s.paths(tc.change...), false)
			wantTake(t, r, owner1, s.paths(tc.changed...), s.paths(tc.deps...), false)

			stale := map[string]bool{}
			for _, f := range slices.Concat(tc.changed, tc.deps) {
				stale[s.path(f)] = true
			}
			for _, m := range r.Snapshot()[0].Modules {
				if m.Stale != stale[m.File] {
					t.Errorf("Snapshot: %s Stale = %v, want %v", m.File, m.Stale, stale[m.File])
				}
			}
		})
	}
}

// TestInvalidateOwners checks that each owner drops only what it loaded,
// two owners loading the same file both drop it, and Snapshot's order.
func TestInvalidateOwners(t *testing.T) {
	s := newSite(t)
	other := site{t, t.TempDir()}
	r := NewRegistry(nil, nil)
	defer r.Close()
	r.Report(owner3, []Module{other.mod("x")})
	r.Report(owner2, []Module{s.mod("a"), s.mod("h", "a")})
	r.Report(owner1, []Module{s.mod("a"), s.mod("b", "a")})
	r.Invalidate([]string{s.path("a")}, false)
	wantTake(t, r, owner1, s.paths("a"), s.paths("b"), false)
	wantTake(t, r, owner2, s.paths("a"), s.paths("h"), false)
	wantTake(t, r, owner3, nil, nil, false)

	snap := r.Snapshot()
	var got []Owner
	for _, om := range snap {
		got = append(got, om.Owner)
	}
	if want := []Owner{owner1, owner2, owner3}; !slices.Equal(got, want) {
		t.Fatalf("Snapshot owners = %v, want %v", got, want)
	}
	if ms := snap[0].Modules; len(ms) != 2 || ms[0].File != s.path("a") || !ms[0].Stale ||
		ms[1].File != s.path("b") || !ms[1].Stale || !slices.Equal(ms[1].Deps, s.paths("a")) {
		t.Errorf("Snapshot of %v = %+v, want a and b, both stale, b depending on a", owner1, ms)
	}
	if ms := snap[2].Modules; len(ms) != 1 || ms[0].Stale {
		t.Errorf("Snapshot of %v = %+v, want x, not stale", owner3, ms)
	}

	// Rescan reaches every owner.
	r.Invalidate(nil, true)
	for _, o := range []Owner{owner1, owner2, owner3} {
		wantTake(t, r, o, nil, nil, true)
	}
}

// TestTakeMergesAndClears checks that invalidations arriving before the
// worker's next request merge, and that Take clears them.
func TestTakeMergesAndClears(t *testing.T) {
	s := newSite(t)
	r := NewRegistry(nil, nil)
	defer r.Close()
	r.Report(owner1, []Module{s.mod("a"), s.mod("b", "a"), s.mod("c", "b")})

	r.Invalidate(s.paths("a"), false)
	r.Invalidate(s.paths("b"), false) // b was a dependent; now it changed itself
	r.Invalidate(nil, true)
	wantTake(t, r, owner1, s.paths("a", "b"), s.paths("c"), true)
	wantTake(t, r, owner1, nil, nil, false)
	if n := r.npending.Load(); n != 0 {
		t.Errorf("npending = %d after Take, want 0", n)
	}
}

// TestReportChecksStat checks that a module whose file changed between the
// worker's read and the watch is invalidated at once, with its dependents.
func TestReportChecksStat(t *testing.T) {
	s := newSite(t)
	r := NewRegistry(nil, nil)
	defer r.Close()

	// Size differs.
	a := s.mod("a")
	appendFile(t, s.path("a"), "x = 2\n")
	r.Report(owner1, []Module{a, s.mod("h", "a")})
	wantTake(t, r, owner1, s.paths("a"), s.paths("h"), false)

	// Reported again as reloaded: the record is replaced and not stale.
	a2 := s.mod("a")
	a2.Generation, a2.Reason = 2, "changed on disk"
	r.Report(owner1, []Module{a2})
	wantTake(t, r, owner1, nil, nil, false)
	for _, m := range r.Snapshot()[0].Modules {
		if m.File == a2.File && (m.Stale || m.Generation != 2 || m.Reason != "changed on disk") {
			t.Errorf("after reporting a again: %+v, want generation 2, not stale", m)
		}
	}

	// Only the inode differs: replaced by rename, same size and mtime.
	b := s.mod("b")
	fi, err := os.Stat(s.path("b"))
	must(t, err)
	writeFile(t, s.path("b")+".new", "# b\n")
	must(t, os.Chtimes(s.path("b")+".new", fi.ModTime(), fi.ModTime()))
	must(t, os.Rename(s.path("b")+".new", s.path("b")))
	if s.stat("b").MtimeNs != b.Stat.MtimeNs || s.stat("b").Size != b.Stat.Size {
		t.Fatal("test setup: replacing b changed more than its inode")
	}
	r.Report(owner2, []Module{b})
	wantTake(t, r, owner2, s.paths("b"), nil, false)

	// Gone.
	c := s.mod("c")
	must(t, os.Remove(s.path("c")))
	r.Report(owner3, []Module{c})
	wantTake(t, r, owner3, s.paths("c"), nil, false)
}

// TestForgetUnwatches checks that a file stays watched while some owner
// needs it, as a module or as a dependency, and no longer.
func TestForgetUnwatches(t *testing.T) {
	s := newSite(t)
	w, _ := newTestWatcher(t, testOptions("auto"), hooks{})
	r := NewRegistry(w, nil)
	defer r.Close()
	r.Report(owner1, []Module{s.mod("a"), s.mod("b", "c")}) // c never reported
	r.Report(owner2, []Module{s.mod("a")})
	for _, f := range s.paths("a", "b", "c") {
		if ok, _ := w.watching(f); !ok {
			t.Errorf("%s not watched after Report", f)
		}
	}
	r.Invalidate(s.paths("a"), false)
	r.Forget(owner1)
	wantTake(t, r, owner1, nil, nil, false)
	for f, want := range map[string]bool{s.path("a"): true, s.path("b"): false, s.path("c"): false} {
		if ok, _ := w.watching(f); ok != want {
			t.Errorf("after Forget(%v): watching(%s) = %v, want %v", owner1, f, ok, want)
		}
	}
	r.Forget(owner2)
	if ok, _ := w.watching(s.path("a")); ok {
		t.Errorf("after Forget(%v): %s still watched", owner2, s.path("a"))
	}
	if n := r.npending.Load(); n != 0 {
		t.Errorf("npending = %d with every owner forgotten, want 0", n)
	}
	if snap := r.Snapshot(); len(snap) != 0 {
		t.Errorf("Snapshot = %+v, want empty", snap)
	}
}

// TestRegistryFollowsEdits goes from an edit on disk to Take, through a
// real Watcher, in both modes.
func TestRegistryFollowsEdits(t *testing.T) {
	for _, mode := range []string{"auto", "poll"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s, other := newSite(t), site{t, t.TempDir()}
			w, _ := newTestWatcher(t, testOptions(mode), hooks{})
			logger, _ := newTestLogger(t)
			r := NewRegistry(w, logger)
			t.Cleanup(r.Close)
			applied := make(chan Batch, 10)
			r.OnApplied(func(b Batch) { applied <- b })
			wait := func() Batch {
				t.Helper()
				select {
				case b := <-applied:
					return b
				case <-time.After(deadline):
					t.Fatalf("no batch applied within %v", deadline)
				}
				return Batch{}
			}

			a, h := s.mod("a"), s.mod("h", "a")
			x := other.mod("x")
			r.Report(owner1, []Module{a, h})
			r.Report(owner2, []Module{a})
			r.Report(owner3, []Module{x})

			// An atomic save of a.
			writeFile(t, s.path("a")+".new", "# a, edited\n")
			must(t, os.Rename(s.path("a")+".new", s.path("a")))
			wait()
			wantTake(t, r, owner1, s.paths("a"), s.paths("h"), false)
			wantTake(t, r, owner2, s.paths("a"), nil, false)
			wantTake(t, r, owner3, nil, nil, false)

			// A new module next to a and h may shadow a name.
			writeFile(t, s.path("new"), "")
			if b := wait(); !slices.Equal(b.Rescan, []string{s.dir}) {
				t.Errorf("batch after creating new.py: %+v, want Rescan [%s]", b, s.dir)
			}
			wantTake(t, r, owner1, nil, nil, true)
			wantTake(t, r, owner2, nil, nil, true)
			wantTake(t, r, owner3, nil, nil, false)
			if n := r.Changes(); n != 2 {
				t.Errorf("Changes() = %d, want 2", n)
			}
		})
	}
}

// TestTakeAllocs checks that Take allocates nothing when nothing is pending
// for the worker, whether or not something is pending for another.
func TestTakeAllocs(t *testing.T) {
	s := newSite(t)
	r := NewRegistry(nil, nil)
	defer r.Close()
	r.Report(owner1, []Module{s.mod("a"), s.mod("b", "a")})
	r.Report(owner2, []Module{s.mod("a")})
	if n := testing.AllocsPerRun(100, func() { r.Take(owner1) }); n != 0 {
		t.Errorf("Take with nothing pending: %v allocs, want 0", n)
	}
	r.Invalidate(s.paths("a"), false)
	r.Take(owner2)
	if n := testing.AllocsPerRun(100, func() { r.Take(owner2) }); n != 0 {
		t.Errorf("Take with something pending for another worker: %v allocs, want 0", n)
	}
}

// BenchmarkTake measures the check made before every request when nothing
// is pending.
func BenchmarkTake(b *testing.B) {
	s := newSite(b)
	r := NewRegistry(nil, nil)
	defer r.Close()
	var mods []Module
	for i := range 200 {
		mods = append(mods, s.mod("m"+string(rune('a'+i%26))+string(rune('a'+i/26)), "ma"))
	}
	r.Report(owner1, mods)
	r.Report(owner2, mods[:10])
	b.Run("nothing pending", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Take(owner1)
		}
	})
	r.Invalidate(s.paths("maa"), false)
	r.Take(owner1)
	b.Run("pending for another worker", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Take(owner1)
		}
	})
}
