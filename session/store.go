// This file holds what every store shares: the Record, the Store interface
// the dispatcher and the CLI program against, the errors they branch on, and
// the session id check.

package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Record is one session as the store keeps it. Data is opaque to the store:
// it is the pickled dict mod_python's BaseSession.save builds, kept byte for
// byte so records imported from mod_python FileSession and DbmSession files
// stay valid.
type Record struct {
	ID       string        // 32 lowercase hex digits, see ValidID
	Data     []byte        // pickled dict, never interpreted here
	Created  time.Time     // when the session was created
	Accessed time.Time     // last access as saved; the session expires at Accessed+Timeout
	Timeout  time.Duration // lifetime after Accessed; must be positive
}

// Expires reports when r expires: Accessed+Timeout.
func (r *Record) Expires() time.Time { return r.Accessed.Add(r.Timeout) }

// Expired reports whether r has expired at now (mod_python's
// BaseSession.load: "if (time.time() - self._accessed) > self._timeout").
func (r *Record) Expired(now time.Time) bool { return now.After(r.Expires()) }

var (
	// ErrNotFound is returned by Load when the session is unknown or has
	// expired (Accessed+Timeout is in the past).
	ErrNotFound = errors.New("session: not found")

	// ErrLockTimeout is returned, wrapped in a *LockError, by Lock when the
	// lock was not acquired before the deadline or before the context ended.
	ErrLockTimeout = errors.New("session: lock wait timed out")

	// ErrBadID is returned, wrapped with the id, by every method that takes
	// an id which is not 32 lowercase hex digits (mod_python's format,
	// ^[0-9a-f]{32}$).
	ErrBadID = errors.New("malformed session id (want 32 lowercase hex digits)")

	// ErrClosed is returned by every method of a store after Close, and by
	// a Lock that was still waiting when Close was called.
	ErrClosed = errors.New("session: store closed")
)

// LockError reports a session lock that was not acquired in time. Its
// message is the one the worker wire promises: "session <id>: lock not
// acquired within <wait>". It matches ErrLockTimeout with errors.Is, and the
// context's error too when the context ended the wait.
type LockError struct {
	ID     string
	Waited time.Duration // how long Lock waited, rounded to milliseconds
	Err    error         // ctx.Err() when the context ended the wait, else nil
}

func (e *LockError) Error() string {
	s := fmt.Sprintf("session %s: lock not acquired within %v", e.ID, e.Waited)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrLockTimeout and, when the context ended the wait, its error.
func (e *LockError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrLockTimeout, e.Err}
	}
	return []error{ErrLockTimeout}
}

// Store keeps sessions and their locks. It is small on purpose, so that a
// networked store (Redis, for several hosts behind one balancer) can
// implement it later without changes on the Python side. All methods are
// safe for concurrent use.
//
// Locks are independent of the data: Load, Save and Delete never take or
// require a lock (mod_python's lock=0 mode); a caller that wants
// read-modify-write safety brackets them with Lock and Unlock. An owner is
// whoever holds locks, in mpgate the request; owner strings must not be
// reused while any Lock call for them is in progress.
type Store interface {
	// Load returns the session id, or ErrNotFound when it is unknown or
	// expired.
	Load(ctx context.Context, id string) (*Record, error)

	// Save stores r, replacing any record with its id, to expire at
	// r.Accessed+r.Timeout. A record already expired is deleted instead.
	// When Save returns nil the record survives a crash of the daemon.
	Save(ctx context.Context, r *Record) error

	// Delete removes the session id; deleting an unknown id is not an error.
	Delete(ctx context.Context, id string) error

	// Lock takes the lock of session id for owner, waiting in FIFO order
	// behind other owners. It is re-entrant: an owner that already holds
	// the lock gets it again at once, and one Unlock releases it. Lock
	// returns a *LockError (errors.Is ErrLockTimeout) when deadline passes
	// or ctx ends first; a zero deadline means no deadline but ctx's.
	Lock(ctx context.Context, id, owner string, deadline time.Time) error

	// Unlock releases the lock of session id if owner holds it, handing it
	// to the longest waiter; otherwise it does nothing.
	Unlock(id, owner string)

	// LockName and UnlockName are Lock and Unlock for a lock the
	// application names (mod_python's _apache._global_lock), kept apart
	// from the session ids' locks; ReleaseAll releases them too.
	LockName(ctx context.Context, name, owner string, deadline time.Time) error
	UnlockName(name, owner string)

	// ReleaseAll releases every lock owner holds and abandons every Lock
	// call of owner still waiting (it returns an error). The dispatcher
	// calls it when a request ends, however it ends.
	ReleaseAll(owner string)

	// Purge deletes the sessions that have expired and returns how many.
	Purge(ctx context.Context) (int, error)

	// Range calls fn for every live session, in id order, until fn
	// returns false. fn runs without any store lock held, so it may call
	// the store; sessions saved or deleted meanwhile may or may not be seen.
	Range(ctx context.Context, fn func(Record) bool) error

	// Close releases the store. Lock calls still waiting return ErrClosed.
	// Close is idempotent.
	Close() error
}

// ValidID reports whether id has mod_python's session id format:
// 32 lowercase hex digits (mod_python Session.py, _new_sid and
// BaseSession.__init__'s check).
func ValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// checkID returns nil for a valid id, else ErrBadID wrapped with the id
// (quoted, and cut at 64 bytes with its length said, since it is untrusted).
func checkID(id string) error {
	if ValidID(id) {
		return nil
	}
	if len(id) > 64 {
		return fmt.Errorf("session %q... (%d bytes): %w", id[:64], len(id), ErrBadID)
	}
	return fmt.Errorf("session %q: %w", id, ErrBadID)
}
