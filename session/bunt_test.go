package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/buntdb"
)

// testID returns a valid session id made from n.
func testID(n int) string { return fmt.Sprintf("%032x", n) }

// logWriter sends a store's log to t.Log, so a failure shows its story.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// newTestStore opens a store in a fresh directory, and closes it at the end
// of the test after checking that no lock is held and no Lock call waits.
func newTestStore(t testing.TB, opts Options) *BuntStore {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "sessions.db")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if held, waiting := s.Locks(); held != 0 || waiting != 0 {
			t.Errorf("at end of test: %d session locks held, %d Lock calls waiting, want 0, 0", held, waiting)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// reopen closes s and opens its file again, with the same options.
func reopen(t *testing.T, s *BuntStore, opts Options) *BuntStore {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	opts.Path = s.path
	return newTestStore(t, opts)
}

func newRecord(id string, data string, timeout time.Duration) *Record {
	now := time.Now()
	return &Record{ID: id, Data: []byte(data), Created: now.Add(-time.Minute), Accessed: now, Timeout: timeout}
}

func sameRecord(a, b *Record) bool {
	return a.ID == b.ID && bytes.Equal(a.Data, b.Data) && a.Created.Equal(b.Created) &&
		a.Accessed.Equal(b.Accessed) && a.Timeout == b.Timeout
}

func TestSaveLoadDelete(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	id := testID(1)
	if _, err := s.Load(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load(unknown) = %v, want ErrNotFound", err)
	}
	// Every byte value, CR LF included, as pickles have them.
	var data []byte
	for i := 0; i < 256; i++ {
		data = append(data, byte(i))
	}
	data = append(data, "\r\n*3\r\n$3\r\nset\r\n"...)
	want := newRecord(id, string(data), 30*time.Minute)
	if err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRecord(got, want) {
		t.Errorf("Load = %+v, want %+v", got, want)
	}
	want.Data = []byte("second version")
	want.Accessed = want.Accessed.Add(time.Second)
	if err := s.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, id); err != nil || !sameRecord(got, want) {
		t.Errorf("Load after second Save = %+v, %v, want %+v", got, err, want)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Errorf("Delete(unknown) = %v, want nil", err)
	}
	// A record that has a zero Created is kept as such.
	zero := &Record{ID: testID(2), Accessed: time.Now(), Timeout: time.Hour}
	if err := s.Save(ctx, zero); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, zero.ID); err != nil || !got.Created.IsZero() || len(got.Data) != 0 {
		t.Errorf("Load(zero Created, no data) = %+v, %v", got, err)
	}
}

func TestExpiry(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	now := time.Now()
	tests := []struct {
		name     string
		accessed time.Time
		timeout  time.Duration
		found    bool
	}{
		{"fresh", now, time.Second, true},
		{"accessed long ago, long timeout", now.Add(-time.Hour), 2 * time.Hour, true},
		{"expired a second ago", now.Add(-3 * time.Second), 2 * time.Second, false},
		{"expired long ago", now.Add(-2 * time.Hour), time.Hour, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Record{ID: testID(i), Data: []byte("x"), Created: tt.accessed, Accessed: tt.accessed, Timeout: tt.timeout}
			if err := s.Save(ctx, r); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load(ctx, r.ID)
			if found := err == nil; found != tt.found || (err != nil && !errors.Is(err, ErrNotFound)) {
				t.Errorf("Load(accessed %v ago, timeout %v) = %v, want found %v", time.Since(tt.accessed).Round(time.Second), tt.timeout, err, tt.found)
			}
		})
	}
}

// TestLoadChecksAccessedPlusTimeout: buntdb's expiry is rounded up to a
// whole second, so it can still hold a record that has expired; Load must
// say ErrNotFound for it.
func TestLoadChecksAccessedPlusTimeout(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	r := &Record{ID: testID(1), Accessed: time.Now().Add(-time.Hour - time.Millisecond), Timeout: time.Hour}
	err := s.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(recordKey(r.ID), string(appendEnvelope(nil, r)), &buntdb.SetOptions{Expires: true, TTL: time.Second})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, r.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(accessed 1h1ms ago, timeout 1h, still in buntdb) = %v, want ErrNotFound", err)
	}
	if n, err := s.Purge(ctx); n != 1 || err != nil {
		t.Errorf("Purge = %d, %v; want 1, nil", n, err)
	}
}

// TestExpiryRoundsUpOnDisk: buntdb writes expiry in whole seconds, rounded
// down; a record that expires within the second must survive a reopen.
func TestExpiryRoundsUpOnDisk(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	// Each expires within the second, at 500ms, 550ms ... 950ms from now:
	// rounded down, most would be dropped by the reopen below.
	in := func(i int) time.Duration { return 500*time.Millisecond + time.Duration(i)*50*time.Millisecond }
	saved := time.Now()
	for i := 0; i < 10; i++ {
		r := newRecord(testID(i), "x", time.Minute)
		r.Accessed = saved.Add(-time.Minute + in(i))
		if err := s.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen(t, s, Options{})
	for i := 0; i < 10; i++ {
		if _, err := s.Load(ctx, testID(i)); err != nil && time.Since(saved) < in(i) {
			t.Errorf("record %d (expires in %v) after reopen: %v", i, in(i), err)
		}
	}
}

func TestSaveExpiredDeletes(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	r := newRecord(testID(1), "x", time.Hour)
	if err := s.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.Accessed = time.Now().Add(-2 * time.Hour)
	if err := s.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, r.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load after saving it expired = %v, want ErrNotFound", err)
	}
	n := 0
	if err := s.Range(ctx, func(Record) bool { n++; return true }); err != nil || n != 0 {
		t.Errorf("Range after saving it expired: %d records, %v; want 0, nil", n, err)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	for _, id := range []string{
		"",
		"0123456789abcdef0123456789abcde",   // 31
		"0123456789abcdef0123456789abcdef0", // 33
		"0123456789ABCDEF0123456789abcdef",  // upper case
		"../../../../etc/passwd0123456789a",
		"0123456789abcdef0123456789abcdeg",
		strings.Repeat("z", 1000),
	} {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, ErrBadID) {
				t.Errorf("%s(%.40q) = %v, want ErrBadID", op, id, err)
			} else if len(err.Error()) > 200 {
				t.Errorf("%s(%.40q): error is %d bytes long", op, id, len(err.Error()))
			}
		}
		_, err := s.Load(ctx, id)
		check("Load", err)
		check("Save", s.Save(ctx, newRecord(id, "x", time.Hour)))
		check("Delete", s.Delete(ctx, id))
		check("Lock", s.Lock(ctx, id, "a", time.Now().Add(time.Second)))
		s.Unlock(id, "a") // no-op
	}
	if err := s.Save(ctx, newRecord(testID(1), "x", 0)); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("Save(timeout 0) = %v, want an error about the timeout", err)
	}
	far := newRecord(testID(1), "x", time.Hour)
	far.Created = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Save(ctx, far); err == nil || !strings.Contains(err.Error(), "created") {
		t.Errorf("Save(created in 3000) = %v, want an error about created", err)
	}
	if _, err := Open(Options{Path: filepath.Join(t.TempDir(), "x.db"), Sync: "sometimes"}); err == nil || !strings.Contains(err.Error(), `"sometimes"`) {
		t.Errorf("Open(Sync: sometimes) = %v, want an error naming it", err)
	}
	if _, err := Open(Options{}); err == nil {
		t.Errorf("Open(no path) = nil error")
	}
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	now := time.Now()
	for i := 0; i < 2500; i++ {
		r := newRecord(testID(i), "x", time.Duration(i%5+1)*time.Hour)
		if err := s.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Purge(ctx); n != 0 || err != nil {
		t.Errorf("Purge with nothing expired = %d, %v; want 0, nil", n, err)
	}
	// 2h30m later, the records with timeouts 1h and 2h have expired.
	n, err := s.purge(ctx, now.Add(150*time.Minute))
	if n != 1000 || err != nil {
		t.Errorf("purge(2h30m later) = %d, %v; want 1000, nil", n, err)
	}
	left := 0
	if err := s.Range(ctx, func(r Record) bool {
		left++
		if r.Timeout <= 2*time.Hour {
			t.Errorf("record with timeout %v survived purge", r.Timeout)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if left != 1500 {
		t.Errorf("after purge %d records, want 1500", left)
	}
	// The deletions are on disk.
	s = reopen(t, s, Options{})
	if _, err := s.Load(ctx, testID(0)); !errors.Is(err, ErrNotFound) {
		t.Errorf("purged record after reopen: %v, want ErrNotFound", err)
	}
	if n, err := s.purge(ctx, now.Add(150*time.Minute)); n != 0 || err != nil {
		t.Errorf("second purge = %d, %v; want 0, nil", n, err)
	}
}

func TestRange(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	const n = 2*rangeChunk + 17
	for i := n - 1; i >= 0; i-- {
		if err := s.Save(ctx, newRecord(testID(i), fmt.Sprint(i), time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	expired := newRecord(testID(n), "old", time.Hour)
	expired.Accessed = time.Now().Add(-2 * time.Hour)
	s.Save(ctx, expired)
	i := 0
	err := s.Range(ctx, func(r Record) bool {
		if r.ID != testID(i) || string(r.Data) != fmt.Sprint(i) {
			t.Errorf("Range record %d = %s %q, want %s %q", i, r.ID, r.Data, testID(i), fmt.Sprint(i))
		}
		// fn may use the store: no transaction is open.
		if err := s.Delete(ctx, r.ID); err != nil {
			t.Error(err)
		}
		i++
		return true
	})
	if err != nil || i != n {
		t.Errorf("Range saw %d records, %v; want %d, nil", i, err, n)
	}
	// Stopping early.
	for i := 0; i < 10; i++ {
		s.Save(ctx, newRecord(testID(i), "x", time.Hour))
	}
	i = 0
	if err := s.Range(ctx, func(Record) bool { i++; return i < 3 }); err != nil || i != 3 {
		t.Errorf("Range stopping at 3 saw %d, %v", i, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Range(cctx, func(Record) bool { return true }); !errors.Is(err, context.Canceled) {
		t.Errorf("Range(canceled ctx) = %v, want context.Canceled", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	for _, policy := range []string{SyncAlways, SyncEverySecond, SyncNever} {
		t.Run(policy, func(t *testing.T) {
			opts := Options{Sync: policy}
			s := newTestStore(t, opts)
			var want []*Record
			for i := 0; i < 100; i++ {
				r := newRecord(testID(i), fmt.Sprintf("data %d", i), time.Hour)
				want = append(want, r)
				if err := s.Save(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			s.Delete(ctx, testID(0))
			s = reopen(t, s, opts)
			if _, err := s.Load(ctx, testID(0)); !errors.Is(err, ErrNotFound) {
				t.Errorf("deleted record after reopen: %v", err)
			}
			for _, w := range want[1:] {
				got, err := s.Load(ctx, w.ID)
				if err != nil || !sameRecord(got, w) {
					t.Errorf("after reopen Load(%s) = %+v, %v; want %+v", w.ID, got, err, w)
				}
			}
		})
	}
}

func TestSecondOpenFails(t *testing.T) {
	s := newTestStore(t, Options{})
	_, err := Open(Options{Path: s.path})
	if err == nil {
		t.Fatal("second Open of the same path succeeded")
	}
	if want := fmt.Sprintf("pid %d", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Errorf("second Open: %v; want it to name the holder (%s)", err, want)
	}
	// The first store still works.
	if err := s.Save(context.Background(), newRecord(testID(1), "x", time.Hour)); err != nil {
		t.Error(err)
	}
	// After Close the path can be opened again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(Options{Path: s.path})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "state", "mpgate")
	s := newTestStore(t, Options{Path: filepath.Join(dir, "sessions.db")})
	ctx := context.Background()
	checkMode := func(path string, want fs.FileMode) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %v, want %v", path, got, want)
		}
	}
	checkMode(dir, 0o700)
	checkMode(s.path, 0o600)
	checkMode(s.path+".lock", 0o600)
	for i := 0; i < 10; i++ {
		s.Save(ctx, newRecord(testID(1), fmt.Sprint(i), time.Hour))
	}
	// buntdb's Shrink would create the new file 0644 here.
	if err := s.Shrink(); err != nil {
		t.Fatal(err)
	}
	checkMode(s.path, 0o600)
	if _, err := os.Stat(s.path + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Shrink %s.tmp: %v, want it gone", s.path, err)
	}
}

func TestShrink(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	for i := 0; i < 200; i++ {
		for j := 0; j < 10; j++ {
			if err := s.Save(ctx, newRecord(testID(i), fmt.Sprintf("%d.%d", i, j), time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 100; i < 200; i++ {
		s.Delete(ctx, testID(i))
	}
	before := fileSize(t, s.path)
	if err := s.Shrink(); err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, s.path)
	if after*10 > before {
		t.Errorf("Shrink: file %d -> %d bytes, want at least 10x smaller", before, after)
	}
	// Writes after the shrink go to the new file.
	s.Save(ctx, newRecord(testID(500), "after shrink", time.Hour))
	s = reopen(t, s, Options{})
	for i := 0; i < 200; i++ {
		got, err := s.Load(ctx, testID(i))
		switch {
		case i < 100 && (err != nil || string(got.Data) != fmt.Sprintf("%d.9", i)):
			t.Errorf("after shrink and reopen Load(%d) = %+v, %v; want data %d.9", i, got, err, i)
		case i >= 100 && !errors.Is(err, ErrNotFound):
			t.Errorf("after shrink and reopen Load(deleted %d) = %v, want ErrNotFound", i, err)
		}
	}
	if _, err := s.Load(ctx, testID(500)); err != nil {
		t.Errorf("record saved after the shrink, after reopen: %v", err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	s.Close()
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	id := testID(1)
	_, err := s.Load(ctx, id)
	for op, err := range map[string]error{
		"Load":   err,
		"Save":   s.Save(ctx, newRecord(id, "x", time.Hour)),
		"Delete": s.Delete(ctx, id),
		"Lock":   s.Lock(ctx, id, "a", time.Time{}),
		"Shrink": s.Shrink(),
		"Range":  s.Range(ctx, func(Record) bool { return true }),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", op, err)
		}
	}
	if _, err := s.Purge(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Purge after Close = %v, want ErrClosed", err)
	}
}

// msgHandler is a slog.Handler that sends each message to a channel, for
// tests that wait on something the store logs.
type msgHandler struct{ c chan<- string }

func (h msgHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h msgHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.c <- r.Message:
	default:
	}
	return nil
}
func (h msgHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h msgHandler) WithGroup(string) slog.Handler      { return h }

func TestBackgroundShrink(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{ShrinkEvery: -1})
	// One session saved over and over: the workload that grows buntdb
	// files to gigabytes when auto-shrink does not trigger
	// (tidwall/buntdb#37, #77).
	data := strings.Repeat("x", 1000)
	for i := 0; fileSize(t, s.path) < 2*shrinkMinSize; i++ {
		if err := s.Save(ctx, newRecord(testID(1), fmt.Sprint(data, i), time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	// Reopened with background shrinking on, and no writes, its first
	// check shrinks the file.
	msgs := make(chan string, 10)
	s = reopen(t, s, Options{ShrinkEvery: 5 * time.Millisecond, Logger: slog.New(msgHandler{msgs})})
	if msg := recv(t, msgs, "log message"); msg != "session database shrunk" {
		t.Fatalf("logged %q, want a shrink", msg)
	}
	if size := fileSize(t, s.path); size > 10000 {
		t.Errorf("after the background shrink the file is %d bytes, want about one record", size)
	}
	if _, err := s.Load(ctx, testID(1)); err != nil {
		t.Error(err)
	}
}
