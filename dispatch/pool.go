// This file holds the worker pool of one mod_python interpreter name: workers
// are started on demand up to a bound, handed to one request at a time,
// replaced when they die, and reaped when idle.

package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrPoolClosed is returned by get after the pool was closed (daemon
// shutting down or the interpreter's pool retired).
var ErrPoolClosed = errors.New("worker pool closed")

// ErrQueueTimeout is returned by get when no worker became free within the
// queue timeout (every worker of the interpreter busy).
var ErrQueueTimeout = errors.New("no worker free")

// Pool is the set of worker processes of one interpreter name
// (mod_python.md §1.8): requests with different interpreter names never share
// Python module state, so each name has its own processes.
type Pool struct {
	name    string
	spec    *workerSpec
	opts    *Options
	minIdle func() int // idle workers the reaper keeps

	mu      sync.Mutex // guards everything below
	idle    []*worker  // LIFO: the most recently used worker is the warmest
	live    int        // started or starting workers, idle or busy
	waiters []chan getResult
	nextID  int
	closed  bool
	all     map[*worker]struct{}
	epoch   int // workers started in an older epoch are being replaced (recycle)

	done chan struct{} // closed by close; stops the reaper
	wg   sync.WaitGroup
}

type getResult struct {
	w   *worker
	err error
}

func newPool(name string, spec *workerSpec, opts *Options, minIdle func() int) *Pool {
	p := &Pool{name: name, spec: spec, opts: opts, minIdle: minIdle, all: make(map[*worker]struct{}), done: make(chan struct{})}
	if opts.IdleTimeout > 0 {
		p.wg.Add(1)
		go p.reaper()
	}
	return p
}

// get returns a worker for one request, starting one if the pool is below
// its bound, or waiting up to timeout (0: no limit) for one to be given
// back. The common case, an idle worker, allocates nothing.
func (p *Pool) get(timeout time.Duration) (*worker, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	for len(p.idle) > 0 {
		w := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if w.alive() {
			p.mu.Unlock()
			return w, nil
		}
		p.forgetLocked(w)
	}
	if p.live < p.opts.MaxWorkers {
		p.live++
		id := p.nextID
		p.nextID++
		p.mu.Unlock()
		w, err := p.start(id)
		if err != nil {
			p.mu.Lock()
			p.live--
			p.mu.Unlock()
			return nil, err
		}
		return w, nil
	}
	ch := make(chan getResult, 1)
	p.waiters = append(p.waiters, ch)
	p.mu.Unlock()

	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case r := <-ch:
		return r.w, r.err
	case <-expired:
		p.mu.Lock()
		for i, c := range p.waiters {
			if c == ch {
				p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
		// A worker may have been handed over meanwhile: give it back.
		select {
		case r := <-ch:
			if r.w != nil {
				p.put(r.w, true)
			}
		default:
		}
		return nil, fmt.Errorf("waiting for a worker of %q: %w after %v", p.name, ErrQueueTimeout, timeout)
	}
}

func (p *Pool) start(id int) (*worker, error) {
	w, err := startWorker(p.spec, id)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.all[w] = struct{}{}
	w.epoch = p.epoch
	closed := p.closed
	p.mu.Unlock()
	if closed {
		w.stop(p.opts.StopGrace)
		return nil, ErrPoolClosed
	}
	return w, nil
}

// put gives a worker back after a request. A worker that is not healthy (it
// died, timed out, or broke the protocol) is killed and, if requests are
// waiting, replaced.
func (p *Pool) put(w *worker, healthy bool) {
	if healthy && p.opts.MaxRequestsPerWorker > 0 && w.served >= p.opts.MaxRequestsPerWorker {
		healthy = false
		go w.stop(p.opts.StopGrace)
	}
	if !healthy {
		if w.alive() {
			w.kill()
		}
		p.mu.Lock()
		p.forgetLocked(w)
		p.mu.Unlock()
		p.refill()
		return
	}
	w.lastUsed = time.Now()
	p.mu.Lock()
	if p.closed {
		p.forgetLocked(w)
		p.mu.Unlock()
		go w.stop(p.opts.StopGrace)
		return
	}
	if w.retire {
		// recycle started its replacement while it served its request:
		// retire it now that the request is done.
		p.forgetLocked(w)
		p.mu.Unlock()
		go w.stop(p.opts.StopGrace)
		p.refill()
		return
	}
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		ch <- getResult{w: w}
		return
	}
	p.idle = append(p.idle, w)
	p.mu.Unlock()
}

// refill starts a worker for the first waiter after one was lost.
func (p *Pool) refill() {
	p.mu.Lock()
	if p.closed || len(p.waiters) == 0 || p.live >= p.opts.MaxWorkers {
		p.mu.Unlock()
		return
	}
	ch := p.waiters[0]
	p.waiters = p.waiters[1:]
	p.live++
	id := p.nextID
	p.nextID++
	p.mu.Unlock()
	go func() {
		w, err := p.start(id)
		if err != nil {
			p.mu.Lock()
			p.live--
			p.mu.Unlock()
		}
		ch <- getResult{w: w, err: err}
	}()
}

// forgetLocked drops a dead or retired worker from the books. p.mu is held.
func (p *Pool) forgetLocked(w *worker) {
	if _, ok := p.all[w]; !ok {
		return
	}
	delete(p.all, w)
	p.live--
}

// warm starts n workers now, so the first requests do not pay for Python's
// start-up.
func (p *Pool) warm(n int) error {
	var ws []*worker
	var firstErr error
	for i := 0; i < n; i++ {
		w, err := p.get(0)
		if err != nil {
			firstErr = err
			break
		}
		ws = append(ws, w)
	}
	for _, w := range ws {
		p.put(w, true)
	}
	return firstErr
}

// reaper stops workers idle longer than IdleTimeout, keeping MinIdle.
func (p *Pool) reaper() {
	defer p.wg.Done()
	t := time.NewTicker(p.opts.IdleTimeout / 2)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		cutoff := time.Now().Add(-p.opts.IdleTimeout)
		var stale []*worker
		minIdle := p.minIdle()
		p.mu.Lock()
		keep := p.idle[:0]
		for i, w := range p.idle {
			// idle is ordered oldest first; keep the MinIdle most recent.
			if len(p.idle)-i > minIdle && w.lastUsed.Before(cutoff) {
				stale = append(stale, w)
				p.forgetLocked(w)
				continue
			}
			keep = append(keep, w)
		}
		p.idle = keep
		p.mu.Unlock()
		for _, w := range stale {
			w.log.Debug("stopping idle worker")
			w.stop(p.opts.StopGrace)
		}
	}
}

// close stops every worker: idle ones now, busy ones when their request
// ends (put stops them), or after twice StopGrace at most. Each runs its
// cleanups (SHUTDOWN) and is killed if it does not exit within StopGrace.
// It returns when all have exited.
func (p *Pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return
	}
	p.closed = true
	close(p.done)
	waiters := p.waiters
	p.waiters = nil
	idle := p.idle
	all := make([]*worker, 0, len(p.all))
	for w := range p.all {
		all = append(all, w)
	}
	p.idle = nil
	p.mu.Unlock()
	for _, ch := range waiters {
		ch <- getResult{err: ErrPoolClosed}
	}
	var wg sync.WaitGroup
	for _, w := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if slices.Contains(idle, w) {
				w.stop(p.opts.StopGrace)
				return
			}
			// Busy: its request goroutine reads from it until END, then
			// put stops it. Only a request outliving the wait is cut short.
			t := time.NewTimer(2 * p.opts.StopGrace)
			defer t.Stop()
			select {
			case <-w.exited:
			case <-t.C:
				w.log.Warn("worker still busy when its pool closed; killing it")
				w.kill()
				<-w.exited
			}
		}()
	}
	wg.Wait()
	p.mu.Lock()
	for _, w := range all {
		p.forgetLocked(w)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// recycle replaces every worker that exists when it is called, one at a
// time: a new worker is started and given to the pool (or to a waiting
// request) before one old worker is stopped, if idle, or marked to retire
// when its request ends. The pool keeps its size and never exceeds
// MaxWorkers by more than the one worker starting. It returns when every old
// worker has exited, or with ctx's error. If a new worker cannot start, the
// remaining old ones keep serving and the error is returned.
func (p *Pool) recycle(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrPoolClosed
	}
	p.epoch++
	epoch := p.epoch
	var old []*worker
	for w := range p.all {
		if w.epoch < epoch {
			old = append(old, w)
		}
	}
	p.mu.Unlock()

	waitExit := func(w *worker) error {
		select {
		case <-w.exited:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("replacing workers of %q: %w", p.name, ctx.Err())
		}
	}
	for {
		p.mu.Lock()
		if p.closed || p.epoch != epoch {
			// closed, or a newer recycle took over the remaining ones
			p.mu.Unlock()
			break
		}
		var todo, retiring *worker // an old worker still to replace; one retiring
		for _, w := range old {
			if _, ok := p.all[w]; !ok {
				continue
			}
			if w.retire {
				retiring = w
			} else if todo == nil {
				todo = w
			}
		}
		if todo == nil {
			p.mu.Unlock()
			break
		}
		if p.live > p.opts.MaxWorkers && retiring != nil {
			// Replacements are already one over the bound: let a retiring
			// worker finish its request first.
			p.mu.Unlock()
			if err := waitExit(retiring); err != nil {
				return err
			}
			continue
		}
		p.live++
		id := p.nextID
		p.nextID++
		p.mu.Unlock()
		nw, err := p.start(id)
		if err != nil {
			p.mu.Lock()
			p.live--
			p.mu.Unlock()
			return fmt.Errorf("replacing workers of %q: %w", p.name, err)
		}
		p.put(nw, true)

		// The new worker serves; one old one goes: an idle one now, else
		// a busy one when its request ends.
		var victim *worker
		p.mu.Lock()
		for i, w := range p.idle {
			if w.epoch < epoch {
				victim = w
				p.idle = append(p.idle[:i], p.idle[i+1:]...)
				p.forgetLocked(w)
				break
			}
		}
		if victim == nil {
			for _, w := range old {
				if _, ok := p.all[w]; ok && !w.retire {
					w.retire = true
					break
				}
			}
		}
		p.mu.Unlock()
		if victim != nil {
			victim.stop(p.opts.StopGrace)
		}
	}
	for _, w := range old {
		if err := waitExit(w); err != nil {
			return err
		}
	}
	return nil
}

// stats reports the pool's size, for logs and tests.
func (p *Pool) stats() (live, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live, len(p.idle)
}
