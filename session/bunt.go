// This file is the Store on buntdb: one append-only file owned by the
// daemon, opened once, shrunk in the background.

package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/buntdb"
)

// Sync policies, the values of Options.Sync. What each can lose is in the
// package doc.
const (
	SyncAlways      = "always"      // fsync after every Save and Delete
	SyncEverySecond = "everysecond" // fsync once a second, when something was written
	SyncNever       = "never"       // never fsync; the kernel writes back when it likes

	// DefaultSync is the policy when Options.Sync is empty, chosen by
	// measurement (BenchmarkSave; figures in the package doc).
	DefaultSync = SyncEverySecond
)

const (
	// DefaultShrinkEvery is how often, when Options.ShrinkEvery is zero,
	// the background goroutine checks whether the file needs shrinking.
	DefaultShrinkEvery = 10 * time.Minute

	// The background goroutine shrinks when the file is at least
	// shrinkMinSize and at least shrinkGrowth times its size after the
	// last shrink (or 0 since Open): at most half of it is then live data.
	shrinkMinSize = 1 << 20
	shrinkGrowth  = 2

	// rangeChunk is how many records Range and Purge read per read
	// transaction, so that writers wait at most that long for them.
	rangeChunk = 1000
)

// Options configures Open. The zero value of every field but Path is a
// sensible default.
type Options struct {
	// Path is the database file; required. Its directory is created 0700
	// if missing, the file 0600. Path+".lock" holds the daemon's lock and
	// pid; Path+".tmp" exists while the file is being shrunk.
	Path string

	// Sync is the fsync policy: SyncAlways, SyncEverySecond or SyncNever;
	// empty means DefaultSync. Every policy keeps a saved session across a
	// crash of the daemon; they differ on a crash of the OS.
	Sync string

	// ShrinkEvery is how often the file is checked and, when it has grown
	// to twice its size after the last shrink (and at least 1 MiB),
	// rewritten without its dead entries. Zero means DefaultShrinkEvery;
	// negative turns background shrinking off (Shrink still works).
	// buntdb's own auto-shrink is always off.
	ShrinkEvery time.Duration

	// Logger receives shrink reports and background errors; nil discards.
	Logger *slog.Logger
}

// BuntStore is the Store on a buntdb file. The whole data set lives in
// memory and every change is appended to the file before the call returns.
// It is safe for concurrent use; Close it when done.
type BuntStore struct {
	db     *buntdb.DB
	path   string
	sync   string
	log    *slog.Logger
	flock  *fileLock
	locks  lockTable
	cancel context.CancelFunc
	wg     sync.WaitGroup // the shrink loop

	// shrinkMu serialises shrinks and Close; it guards lastShrink and
	// closed. Lock order: shrinkMu, then buntdb's own lock. The lock table
	// has its own mutex and never calls buntdb.
	shrinkMu   sync.Mutex
	lastShrink int64 // file size after the last shrink, 0 before the first
	closed     bool

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*BuntStore)(nil)

// Open opens (or creates) the session database at opts.Path. It fails at
// once if another process, or another Open in this one, has the database
// open, naming the holder's pid.
func Open(opts Options) (*BuntStore, error) {
	s, err := open(opts)
	if err != nil {
		return nil, fmt.Errorf("session: open %s: %w", opts.Path, err)
	}
	return s, nil
}

func open(opts Options) (*BuntStore, error) {
	if opts.Path == "" {
		return nil, errors.New("no path")
	}
	if opts.Sync == "" {
		opts.Sync = DefaultSync
	}
	var policy buntdb.SyncPolicy
	switch opts.Sync {
	case SyncAlways:
		policy = buntdb.Always
	case SyncEverySecond:
		policy = buntdb.EverySecond
	case SyncNever:
		policy = buntdb.Never
	default:
		return nil, fmt.Errorf("unknown sync policy %q (want %s, %s or %s)", opts.Sync, SyncAlways, SyncEverySecond, SyncNever)
	}
	if opts.ShrinkEvery == 0 {
		opts.ShrinkEvery = DefaultShrinkEvery
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
		return nil, err
	}
	flock, err := lockFile(opts.Path + ".lock")
	if err != nil {
		return nil, err
	}
	// buntdb creates the file 0666 (less umask); create it first, 0600.
	f, err := os.OpenFile(opts.Path, os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		flock.unlock()
		return nil, err
	}
	db, err := buntdb.Open(opts.Path)
	if err != nil {
		flock.unlock()
		return nil, err
	}
	if err := db.SetConfig(buntdb.Config{SyncPolicy: policy, AutoShrinkDisabled: true}); err != nil {
		db.Close()
		flock.unlock()
		return nil, err
	}
	s := &BuntStore{db: db, path: opts.Path, sync: opts.Sync, log: log, flock: flock}
	s.locks.init()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if opts.ShrinkEvery > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.shrinkLoop(ctx, opts.ShrinkEvery)
		}()
	}
	return s, nil
}

// dbErr turns buntdb's closed error into ErrClosed.
func dbErr(err error) error {
	if errors.Is(err, buntdb.ErrDatabaseClosed) {
		return ErrClosed
	}
	return err
}

// Load implements Store.
func (s *BuntStore) Load(ctx context.Context, id string) (*Record, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var v string
	err := s.db.View(func(tx *buntdb.Tx) error {
		var err error
		v, err = tx.Get(recordKey(id))
		return err
	})
	if errors.Is(err, buntdb.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, dbErr(err)
	}
	r, err := decodeEnvelope(id, v)
	if err != nil {
		return nil, fmt.Errorf("session %s: load: %w", id, err)
	}
	if r.Expired(time.Now()) {
		return nil, ErrNotFound
	}
	return r, nil
}

// Save implements Store. The record is appended to the file with write(2)
// before Save returns, whatever the sync policy.
func (s *BuntStore) Save(ctx context.Context, r *Record) error {
	if err := checkID(r.ID); err != nil {
		return err
	}
	if r.Timeout <= 0 {
		return fmt.Errorf("session %s: save: timeout %v is not positive", r.ID, r.Timeout)
	}
	if err := errors.Join(checkTime("created", r.Created), checkTime("accessed", r.Accessed)); err != nil {
		return fmt.Errorf("session %s: save: %w", r.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	expires := r.Expires()
	if !expires.After(now) {
		return s.Delete(ctx, r.ID)
	}
	// buntdb writes the expiry to the file in whole seconds, rounded down;
	// rounding up here keeps it from ever dropping a record before
	// Accessed+Timeout after a reopen. Load checks the exact time.
	ttl := expires.Truncate(time.Second).Add(time.Second).Sub(now)
	v := string(appendEnvelope(make([]byte, 0, envelopeHeader+len(r.Data)), r))
	err := s.db.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(recordKey(r.ID), v, &buntdb.SetOptions{Expires: true, TTL: ttl})
		return err
	})
	if err != nil {
		return fmt.Errorf("session %s: save: %w", r.ID, dbErr(err))
	}
	return nil
}

// Delete implements Store.
func (s *BuntStore) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *buntdb.Tx) error {
		_, err := tx.Delete(recordKey(id))
		if errors.Is(err, buntdb.ErrNotFound) {
			// Unknown, or deleted now but already past buntdb's expiry.
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("session %s: delete: %w", id, dbErr(err))
	}
	return nil
}

// Lock implements Store.
func (s *BuntStore) Lock(ctx context.Context, id, owner string, deadline time.Time) error {
	if err := checkID(id); err != nil {
		return err
	}
	return s.locks.lock(ctx, id, owner, deadline)
}

// Unlock implements Store.
func (s *BuntStore) Unlock(id, owner string) { s.locks.unlock(id, owner) }

// namedLock keeps the locks LockName takes apart from session ids, which
// never hold a space.
const namedLock = "name "

// LockName implements Store.
func (s *BuntStore) LockName(ctx context.Context, name, owner string, deadline time.Time) error {
	return s.locks.lock(ctx, namedLock+name, owner, deadline)
}

// UnlockName implements Store.
func (s *BuntStore) UnlockName(name, owner string) { s.locks.unlock(namedLock+name, owner) }

// ReleaseAll implements Store.
func (s *BuntStore) ReleaseAll(owner string) { s.locks.releaseAll(owner) }

// Locks reports how many session locks are held and how many Lock calls
// are waiting; tests check both are zero when no request is running.
func (s *BuntStore) Locks() (held, waiting int) { return s.locks.counts() }

// Purge implements Store. buntdb also drops records on its own once a
// second after their expiry (rounded up to a whole second), so Purge
// usually finds only those that expired within the last second or two.
func (s *BuntStore) Purge(ctx context.Context) (int, error) {
	return s.purge(ctx, time.Now())
}

// purge deletes the records expired at now, a chunk at a time: expired
// keys are found under a read transaction, then deleted, each checked
// again, under a short write transaction.
func (s *BuntStore) purge(ctx context.Context, now time.Time) (int, error) {
	n := 0
	var expired []string
	err := s.chunks(ctx, func(tx *buntdb.Tx, pivot string) (string, error) {
		expired = expired[:0]
		next, err := ascend(tx, pivot, func(key, v string) {
			if accessed, timeout, err := envelopeExpiry(v); err == nil && now.After(accessed.Add(timeout)) {
				expired = append(expired, key)
			}
		})
		return next, err
	}, func() error {
		if len(expired) == 0 {
			return nil
		}
		return s.db.Update(func(tx *buntdb.Tx) error {
			for _, key := range expired {
				v, err := tx.Get(key, true)
				if err != nil {
					continue // gone meanwhile
				}
				if accessed, timeout, err := envelopeExpiry(v); err != nil || !now.After(accessed.Add(timeout)) {
					continue // saved again meanwhile
				}
				if _, err := tx.Delete(key); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
					return err
				}
				n++
			}
			return nil
		})
	})
	if errors.Is(err, ErrClosed) {
		return n, ErrClosed
	}
	if err != nil {
		return n, fmt.Errorf("session: purge: %w", err)
	}
	return n, nil
}

// Range implements Store. Records whose value cannot be decoded are
// reported as an error after the others have been seen.
func (s *BuntStore) Range(ctx context.Context, fn func(Record) bool) error {
	var recs []*Record
	var bad []error
	stop := false
	err := s.chunks(ctx, func(tx *buntdb.Tx, pivot string) (string, error) {
		recs = recs[:0]
		now := time.Now()
		return ascend(tx, pivot, func(key, v string) {
			id := strings.TrimPrefix(key, keyPrefix)
			r, err := decodeEnvelope(id, v)
			switch {
			case err != nil:
				bad = append(bad, fmt.Errorf("session %s: %w", id, err))
			case !r.Expired(now):
				recs = append(recs, r)
			}
		})
	}, func() error {
		for _, r := range recs {
			if !fn(*r) {
				stop = true
				return errStop
			}
		}
		return nil
	})
	if stop {
		err = nil
	}
	if errors.Is(err, ErrClosed) {
		return ErrClosed
	}
	if err = errors.Join(append([]error{err}, bad...)...); err != nil {
		return fmt.Errorf("session: range: %w", err)
	}
	return nil
}

var errStop = errors.New("stop")

// chunks walks the records rangeChunk at a time: read runs under a read
// transaction from pivot and returns the next pivot ("" at the end), then
// after runs with no transaction open.
func (s *BuntStore) chunks(ctx context.Context, read func(tx *buntdb.Tx, pivot string) (string, error), after func() error) error {
	pivot := keyPrefix
	for pivot != "" {
		if err := ctx.Err(); err != nil {
			return err
		}
		var next string
		err := s.db.View(func(tx *buntdb.Tx) error {
			var err error
			next, err = read(tx, pivot)
			return err
		})
		if err != nil {
			return dbErr(err)
		}
		if err := after(); err != nil {
			return dbErr(err)
		}
		pivot = next
	}
	return nil
}

// ascend calls fn for up to rangeChunk records from pivot on and returns
// the key to continue from, or "" when there are no more.
func ascend(tx *buntdb.Tx, pivot string, fn func(key, v string)) (string, error) {
	next, n := "", 0
	err := tx.AscendGreaterOrEqual("", pivot, func(key, v string) bool {
		if !strings.HasPrefix(key, keyPrefix) {
			return false
		}
		if n == rangeChunk {
			next = key
			return false
		}
		fn(key, v)
		n++
		return true
	})
	return next, err
}

// Shrink rewrites the file with only the live records, as the background
// goroutine does when the file has grown; the CLI and tests call it
// directly. Readers and writers are blocked only briefly (buntdb copies
// the records in chunks and waits a quarter second before it starts).
func (s *BuntStore) Shrink() error {
	s.shrinkMu.Lock()
	defer s.shrinkMu.Unlock()
	if err := s.shrink(); err != nil {
		return fmt.Errorf("session: shrink %s: %w", s.path, dbErr(err))
	}
	return nil
}

// shrink does the work of Shrink; s.shrinkMu must be held.
func (s *BuntStore) shrink() error {
	if s.closed {
		return ErrClosed
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return err
	}
	// buntdb writes the new file to path+".tmp" with os.Create, which
	// would make it 0666 less umask, and renames it over the database.
	// Creating it first keeps the database's mode.
	tmp, err := os.OpenFile(s.path+".tmp", os.O_RDWR|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err == nil {
		err = tmp.Chmod(fi.Mode().Perm())
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	if err := s.db.Shrink(); err != nil {
		return err
	}
	// buntdb renames the new file into place without an fsync of it or of
	// the directory; an OS crash right after could leave an empty or old
	// file. Sync both now, unless the policy says never.
	if s.sync != SyncNever {
		if err := syncPath(s.path); err != nil {
			return err
		}
		if err := syncPath(filepath.Dir(s.path)); err != nil {
			return err
		}
	}
	fi, err = os.Stat(s.path)
	if err != nil {
		return err
	}
	s.lastShrink = fi.Size()
	return nil
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// shrinkLoop checks the file's size every period and shrinks it when it
// has grown enough, until ctx ends.
func (s *BuntStore) shrinkLoop(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.shrinkMu.Lock()
		fi, err := os.Stat(s.path)
		if err == nil && (fi.Size() < shrinkMinSize || fi.Size() < shrinkGrowth*s.lastShrink) {
			s.shrinkMu.Unlock()
			continue
		}
		start := time.Now()
		if err == nil {
			err = s.shrink()
		}
		after := s.lastShrink
		s.shrinkMu.Unlock()
		if errors.Is(dbErr(err), ErrClosed) {
			return
		}
		if err != nil {
			s.log.Error("session database shrink failed", "file", s.path, "err", err)
			continue
		}
		s.log.Info("session database shrunk", "file", s.path, "before", fi.Size(), "after", after, "took", time.Since(start).Round(time.Millisecond))
	}
}

// Close stops the shrink goroutine, fails waiting Lock calls with
// ErrClosed, closes the database (with an fsync) and releases the file
// lock. It is idempotent. buntdb's own background goroutine notices the
// close on its next one-second tick and exits then.
func (s *BuntStore) Close() error {
	s.closeOnce.Do(func() {
		s.locks.close()
		s.cancel()
		s.wg.Wait()
		// Shrink holds shrinkMu; taking it waits for one in progress.
		s.shrinkMu.Lock()
		s.closed = true
		err := s.db.Close()
		s.shrinkMu.Unlock()
		s.closeErr = errors.Join(err, s.flock.unlock())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("session: close %s: %w", s.path, s.closeErr)
		}
	})
	return s.closeErr
}
