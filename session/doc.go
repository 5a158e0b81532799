// Package session keeps mod_python sessions for the daemon: a Store of
// session records on a buntdb file, with one lock per session held in
// memory. The stage before it is the dispatcher's session.* CALL methods
// (dispatch/sessions.go), which the Python side of mod_python.Session
// reaches over the worker wire; after it there is only the file. Workers
// and the mod_fcgid relay never open the database.
//
// Files:
//
//	store.go   Record, the Store interface, the errors, the id check
//	record.go  the key and value envelope on disk
//	bunt.go    BuntStore: Open, Load, Save, Delete, Purge, Range, Shrink, Close
//	locks.go   the lock table
//	flock.go   the exclusive lock that keeps a second daemon off the file
//	import.go  Import: a session taken over from mod_python's store, once
//
// # Records and expiry
//
// A session is stored under "s:<id>" as a 25-byte header (created,
// accessed, timeout) followed by its data, the pickled dict mod_python's
// BaseSession.save builds, kept byte for byte. It expires at
// Accessed+Timeout, as mod_python's BaseSession.load decides; buntdb is told
// the same expiry (rounded up to a whole second, the precision of its file)
// and drops the record by itself within a second after it, so Purge and
// mod_python's cleanup() rarely find anything. Load checks the exact time.
// The whole data set is held in memory: about 550 bytes of heap and 370
// bytes of file per session with 256 bytes of data (BenchmarkScale).
//
// # Sessions taken over from mod_python
//
// While a site is migrated section by section, a session id the store
// does not have may be one mod_python still keeps in its FileSession
// directory or DbmSession file. The worker reads it there (never the
// daemon: the worker runs as the user mod_python wrote as) and hands it to
// Import, which stores it together with a marker "m:<id>" in one
// transaction, unless the store has the session or a marker for it. The
// marker lives ImportMemory (30 days), so a session deleted or expired in
// mpgate is not taken over again from mod_python's copy; markers sort
// before the records ("s:...") and are never seen by Range or Purge.
//
// # Locks
//
// One lock per session id, no hash buckets (mod_python shares seven mutexes
// by hash, so two sessions could deadlock each other). A lock has an owner,
// the request, and is re-entrant for it: a handler and a PSP page of one
// request may both lock the session; one Unlock releases. Waiters are
// served first come, first served, and each gives up at its deadline with
// a *LockError. ReleaseAll(owner) frees all of a request's locks, and
// cancels its waits, whatever ended the request. Locks live in the daemon's
// memory only; they are not in the file and do not survive it.
//
// # Durability
//
// buntdb appends every Save and Delete to its file with one write(2) before
// the call returns, under every sync policy (Tx.Commit in buntdb.go), so
// the page cache has it: a crash of the daemon loses nothing that was
// saved (TestDaemonCrashKeepsSaves SIGKILLs a process right after Save
// returned, under each policy). The policies differ on a crash of the OS
// or a power loss:
//
//	always       nothing Save returned on is lost: buntdb fsyncs in Commit
//	everysecond  (default) the last second or so: buntdb's background loop
//	             fsyncs once a second when anything was written
//	never        what the kernel had not yet written back: dirty pages older
//	             than vm.dirty_expire_centisecs (30 s here), flushed every
//	             vm.dirty_writeback_centisecs (5 s): typically up to ~35 s
//
// After such a crash buntdb truncates a record torn at the end of the file
// when it opens it; a file damaged in the middle makes Open fail
// (tidwall/buntdb#72) and needs repair by hand.
//
// The default was chosen by measurement (go test -bench Save ./session/, a
// 2-core AMD EPYC VM, ext4 on virtio): one Save costs ~190 µs under always
// (the fsync) and ~5 µs under everysecond or never, from one goroutine or
// sixteen. buntdb has one write lock for the whole database, held across
// the fsync, so always caps all sessions together at ~5,000 saves/s and
// makes every Load wait behind the fsync in progress; everysecond keeps
// daemon crashes lossless at 1/40 of the cost, with a one-second window for
// OS crashes. Sites that cannot lose a second set "always".
//
// # The file
//
// The file is append-only and grows with every save. buntdb's auto-shrink
// is off (it waits for 32 MB and then for 100% growth, and users report
// multi-gigabyte files, tidwall/buntdb#37, #77); instead a goroutine checks
// the file every Options.ShrinkEvery and rewrites it when it is at least
// 1 MiB and twice its size after the last shrink. Shrinking blocks readers
// and writers only briefly. Open takes an exclusive flock(2) on
// Path+".lock" first, since buntdb corrupts a file that two processes
// write (tidwall/buntdb#61), and creates the directory 0700 and the file
// 0600.
//
// What buntdb (v1.3.0) does that this package works around: it creates its
// file, and the file Shrink renames over it, 0666 less umask, so after the
// first shrink sessions would be world-readable; it renames the shrunk file
// into place without an fsync of it or of the directory, so this package
// syncs both after each shrink (under always and everysecond), which leaves
// a window of milliseconds for an OS crash to find an empty file; Shrink
// always sleeps 250 ms before it starts; it panics if it cannot rename the
// file or truncate a short write (disk full); and its background goroutine
// outlives Close by up to a second.
package session
