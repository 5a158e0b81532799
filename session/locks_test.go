package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitTimeout bounds every wait on a channel in these tests; reaching it
// means a hang, never a slow machine.
const waitTimeout = 30 * time.Second

// queued installs a hook on s that reports every Lock call that starts to
// wait, as "owner id". Call it before any Lock.
func queued(s *BuntStore) <-chan string {
	c := make(chan string, 100)
	s.locks.waitHook = func(id, owner string) { c <- owner + " " + id }
	return c
}

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("no %s after %v", what, waitTimeout)
		panic("unreachable")
	}
}

// lockAsync calls Lock in a goroutine and returns its result channel.
func lockAsync(s *BuntStore, ctx context.Context, id, owner string, deadline time.Time) <-chan error {
	c := make(chan error, 1)
	go func() { c <- s.Lock(ctx, id, owner, deadline) }()
	return c
}

func noDeadline() time.Time { return time.Time{} }

func TestLockReentrant(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	id := testID(1)
	for i := 0; i < 3; i++ {
		if err := s.Lock(ctx, id, "req-1", time.Now().Add(time.Second)); err != nil {
			t.Fatalf("Lock #%d by the same owner: %v", i+1, err)
		}
	}
	if held, _ := s.Locks(); held != 1 {
		t.Errorf("locks held = %d, want 1", held)
	}
	// One Unlock releases (the wire contract: "one unlock releases").
	s.Unlock(id, "req-1")
	if held, _ := s.Locks(); held != 0 {
		t.Errorf("after one Unlock locks held = %d, want 0", held)
	}
	// Unlocking what is not held, or held by another, does nothing.
	s.Unlock(id, "req-1")
	s.Lock(ctx, id, "req-2", noDeadline())
	s.Unlock(id, "req-1")
	if held, _ := s.Locks(); held != 1 {
		t.Errorf("after Unlock by a non-owner locks held = %d, want 1", held)
	}
	s.Unlock(id, "req-2")
}

func TestLockWaitsFIFO(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	q := queued(s)
	id := testID(1)
	if err := s.Lock(ctx, id, "a", noDeadline()); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	var wg sync.WaitGroup
	for _, owner := range []string{"b", "c", "d"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Lock(ctx, id, owner, time.Now().Add(waitTimeout)); err != nil {
				t.Errorf("Lock(%s): %v", owner, err)
				return
			}
			got <- owner
			s.Unlock(id, owner)
		}()
		// Wait until it is queued, so the queue order is b, c, d.
		if w := recv(t, q, "queued Lock"); w != owner+" "+id {
			t.Fatalf("queued %q, want %q", w, owner+" "+id)
		}
	}
	if _, waiting := s.Locks(); waiting != 3 {
		t.Errorf("waiting = %d, want 3", waiting)
	}
	s.Unlock(id, "a")
	for _, want := range []string{"b", "c", "d"} {
		if owner := recv(t, got, "lock handed on"); owner != want {
			t.Errorf("lock went to %s, want %s (FIFO)", owner, want)
		}
	}
	wg.Wait()
}

func TestLockDeadline(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	id := testID(7)
	s.Lock(ctx, id, "holder", noDeadline())
	defer s.Unlock(id, "holder")

	start := time.Now()
	err := s.Lock(ctx, id, "late", start.Add(50*time.Millisecond))
	if !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("Lock past its deadline = %v, want ErrLockTimeout", err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Errorf("Lock gave up after %v, before its deadline", time.Since(start))
	}
	var le *LockError
	if !errors.As(err, &le) || le.ID != id {
		t.Errorf("Lock error %#v, want a *LockError for %s", err, id)
	}
	prefix := "session " + id + ": lock not acquired within "
	if d, perr := time.ParseDuration(strings.TrimPrefix(err.Error(), prefix)); !strings.HasPrefix(err.Error(), prefix) || perr != nil || d <= 0 {
		t.Errorf("Lock error = %q, want %q and a duration", err, prefix)
	}
	if held, waiting := s.Locks(); held != 1 || waiting != 0 {
		t.Errorf("after timeout: held %d, waiting %d; want 1, 0 (no waiter left behind)", held, waiting)
	}
	// The dispatcher's ctx ends at the deadline too: still the same error.
	d := time.Now().Add(20 * time.Millisecond)
	dctx, cancel := context.WithDeadline(ctx, d)
	defer cancel()
	err = s.Lock(dctx, id, "late", d)
	if !errors.Is(err, ErrLockTimeout) || !strings.HasPrefix(err.Error(), prefix) || strings.Contains(err.Error(), "context") {
		t.Errorf("Lock with ctx ending at the deadline = %q, want %q and a duration only", err, prefix)
	}
	// A deadline already past: no wait at all.
	if err := s.Lock(ctx, id, "late", time.Now().Add(-time.Second)); !errors.Is(err, ErrLockTimeout) {
		t.Errorf("Lock(deadline past, lock held) = %v, want ErrLockTimeout", err)
	}
	// ... but a free lock is taken whatever the deadline.
	if err := s.Lock(ctx, testID(8), "late", time.Now().Add(-time.Second)); err != nil {
		t.Errorf("Lock(deadline past, lock free) = %v, want nil", err)
	}
	s.Unlock(testID(8), "late")
	// The handover still works after a waiter gave up.
	c := lockAsync(s, ctx, id, "next", time.Now().Add(waitTimeout))
	s.Unlock(id, "holder")
	if err := recv(t, c, "Lock result"); err != nil {
		t.Errorf("Lock after the holder unlocked: %v", err)
	}
	s.Unlock(id, "next")
}

func TestLockContextEnds(t *testing.T) {
	s := newTestStore(t, Options{})
	q := queued(s)
	id := testID(9)
	s.Lock(context.Background(), id, "holder", noDeadline())
	defer s.Unlock(id, "holder")
	ctx, cancel := context.WithCancel(context.Background())
	c := lockAsync(s, ctx, id, "waiter", noDeadline())
	recv(t, q, "queued Lock")
	cancel()
	err := recv(t, c, "Lock result")
	if !errors.Is(err, ErrLockTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with ctx canceled = %v, want ErrLockTimeout and context.Canceled", err)
	}
	if !strings.HasPrefix(err.Error(), "session "+id+": lock not acquired within ") {
		t.Errorf("Lock error = %q", err)
	}
	if _, waiting := s.Locks(); waiting != 0 {
		t.Errorf("after ctx end waiting = %d, want 0", waiting)
	}
	// A context already done fails at once when the lock is held.
	if err := s.Lock(ctx, id, "waiter", noDeadline()); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock(done ctx) = %v, want context.Canceled", err)
	}
}

func TestReleaseAll(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	q := queued(s)
	x, y, z := testID(1), testID(2), testID(3)
	// req-1 holds x and y, and waits for z, which req-4 holds.
	for _, id := range []string{x, y} {
		if err := s.Lock(ctx, id, "req-1", noDeadline()); err != nil {
			t.Fatal(err)
		}
	}
	s.Lock(ctx, z, "req-4", noDeadline())
	wz := lockAsync(s, ctx, z, "req-1", noDeadline())
	recv(t, q, "queued Lock")
	wx := lockAsync(s, ctx, x, "req-2", noDeadline())
	recv(t, q, "queued Lock")
	wy := lockAsync(s, ctx, y, "req-3", noDeadline())
	recv(t, q, "queued Lock")

	// req-1 ends (its worker was killed, say).
	s.ReleaseAll("req-1")
	if err := recv(t, wx, "req-2's Lock"); err != nil {
		t.Errorf("req-2 Lock(x) after ReleaseAll(req-1) = %v", err)
	}
	if err := recv(t, wy, "req-3's Lock"); err != nil {
		t.Errorf("req-3 Lock(y) after ReleaseAll(req-1) = %v", err)
	}
	if err := recv(t, wz, "req-1's abandoned Lock"); err == nil || !strings.Contains(err.Error(), "request ended") {
		t.Errorf("req-1's waiting Lock(z) after ReleaseAll(req-1) = %v, want an error saying its request ended", err)
	}
	// req-1 owns nothing and waits for nothing; z is still req-4's.
	if held, waiting := s.Locks(); held != 3 || waiting != 0 {
		t.Errorf("held %d, waiting %d; want 3 (x, y, z), 0", held, waiting)
	}
	for owner, id := range map[string]string{"req-2": x, "req-3": y, "req-4": z} {
		if err := s.Lock(ctx, id, owner, time.Now()); err != nil {
			t.Errorf("%s does not hold its lock: %v", owner, err)
		}
	}
	s.ReleaseAll("req-2")
	s.ReleaseAll("req-3")
	s.ReleaseAll("req-4")
	s.ReleaseAll("req-5") // owns nothing: no-op
}

func TestCloseAbandonsWaiters(t *testing.T) {
	s := newTestStore(t, Options{})
	q := queued(s)
	id := testID(1)
	s.Lock(context.Background(), id, "a", noDeadline())
	c := lockAsync(s, context.Background(), id, "b", noDeadline())
	recv(t, q, "queued Lock")
	s.Close()
	if err := recv(t, c, "Lock result"); !errors.Is(err, ErrClosed) {
		t.Errorf("waiting Lock when the store closed = %v, want ErrClosed", err)
	}
	s.Unlock(id, "a")
}

// TestCounter is the lost-update test: 50 goroutines, 20 increments each,
// of one counter under Lock/Load/Save/Unlock, each increment its own
// owner, like a request.
func TestCounter(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	id := testID(42)
	var wg sync.WaitGroup
	var inside atomic.Int32
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				owner := fmt.Sprintf("req-%d-%d", g, i)
				if err := s.Lock(ctx, id, owner, time.Now().Add(waitTimeout)); err != nil {
					t.Error(err)
					return
				}
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d owners inside the lock at once", n)
				}
				n := 0
				r, err := s.Load(ctx, id)
				switch {
				case err == nil:
					n, err = strconv.Atoi(string(r.Data))
				case errors.Is(err, ErrNotFound):
					err = nil
				}
				if err == nil {
					err = s.Save(ctx, newRecord(id, strconv.Itoa(n+1), time.Hour))
				}
				if err != nil {
					t.Error(err)
				}
				inside.Add(-1)
				if i%2 == 0 {
					s.Unlock(id, owner)
				} else {
					s.ReleaseAll(owner) // the end of the request does it
				}
			}
		}()
	}
	wg.Wait()
	r, err := s.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Data) != "1000" {
		t.Errorf("counter = %s after 50 x 20 increments, want 1000", r.Data)
	}
}

// TestLockStress mixes waits that succeed, time out and are released
// under -race, checking that no two owners ever hold one lock.
func TestLockStress(t *testing.T) {
	s := newTestStore(t, Options{})
	ids := []string{testID(1), testID(2), testID(3)}
	var inside [3]atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				owner := fmt.Sprintf("g%d-%d", g, i)
				k := (g + i) % len(ids)
				ctx, cancel := context.WithCancel(context.Background())
				if i%7 == 0 {
					cancel()
				}
				deadline := time.Now().Add(time.Duration(i%4) * time.Millisecond)
				err := s.Lock(ctx, ids[k], owner, deadline)
				cancel()
				if err != nil {
					if !errors.Is(err, ErrLockTimeout) {
						t.Errorf("Lock: %v", err)
					}
					continue
				}
				if n := inside[k].Add(1); n != 1 {
					t.Errorf("%d owners hold %s at once", n, ids[k])
				}
				// Re-entry, and a second lock, both released by ReleaseAll.
				s.Lock(context.Background(), ids[k], owner, time.Time{})
				inside[k].Add(-1)
				s.ReleaseAll(owner)
			}
		}()
	}
	wg.Wait()
}

// TestLockName: named locks (mod_python's _apache._global_lock) exclude
// other owners, never collide with a session id's lock, answer a "try" (a
// deadline already past) at once, and go with ReleaseAll.
func TestLockName(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, Options{})
	if err := s.LockName(ctx, "1", "req-1", noDeadline()); err != nil {
		t.Fatalf("LockName: %v", err)
	}
	// A session whose id is the same text is another lock.
	if err := s.Lock(ctx, testID(1), "req-2", time.Now()); err != nil {
		t.Fatalf("Lock of a session while a name is held: %v", err)
	}
	s.Unlock(testID(1), "req-2")
	if err := s.LockName(ctx, "1", "req-2", time.Now()); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("LockName by another owner with a past deadline = %v, want ErrLockTimeout", err)
	}
	if err := s.LockName(ctx, "1", "req-1", time.Now()); err != nil {
		t.Fatalf("LockName again by its owner: %v", err)
	}
	waiting := queued(s)
	got := make(chan error, 1)
	go func() { got <- s.LockName(ctx, "1", "req-2", noDeadline()) }()
	recv(t, waiting, "waiter")
	s.ReleaseAll("req-1")
	if err := recv(t, got, "LockName result"); err != nil {
		t.Fatalf("LockName after the holder's ReleaseAll: %v", err)
	}
	s.UnlockName("1", "req-2")
	if held, waiting := s.Locks(); held != 0 || waiting != 0 {
		t.Errorf("locks held, waiting = %d, %d; want 0, 0", held, waiting)
	}
}
