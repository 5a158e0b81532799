package importer

// Test helpers: a logger that writes to t.Log and counts its lines, Watchers
// closed at cleanup, waiting for Batches with a deadline, and file edits.

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// deadline bounds every wait for something that should happen; it is a
// failure guard, never a synchronisation.
const deadline = 10 * time.Second

// testLog passes log lines to t.Log and keeps them for checks.
type testLog struct {
	t  testing.TB
	mu sync.Mutex
	sb strings.Builder
}

func newTestLogger(t testing.TB) (*slog.Logger, *testLog) {
	l := &testLog{t: t}
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.sb.Write(p)
	l.mu.Unlock()
	l.t.Logf("log: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// count returns how many lines contain all of subs.
func (l *testLog) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.sb.String(), "\n") {
		ok := line != ""
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			n++
		}
	}
	return n
}

// testOptions debounce generously, so that a test goroutine descheduled in
// the middle of an edit does not split its batch.
func testOptions(mode string) Options {
	return Options{Mode: mode, PollInterval: 20 * time.Millisecond, Settle: 50 * time.Millisecond, MaxDelay: time.Second}
}

func newTestWatcher(t testing.TB, opts Options, h hooks) (*Watcher, *testLog) {
	t.Helper()
	logger, log := newTestLogger(t)
	opts.Logger = logger
	w, err := newWatcher(opts, h)
	if err != nil {
		t.Fatalf("newWatcher(%+v): %v", opts, err)
	}
	t.Cleanup(func() { w.Close() })
	return w, log
}

func mustWatch(t testing.TB, w *Watcher, files ...string) {
	t.Helper()
	for _, f := range files {
		if err := w.Watch(f); err != nil {
			t.Fatalf("Watch(%q): %v", f, err)
		}
	}
}

// nextBatch returns the next Batch, failing after the deadline.
func nextBatch(t testing.TB, w *Watcher) Batch {
	t.Helper()
	select {
	case b, ok := <-w.Events():
		if !ok {
			t.Fatal("Events closed")
		}
		t.Logf("batch: changed %q rescan %q", b.Changed, b.Rescan)
		return b
	case <-time.After(deadline):
		t.Fatalf("no batch within %v", deadline)
	}
	return Batch{}
}

// waitFor receives Batches until together they name every file of changed
// and every directory of rescan, and fails on any other name.
func waitFor(t testing.TB, w *Watcher, changed, rescan []string) {
	t.Helper()
	gotC, gotR := map[string]bool{}, map[string]bool{}
	for {
		done := true
		for _, f := range changed {
			done = done && gotC[f]
		}
		for _, d := range rescan {
			done = done && gotR[d]
		}
		if done {
			return
		}
		b := nextBatch(t, w)
		for _, f := range b.Changed {
			if !slices.Contains(changed, f) {
				t.Fatalf("batch names changed %q, want only %q (rescan %q)", f, changed, rescan)
			}
			gotC[f] = true
		}
		for _, d := range b.Rescan {
			if !slices.Contains(rescan, d) {
				t.Fatalf("batch names rescan %q, want only %q (changed %q)", d, rescan, changed)
			}
			gotR[d] = true
		}
	}
}

// expectOnly changes sentinel and requires the next Batch to name it alone:
// that proves that nothing done before produced a batch (still pending or
// yet to come), without waiting for an arbitrary time.
func expectOnly(t testing.TB, w *Watcher, sentinel string) {
	t.Helper()
	appendFile(t, sentinel, "# sentinel\n")
	b := nextBatch(t, w)
	if !slices.Equal(b.Changed, []string{sentinel}) || len(b.Rescan) != 0 {
		t.Fatalf("after changing only the sentinel: batch changed %q rescan %q, want changed [%q]",
			b.Changed, b.Rescan, sentinel)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendFile grows a file, so that polling sees a new size whatever the
// timestamp granularity.
func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// watching reports whether file is watched, and its directory's watch mode.
func (w *Watcher) watching(file string) (bool, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.dirs[filepath.Dir(file)]
	if d == nil {
		return false, ""
	}
	_, ok := d.files[filepath.Base(file)]
	return ok, [...]string{"inotify", "poll", "gone"}[d.how]
}
