// This file is the session lock table: one lock per session id (no hash
// buckets, unlike mod_python's seven mutexes), owned by a request, held in
// memory only. A store embeds a lockTable; the data never depends on it.

package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errReleased is returned by a Lock still waiting when ReleaseAll(owner)
// ran: its request is over, so nobody wants the lock any more.
var errReleased = errors.New("lock wait abandoned: its owner's request ended")

// lockTable is a set of FIFO-fair, re-entrant, owner-tagged locks keyed by
// session id. The zero value is not usable; call init.
type lockTable struct {
	mu      sync.Mutex                      // guards everything below
	locks   map[string]*lockState           // session id -> its lock, present while held
	held    map[string]map[string]struct{}  // owner -> ids it holds
	waiting map[string]map[*waiter]struct{} // owner -> its Lock calls still waiting
	closed  bool

	// waitHook, when set (by tests, before any Lock), is called once a
	// Lock call has joined a queue, without lt.mu held.
	waitHook func(id, owner string)
}

// lockState is one held lock.
type lockState struct {
	owner   string
	waiters []*waiter // FIFO; the first gets the lock on release
}

// waiter is one Lock call waiting. ready is closed when its fate is
// decided under lockTable.mu: granted, or err set.
type waiter struct {
	id, owner string
	ready     chan struct{}
	granted   bool
	err       error // errReleased or ErrClosed when abandoned
}

func (lt *lockTable) init() {
	lt.locks = make(map[string]*lockState)
	lt.held = make(map[string]map[string]struct{})
	lt.waiting = make(map[string]map[*waiter]struct{})
}

// lock implements Store.Lock for an id already checked.
func (lt *lockTable) lock(ctx context.Context, id, owner string, deadline time.Time) error {
	start := time.Now()
	lt.mu.Lock()
	if lt.closed {
		lt.mu.Unlock()
		return ErrClosed
	}
	ls := lt.locks[id]
	if ls == nil {
		lt.locks[id] = &lockState{owner: owner}
		lt.addHeld(owner, id)
		lt.mu.Unlock()
		return nil
	}
	if ls.owner == owner {
		lt.mu.Unlock()
		return nil
	}
	if err := ctx.Err(); err != nil {
		lt.mu.Unlock()
		return &LockError{ID: id, Err: err}
	}
	if !deadline.IsZero() && !deadline.After(start) {
		lt.mu.Unlock()
		return &LockError{ID: id}
	}
	w := &waiter{id: id, owner: owner, ready: make(chan struct{})}
	ls.waiters = append(ls.waiters, w)
	ws := lt.waiting[owner]
	if ws == nil {
		ws = make(map[*waiter]struct{})
		lt.waiting[owner] = ws
	}
	ws[w] = struct{}{}
	lt.mu.Unlock()
	if lt.waitHook != nil {
		lt.waitHook(id, owner)
	}

	var expired <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(deadline.Sub(start))
		defer t.Stop()
		expired = t.C
	}
	var timedOut bool
	var ctxErr error
	select {
	case <-w.ready:
	case <-expired:
		timedOut = true
	case <-ctx.Done():
		ctxErr = ctx.Err()
		// A ctx that ends at the deadline (the dispatcher's does) is the
		// deadline: report it as such.
		if errors.Is(ctxErr, context.DeadlineExceeded) && !deadline.IsZero() && !time.Now().Before(deadline) {
			timedOut, ctxErr = true, nil
		}
	}

	lt.mu.Lock()
	defer lt.mu.Unlock()
	switch {
	case w.granted:
		// Granted as the timer or ctx fired: the lock is ours, keep it.
		return nil
	case w.err == ErrClosed:
		return ErrClosed
	case w.err != nil:
		return fmt.Errorf("session %s: lock not acquired: %w", id, w.err)
	}
	lt.unqueue(w)
	waited := time.Since(start)
	if timedOut {
		waited = deadline.Sub(start)
	}
	return &LockError{ID: id, Waited: waited.Round(time.Millisecond), Err: ctxErr}
}

// unlock implements Store.Unlock.
func (lt *lockTable) unlock(id, owner string) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if ls := lt.locks[id]; ls != nil && ls.owner == owner {
		lt.release(id, ls)
	}
}

// releaseAll implements Store.ReleaseAll.
func (lt *lockTable) releaseAll(owner string) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for w := range lt.waiting[owner] {
		lt.abandon(w, errReleased)
	}
	for id := range lt.held[owner] {
		lt.release(id, lt.locks[id])
	}
}

// close makes every waiting Lock return ErrClosed and every later one fail.
func (lt *lockTable) close() {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	lt.closed = true
	for _, ws := range lt.waiting {
		for w := range ws {
			lt.abandon(w, ErrClosed)
		}
	}
}

// release frees the lock ls on id held by ls.owner, handing it to the first
// waiter if there is one. lt.mu must be held.
func (lt *lockTable) release(id string, ls *lockState) {
	lt.dropHeld(ls.owner, id)
	if len(ls.waiters) == 0 {
		delete(lt.locks, id)
		return
	}
	w := ls.waiters[0]
	ls.waiters[0] = nil
	ls.waiters = ls.waiters[1:]
	lt.dropWaiter(w)
	ls.owner = w.owner
	lt.addHeld(w.owner, id)
	w.granted = true
	close(w.ready)
}

// abandon ends waiter w with err, removing it from its queue. lt.mu must be held.
func (lt *lockTable) abandon(w *waiter, err error) {
	lt.unqueue(w)
	w.err = err
	close(w.ready)
}

// unqueue removes waiter w from its lock's queue and its owner's set.
// lt.mu must be held.
func (lt *lockTable) unqueue(w *waiter) {
	lt.dropWaiter(w)
	if ls := lt.locks[w.id]; ls != nil {
		for i, x := range ls.waiters {
			if x == w {
				ls.waiters = append(ls.waiters[:i], ls.waiters[i+1:]...)
				break
			}
		}
	}
}

func (lt *lockTable) addHeld(owner, id string) {
	ids := lt.held[owner]
	if ids == nil {
		ids = make(map[string]struct{})
		lt.held[owner] = ids
	}
	ids[id] = struct{}{}
}

func (lt *lockTable) dropHeld(owner, id string) {
	if ids := lt.held[owner]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(lt.held, owner)
		}
	}
}

func (lt *lockTable) dropWaiter(w *waiter) {
	if ws := lt.waiting[w.owner]; ws != nil {
		delete(ws, w)
		if len(ws) == 0 {
			delete(lt.waiting, w.owner)
		}
	}
}

// counts returns how many locks are held and how many Lock calls wait.
func (lt *lockTable) counts() (held, waiting int) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for _, ws := range lt.waiting {
		waiting += len(ws)
	}
	return len(lt.locks), waiting
}
