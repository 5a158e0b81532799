// This file takes sessions over from mod_python's own stores during a
// gradual migration: Import stores a session read from a FileSession
// directory or a DbmSession file once, with a marker that keeps it from
// ever being taken again, so that mpgate's copy is the only one that
// counts from then on. Reading mod_python's store is the caller's job
// (the worker, in pyrt/mod_python/Session.py, or `mpgate sessions
// import`); this file only decides, atomically, whether the copy is taken.

package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tidwall/buntdb"
)

// ImportMemory is how long the store remembers that it imported a session
// id: a miss for that id within ImportMemory of the import (the session
// was deleted, or expired, in mpgate) is not answered by importing
// mod_python's copy again.
const ImportMemory = 30 * 24 * time.Hour

// markerPrefix keys the import markers: "m:" + id. It sorts before
// keyPrefix, so walks over the records ("s:...") never meet a marker.
const markerPrefix = "m:"

func markerKey(id string) string { return markerPrefix + id }

var (
	// ErrImported is returned by Import when the store imported the
	// session id before (within ImportMemory) and no longer has it: it was
	// deleted or it expired in mpgate, and must stay so.
	ErrImported = errors.New("session: imported before, since deleted or expired")

	// ErrExpired is returned by Import for a record that has expired
	// (Accessed+Timeout is in the past): it is not imported.
	ErrExpired = errors.New("session: expired")
)

// Importer is a Store that can take sessions over from mod_python's
// stores, once per session id.
type Importer interface {
	// Import stores r, read from mod_python's store source (a path, for
	// the logs and `sessions show`), unless the store has the session
	// or had it. It returns the record the store holds for r.ID
	// afterwards and whether it is r (imported now) or a record already
	// there (imported or saved by someone else first; r is dropped).
	// It returns ErrImported when the id was imported before and has
	// since gone, ErrExpired when r has expired.
	Import(ctx context.Context, r *Record, source string) (rec *Record, imported bool, err error)

	// Imported reports whether the session id was imported within
	// ImportMemory (whether or not the store still has it).
	Imported(ctx context.Context, id string) (bool, error)
}

var _ Importer = (*BuntStore)(nil)

// Import implements Importer. The check and the writes are one buntdb
// transaction, so two requests importing the same id at once store it once.
func (s *BuntStore) Import(ctx context.Context, r *Record, source string) (*Record, bool, error) {
	if err := checkID(r.ID); err != nil {
		return nil, false, err
	}
	if r.Timeout <= 0 {
		return nil, false, fmt.Errorf("session %s: import: timeout %v is not positive", r.ID, r.Timeout)
	}
	if err := errors.Join(checkTime("created", r.Created), checkTime("accessed", r.Accessed)); err != nil {
		return nil, false, fmt.Errorf("session %s: import: %w", r.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	now := time.Now()
	if r.Expired(now) {
		return nil, false, ErrExpired
	}
	ttl := r.Expires().Truncate(time.Second).Add(time.Second).Sub(now)
	v := string(appendEnvelope(make([]byte, 0, envelopeHeader+len(r.Data)), r))
	marker := strconv.FormatInt(now.Unix(), 10) + " " + source
	var have *Record
	err := s.db.Update(func(tx *buntdb.Tx) error {
		if old, err := tx.Get(recordKey(r.ID)); err == nil {
			rec, err := decodeEnvelope(r.ID, old)
			if err != nil {
				return err
			}
			if !rec.Expired(now) {
				have = rec
				return nil
			}
		} else if !errors.Is(err, buntdb.ErrNotFound) {
			return err
		}
		if _, err := tx.Get(markerKey(r.ID)); err == nil {
			return ErrImported
		} else if !errors.Is(err, buntdb.ErrNotFound) {
			return err
		}
		if _, _, err := tx.Set(recordKey(r.ID), v, &buntdb.SetOptions{Expires: true, TTL: ttl}); err != nil {
			return err
		}
		_, _, err := tx.Set(markerKey(r.ID), marker, &buntdb.SetOptions{Expires: true, TTL: ImportMemory})
		return err
	})
	switch {
	case errors.Is(err, ErrImported):
		return nil, false, ErrImported
	case err != nil:
		return nil, false, fmt.Errorf("session %s: import: %w", r.ID, dbErr(err))
	case have != nil:
		return have, false, nil
	}
	return r, true, nil
}

// Imported implements Importer.
func (s *BuntStore) Imported(ctx context.Context, id string) (bool, error) {
	if err := checkID(id); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	err := s.db.View(func(tx *buntdb.Tx) error {
		_, err := tx.Get(markerKey(id))
		return err
	})
	if errors.Is(err, buntdb.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("session %s: imported: %w", id, dbErr(err))
	}
	return true, nil
}
