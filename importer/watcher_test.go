package importer

// Watcher tests: every way an editor or a deploy changes a file, with
// inotify and with polling alone; what must produce nothing; the fallbacks
// to polling; overflow; Unwatch and Close.

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// editStep is one edit and the batches it must yield (paths relative to the
// test's root; "site" is a watched directory).
type editStep struct {
	name    string
	edit    func(t *testing.T, root string)
	changed []string
	rescan  []string
	mode    map[string]string // Watcher mode -> Mode() wanted after the step
}

var editCases = []struct {
	name  string
	watch []string // created with some content, then watched
	steps []editStep
}{
	{
		name:  "in-place write",
		watch: []string{"site/f.py", "site/g.py"},
		steps: []editStep{{
			name: "truncate and write in three parts",
			edit: func(t *testing.T, root string) {
				f, err := os.OpenFile(filepath.Join(root, "site/f.py"), os.O_WRONLY|os.O_TRUNC, 0)
				must(t, err)
				for _, s := range []string{"x = 1\n", "y = 2\n", "z = 3\n"} {
					_, err := f.WriteString(s)
					must(t, err)
				}
				must(t, f.Close())
			},
			changed: []string{"site/f.py"},
		}},
	},
	{
		name:  "write and rename over",
		watch: []string{"site/f.py"},
		steps: []editStep{{
			name: "f.py.new renamed to f.py",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "site/f.py.new"), "x = 'replaced'\n")
				must(t, os.Rename(filepath.Join(root, "site/f.py.new"), filepath.Join(root, "site/f.py")))
			},
			changed: []string{"site/f.py"},
		}, {
			// A *.py temporary file that appears and is renamed away in the
			// same batch leaves the listing as it was: no rescan.
			name: "tmp1234.py renamed to f.py",
			edit: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "site/tmp1234.py"), "x = 'replaced again'\n")
				must(t, os.Rename(filepath.Join(root, "site/tmp1234.py"), filepath.Join(root, "site/f.py")))
			},
			changed: []string{"site/f.py"},
		}},
	},
	{
		name:  "touch",
		watch: []string{"site/f.py"},
		steps: []editStep{{
			name: "mtime set one second later",
			edit: func(t *testing.T, root string) {
				f := filepath.Join(root, "site/f.py")
				fi, err := os.Stat(f)
				must(t, err)
				mt := fi.ModTime().Add(time.Second)
				must(t, os.Chtimes(f, mt, mt))
			},
			changed: []string{"site/f.py"},
		}},
	},
	{
		name:  "remove and recreate",
		watch: []string{"site/f.py", "site/g.py"},
		steps: []editStep{{
			name:    "rm",
			edit:    func(t *testing.T, root string) { must(t, os.Remove(filepath.Join(root, "site/f.py"))) },
			changed: []string{"site/f.py"},
		}, {
			name:    "recreate",
			edit:    func(t *testing.T, root string) { writeFile(t, filepath.Join(root, "site/f.py"), "x = 'new'\n") },
			changed: []string{"site/f.py"},
		}},
	},
	{
		name:  "rename away and back",
		watch: []string{"site/f.py"},
		steps: []editStep{{
			name: "f.py to f.py.bak",
			edit: func(t *testing.T, root string) {
				must(t, os.Rename(filepath.Join(root, "site/f.py"), filepath.Join(root, "site/f.py.bak")))
			},
			changed: []string{"site/f.py"},
		}, {
			name: "f.py.bak to f.py",
			edit: func(t *testing.T, root string) {
				must(t, os.Rename(filepath.Join(root, "site/f.py.bak"), filepath.Join(root, "site/f.py")))
			},
			changed: []string{"site/f.py"},
		}},
	},
	{
		name:  "rm -rf the directory and recreate it",
		watch: []string{"site/f.py", "site/g.py"},
		steps: []editStep{{
			name:    "rm -rf site",
			edit:    func(t *testing.T, root string) { must(t, os.RemoveAll(filepath.Join(root, "site"))) },
			changed: []string{"site/f.py", "site/g.py"},
		}, {
			name:    "mkdir site; write f.py",
			edit:    func(t *testing.T, root string) { writeFile(t, filepath.Join(root, "site/f.py"), "x = 'back'\n") },
			changed: []string{"site/f.py"},
			mode:    map[string]string{"auto": "inotify", "poll": "poll"},
		}, {
			name:    "append to f.py",
			edit:    func(t *testing.T, root string) { appendFile(t, filepath.Join(root, "site/f.py"), "y = 1\n") },
			changed: []string{"site/f.py"},
		}},
	},
	{
		name:  "rm -rf a directory whose parent is watched",
		watch: []string{"site/top.py", "site/sub/f.py"},
		steps: []editStep{{
			name:    "rm -rf site/sub",
			edit:    func(t *testing.T, root string) { must(t, os.RemoveAll(filepath.Join(root, "site/sub"))) },
			changed: []string{"site/sub/f.py"},
			rescan:  []string{"site"},
		}, {
			name:    "mkdir site/sub; write f.py",
			edit:    func(t *testing.T, root string) { writeFile(t, filepath.Join(root, "site/sub/f.py"), "x = 'back'\n") },
			changed: []string{"site/sub/f.py"},
			rescan:  []string{"site"},
			mode:    map[string]string{"auto": "inotify", "poll": "poll"},
		}},
	},
	{
		name:  "modules and packages appear and disappear",
		watch: []string{"site/f.py"},
		steps: []editStep{{
			name:   "new.py created",
			edit:   func(t *testing.T, root string) { writeFile(t, filepath.Join(root, "site/new.py"), "") },
			rescan: []string{"site"},
		}, {
			name:   "new.py removed",
			edit:   func(t *testing.T, root string) { must(t, os.Remove(filepath.Join(root, "site/new.py"))) },
			rescan: []string{"site"},
		}, {
			name:   "package directory created",
			edit:   func(t *testing.T, root string) { must(t, os.Mkdir(filepath.Join(root, "site/pkg"), 0o755)) },
			rescan: []string{"site"},
		}, {
			name: "package directory renamed",
			edit: func(t *testing.T, root string) {
				must(t, os.Rename(filepath.Join(root, "site/pkg"), filepath.Join(root, "site/pkg2")))
			},
			rescan: []string{"site"},
		}},
	},
}

// TestWatchEdits checks that every edit style yields batches naming the
// file, and nothing more (the sentinel after each step), with inotify and
// with polling alone.
func TestWatchEdits(t *testing.T) {
	for _, mode := range []string{"auto", "poll"} {
		for _, tc := range editCases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				root := t.TempDir()
				sentinel := filepath.Join(root, "sentinel/s.py")
				writeFile(t, sentinel, "")
				w, _ := newTestWatcher(t, testOptions(mode), hooks{})
				// Every file exists before the first is watched: the events of
				// the setup are not the test's.
				for _, f := range tc.watch {
					writeFile(t, filepath.Join(root, f), "x = 'original'\n")
				}
				mustWatch(t, w, sentinel)
				for _, f := range tc.watch {
					mustWatch(t, w, filepath.Join(root, f))
				}
				wantMode := map[string]string{"auto": "inotify", "poll": "poll"}[mode]
				if got := w.Mode(); got != wantMode {
					t.Fatalf("Mode() = %q, want %q", got, wantMode)
				}
				for _, st := range tc.steps {
					t.Logf("step %q", st.name)
					st.edit(t, root)
					waitFor(t, w, abs(root, st.changed), abs(root, st.rescan))
					if want := st.mode[mode]; want != "" {
						if got := w.Mode(); got != want {
							t.Errorf("after %q: Mode() = %q, want %q", st.name, got, want)
						}
					}
					expectOnly(t, w, sentinel)
				}
			})
		}
	}
}

func abs(root string, rel []string) []string {
	var out []string
	for _, r := range rel {
		out = append(out, filepath.Join(root, r))
	}
	return out
}

// TestWatchIgnoresNoise checks that editor and Python noise, files that are
// not modules, and chmod yield no batch.
func TestWatchIgnoresNoise(t *testing.T) {
	for _, mode := range []string{"auto", "poll"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			site := filepath.Join(root, "site")
			f, sentinel := filepath.Join(site, "f.py"), filepath.Join(root, "sentinel/s.py")
			writeFile(t, f, "x = 1\n")
			writeFile(t, sentinel, "")
			w, _ := newTestWatcher(t, testOptions(mode), hooks{})
			mustWatch(t, w, f, sentinel)

			noise := []string{".f.py.swp", ".f.py.swx", "f.py~", "#f.py#", "4913", "f.py.tmp",
				".hidden.py", "notes.txt", "f.pyc", "__pycache__/f.cpython-313.pyc"}
			for _, n := range noise {
				writeFile(t, filepath.Join(site, n), "noise\n")
			}
			must(t, os.Rename(filepath.Join(site, ".f.py.swp"), filepath.Join(site, ".f.py.swo")))
			must(t, os.Chmod(f, 0o600))
			must(t, os.Chmod(site, 0o700))
			expectOnly(t, w, sentinel)

			for _, n := range noise[1:] {
				must(t, os.Remove(filepath.Join(site, n)))
			}
			must(t, os.Remove(filepath.Join(site, "__pycache__")))
			must(t, os.Chmod(f, 0o644))
			expectOnly(t, w, sentinel)
		})
	}
}

// TestWatchMissingDirectory checks that a file can be watched before its
// directory exists, and that its creation is then a change.
func TestWatchMissingDirectory(t *testing.T) {
	for _, mode := range []string{"auto", "poll"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			f := filepath.Join(root, "later/f.py")
			w, _ := newTestWatcher(t, testOptions(mode), hooks{})
			mustWatch(t, w, f)
			writeFile(t, f, "x = 1\n")
			waitFor(t, w, []string{f}, nil)
			if ok, how := w.watching(f); !ok || mode == "auto" && how != "inotify" {
				t.Errorf("after the directory appeared: watching(%q) = %v, %q, want true, inotify in auto mode", f, ok, how)
			}
		})
	}
}

// TestWatchLimitFallsBackToPolling makes inotify_add_watch fail as it does
// at fs.inotify.max_user_watches, for two directories of three: those are
// polled, the third is not, and the limit is logged once.
func TestWatchLimitFallsBackToPolling(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	a, b, c := filepath.Join(root, "a/a.py"), filepath.Join(root, "b/b.py"), filepath.Join(root, "c/c.py")
	free := filepath.Dir(c)
	h := hooks{add: func(fsw *fsnotify.Watcher, dir string) error {
		if dir != free {
			return syscall.ENOSPC // what fsnotify returns, unwrapped
		}
		return fsw.Add(dir)
	}}
	w, log := newTestWatcher(t, testOptions("auto"), h)
	for _, f := range []string{a, b, c} {
		writeFile(t, f, "x = 1\n")
	}
	mustWatch(t, w, a, b, c)
	if got := w.Mode(); got != "mixed" {
		t.Errorf("Mode() = %q, want mixed", got)
	}
	for f, want := range map[string]string{a: "poll", b: "poll", c: "inotify"} {
		if _, how := w.watching(f); how != want {
			t.Errorf("%s watched by %q, want %q", f, how, want)
		}
	}
	for _, f := range []string{a, b, c} {
		appendFile(t, f, "y = 2\n")
		waitFor(t, w, []string{f}, nil)
	}
	if n := log.count("level=WARN", "fs.inotify.max_user_watches"); n != 1 {
		t.Errorf("%d warnings naming fs.inotify.max_user_watches, want 1", n)
	}
}

// TestWatchWithoutInotify makes inotify_init fail as it does at
// fs.inotify.max_user_instances: everything is polled, logged once.
func TestWatchWithoutInotify(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	h := hooks{newFS: func() (*fsnotify.Watcher, error) {
		return nil, fmt.Errorf("couldn't initialize inotify: %w", syscall.EMFILE)
	}}
	w, log := newTestWatcher(t, testOptions("auto"), h)
	a, b := filepath.Join(root, "a/a.py"), filepath.Join(root, "b/b.py")
	for _, f := range []string{a, b} {
		writeFile(t, f, "x = 1\n")
	}
	mustWatch(t, w, a, b)
	if got := w.Mode(); got != "poll" {
		t.Errorf("Mode() = %q, want poll", got)
	}
	appendFile(t, b, "y = 2\n")
	waitFor(t, w, []string{b}, nil)
	if n := log.count("level=WARN", "fs.inotify.max_user_instances"); n != 1 {
		t.Errorf("%d warnings naming fs.inotify.max_user_instances, want 1", n)
	}
}

// TestWatchOverflowReportsEverything overflows the kernel's inotify queue
// for real: with the Watcher's reader held, fsnotify stops reading, and more
// events than fs.inotify.max_queued_events are queued. Every watched file,
// even one never touched, must then be reported, and the overflow logged once.
// Where the queue limit cannot be read, or is too large to fill in a test,
// the overflow error reaches the Watcher the way fsnotify delivers it (its
// Errors channel, read by the same handler), and the same must follow.
func TestWatchOverflowReportsEverything(t *testing.T) {
	t.Parallel()
	max := -1
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n <= 1<<20 {
			max = n
		}
	}
	root := t.TempDir()
	w, log := newTestWatcher(t, testOptions("auto"), hooks{})
	var files []string
	for _, n := range []string{"a.py", "b.py", "untouched.py"} {
		f := filepath.Join(root, "site", n)
		writeFile(t, f, "")
		files = append(files, f)
	}
	mustWatch(t, w, files...)
	if max < 0 {
		t.Logf("inotify queue limit unreadable or too large: delivering fsnotify.ErrEventOverflow to the Watcher")
		w.handleError(fsnotify.ErrEventOverflow)
	} else {
		fa, err := os.OpenFile(files[0], os.O_WRONLY, 0)
		must(t, err)
		defer fa.Close()
		fb, err := os.OpenFile(files[1], os.O_WRONLY, 0)
		must(t, err)
		defer fb.Close()

		w.mu.Lock() // the reader blocks on it, and fsnotify on the reader
		for i := 0; i < max+5000; i++ {
			// Alternate files: inotify merges an event identical to the last one queued.
			if _, err := fa.Write([]byte("x")); err != nil {
				w.mu.Unlock()
				t.Fatal(err)
			}
			if _, err := fb.Write([]byte("y")); err != nil {
				w.mu.Unlock()
				t.Fatal(err)
			}
		}
		w.mu.Unlock()
	}
	waitFor(t, w, files, nil)
	if n := log.count("level=WARN", "overflowed"); n != 1 {
		t.Errorf("%d overflow warnings, want 1", n)
	}
}

// TestUnwatch checks that an unwatched file yields nothing, and that the
// directory's watch goes with its last file.
func TestUnwatch(t *testing.T) {
	for _, mode := range []string{"auto", "poll"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			f, g, sentinel := filepath.Join(root, "site/f.py"), filepath.Join(root, "site/g.py"), filepath.Join(root, "sentinel/s.py")
			for _, p := range []string{f, g, sentinel} {
				writeFile(t, p, "")
			}
			w, _ := newTestWatcher(t, testOptions(mode), hooks{})
			mustWatch(t, w, f, g, sentinel)
			mustWatch(t, w, f) // idempotent
			w.Unwatch(f)
			appendFile(t, f, "x = 1\n")
			expectOnly(t, w, sentinel)
			appendFile(t, g, "x = 1\n")
			waitFor(t, w, []string{g}, nil)

			w.Unwatch(g)
			if ok, _ := w.watching(g); ok {
				t.Errorf("watching(%q) after Unwatch", g)
			}
			if w.fsw != nil && slices.Contains(w.fsw.WatchList(), filepath.Dir(g)) {
				t.Errorf("fsnotify still watches %s: %q", filepath.Dir(g), w.fsw.WatchList())
			}
			appendFile(t, g, "y = 1\n")
			writeFile(t, filepath.Join(root, "site/new.py"), "")
			expectOnly(t, w, sentinel)
		})
	}
}

func TestWatchRelativePath(t *testing.T) {
	w, _ := newTestWatcher(t, testOptions("auto"), hooks{})
	if err := w.Watch("site/f.py"); err == nil {
		t.Error(`Watch("site/f.py") = nil, want an error`)
	}
}

func TestWatchModeOff(t *testing.T) {
	w, err := NewWatcher(Options{Mode: "off"})
	must(t, err)
	f := filepath.Join(t.TempDir(), "f.py")
	if err := w.Watch(f); err != nil {
		t.Errorf("Watch(%q) in mode off = %v, want nil", f, err)
	}
	if got := w.Mode(); got != "off" {
		t.Errorf("Mode() = %q, want off", got)
	}
	must(t, w.Close())
	if _, ok := <-w.Events(); ok {
		t.Error("Events delivered a batch in mode off")
	}
}

func TestWatchBadMode(t *testing.T) {
	if _, err := NewWatcher(Options{Mode: "fast"}); err == nil {
		t.Error(`NewWatcher(Mode "fast") = nil error`)
	}
}

// TestWatcherCloseLeavesNothing checks that Close ends every goroutine of
// the Watcher (and of fsnotify) and the Registry, closes Events, and that
// Watch fails after it. Not parallel: it counts goroutines.
func TestWatcherCloseLeavesNothing(t *testing.T) {
	for _, mode := range []string{"auto", "poll"} {
		root := t.TempDir()
		w, err := NewWatcher(testOptions(mode))
		must(t, err)
		r := NewRegistry(w, nil)
		f := filepath.Join(root, "site/f.py")
		writeFile(t, f, "")
		mustWatch(t, w, f)
		appendFile(t, f, "x = 1\n") // a batch nobody receives: Close must not hang on it
		r.Close()
		must(t, w.Close())
		must(t, w.Close())
		if _, ok := <-w.Events(); ok {
			t.Errorf("%s: Events not closed", mode)
		}
		if err := w.Watch(f); err == nil {
			t.Errorf("%s: Watch after Close = nil, want an error", mode)
		}
		waitNoGoroutines(t, "importer.(*Watcher)", "importer.(*Registry)", "fsnotify")
	}
}

// waitNoGoroutines waits until no goroutine's stack mentions any of funcs:
// a goroutine that has called wg.Done may still be on its way out.
func waitNoGoroutines(t *testing.T, funcs ...string) {
	t.Helper()
	stop := time.After(deadline)
	buf := make([]byte, 1<<20)
	for {
		stacks := string(buf[:runtime.Stack(buf, true)])
		leak := ""
		for _, g := range strings.Split(stacks, "\n\n") {
			for _, f := range funcs {
				if strings.Contains(g, f) && !strings.Contains(g, "waitNoGoroutines") {
					leak = g
				}
			}
		}
		if leak == "" {
			return
		}
		select {
		case <-stop:
			t.Fatalf("goroutine left after Close:\n%s", leak)
		default:
			runtime.Gosched()
		}
	}
}
