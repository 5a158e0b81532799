// This file serves mod_python sessions to the workers: the session.* CALL
// methods of the worker wire, backed by a session.Store the daemon owns
// (workers never open the database). A request owns the session locks it
// takes; whatever ends the request (END, an exception, a killed worker, a
// timeout) releases them. The Python side is pyrt/mod_python/Session.py.
//
//	session.lock    {id}                                   -> {}
//	session.unlock  {id}                                   -> {}
//	session.load    {id[, lock=1]}                         -> {found, data, created, accessed, timeout}
//	                                                          or {found=0[, imported=1]}
//	session.save    {id, data, created, accessed, timeout} -> {}
//	session.delete  {id}                                   -> {}
//	session.import  {id, data, created, accessed, timeout, source}
//	                                                       -> {found, data, created, accessed, timeout, imported}
//	session.cleanup {}                                     -> {purged}
//	session.mutex.lock   {name[, try=1]}                   -> {locked}
//	session.mutex.unlock {name}                            -> {}
//
// Times are unix seconds (decimal), timeout whole seconds; data is the
// pickled dict mod_python's BaseSession.save builds, kept as bytes.
//
// A miss of session.load says imported=1 when the store took that id over
// from mod_python before (session.Importer): the worker then does not look
// in mod_python's store. session.import is the worker handing over a
// session it read from mod_python's FileSession or DbmSession store after
// a miss: found=1 with the record the store holds now (imported=1 when it
// is the one handed over, 0 when a record was there first), found=0 when
// the id was imported before and has since gone, or the copy has expired.
// A present session costs nothing of this: only misses look further.

package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/mpgate/mpgate/session"
)

// DefaultSessionLockWait bounds the wait for a session lock another request
// holds (mod_python waited forever).
const DefaultSessionLockWait = 60 * time.Second

// registerSessions installs the session.* CALL methods for st.
func (s *Server) registerSessions(st session.Store) {
	owner := func(c *Call) string { return "req-" + strconv.FormatUint(c.RequestID, 10) }
	id := func(c *Call) string { return Get(c.Args, "id") }
	// wait takes a lock with take, bounded by SessionLockWait and the
	// request's deadline.
	wait := func(c *Call, take func(ctx context.Context, deadline time.Time) error) error {
		deadline := time.Now().Add(s.opts.SessionLockWait)
		if !c.Deadline.IsZero() && c.Deadline.Before(deadline) {
			deadline = c.Deadline
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		return take(ctx, deadline)
	}
	lock := func(c *Call) error {
		return wait(c, func(ctx context.Context, deadline time.Time) error { return st.Lock(ctx, id(c), owner(c), deadline) })
	}
	// session.mutex.*: mod_python's _apache._global_lock/_trylock/_unlock,
	// one lock per name, owned by the request like a session's.
	s.HandleCall("session.mutex.lock", func(c *Call) ([]KV, error) {
		name := Get(c.Args, "name")
		if Get(c.Args, "try") == "1" {
			err := st.LockName(context.Background(), name, owner(c), time.Now())
			if errors.Is(err, session.ErrLockTimeout) {
				return []KV{{"locked", "0"}}, nil
			}
			if err != nil {
				return nil, err
			}
			return []KV{{"locked", "1"}}, nil
		}
		err := wait(c, func(ctx context.Context, deadline time.Time) error { return st.LockName(ctx, name, owner(c), deadline) })
		if err != nil {
			return nil, err
		}
		return []KV{{"locked", "1"}}, nil
	})
	s.HandleCall("session.mutex.unlock", func(c *Call) ([]KV, error) {
		st.UnlockName(Get(c.Args, "name"), owner(c))
		return nil, nil
	})
	s.HandleCall("session.lock", func(c *Call) ([]KV, error) {
		return nil, lock(c)
	})
	s.HandleCall("session.unlock", func(c *Call) ([]KV, error) {
		st.Unlock(id(c), owner(c))
		return nil, nil
	})
	s.HandleCall("session.load", func(c *Call) ([]KV, error) {
		// lock=1: take the lock first, in the same round trip (what
		// Session(req) does for an existing session).
		if Get(c.Args, "lock") == "1" {
			if err := lock(c); err != nil {
				return nil, err
			}
		}
		r, err := st.Load(context.Background(), id(c))
		if errors.Is(err, session.ErrNotFound) {
			if imp, ok := st.(session.Importer); ok {
				if was, err := imp.Imported(context.Background(), id(c)); err != nil {
					return nil, err
				} else if was {
					return []KV{{"found", "0"}, {"imported", "1"}}, nil
				}
			}
			return []KV{{"found", "0"}}, nil
		}
		if err != nil {
			return nil, err
		}
		return recordKVs(r), nil
	})
	// record parses the record of a save or import CALL.
	record := func(c *Call, what string) (*session.Record, error) {
		created, err1 := parseUnix(Get(c.Args, "created"))
		accessed, err2 := parseUnix(Get(c.Args, "accessed"))
		timeout, err3 := strconv.ParseInt(Get(c.Args, "timeout"), 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("session %s: %s: %w", id(c), what, err)
		}
		return &session.Record{
			ID: id(c), Data: []byte(Get(c.Args, "data")),
			Created: created, Accessed: accessed, Timeout: time.Duration(timeout) * time.Second,
		}, nil
	}
	s.HandleCall("session.save", func(c *Call) ([]KV, error) {
		r, err := record(c, "save")
		if err != nil {
			return nil, err
		}
		return nil, st.Save(context.Background(), r)
	})
	s.HandleCall("session.import", func(c *Call) ([]KV, error) {
		imp, ok := st.(session.Importer)
		if !ok {
			return nil, fmt.Errorf("session %s: import: the session store cannot import", id(c))
		}
		r, err := record(c, "import")
		if err != nil {
			return nil, err
		}
		have, imported, err := imp.Import(context.Background(), r, Get(c.Args, "source"))
		if errors.Is(err, session.ErrImported) || errors.Is(err, session.ErrExpired) {
			return []KV{{"found", "0"}}, nil
		}
		if err != nil {
			return nil, err
		}
		kv := recordKVs(have)
		if imported {
			s.log.Info("session taken over from mod_python", "req", c.RequestID, "store", Get(c.Args, "source"))
			return append(kv, KV{"imported", "1"}), nil
		}
		return append(kv, KV{"imported", "0"}), nil
	})
	s.HandleCall("session.delete", func(c *Call) ([]KV, error) {
		return nil, st.Delete(context.Background(), id(c))
	})
	s.HandleCall("session.cleanup", func(c *Call) ([]KV, error) {
		n, err := st.Purge(context.Background())
		if err != nil {
			return nil, err
		}
		return []KV{{"purged", strconv.Itoa(n)}}, nil
	})
	s.requestEnded = func(reqID uint64) { st.ReleaseAll("req-" + strconv.FormatUint(reqID, 10)) }
}

// releaseSessions releases the session locks of the request, if it made
// session calls.
func (x *exchange) releaseSessions() {
	if x.sessions && x.s.requestEnded != nil {
		x.s.requestEnded(x.id)
		x.sessions = false
	}
}

// recordKVs is the reply of a found session.
func recordKVs(r *session.Record) []KV {
	return []KV{
		{"found", "1"},
		{"data", string(r.Data)},
		{"created", unixString(r.Created)},
		{"accessed", unixString(r.Accessed)},
		{"timeout", strconv.FormatInt(int64(r.Timeout/time.Second), 10)},
	}
}

func unixString(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', -1, 64)
}

func parseUnix(s string) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	return unixTime(f), nil
}

// unixTime is the time of f seconds since the epoch (Python's time.time()).
func unixTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}
