"""Reads one session from mod_python's own store, for the gradual migration
of a site: when the daemon's store has no session for the id a request's
cookie names, mod_python.Session (the stage before) asks read() for
mod_python's copy, in the FileSession directory or DbmSession file the
section's configuration names, and hands it to the daemon's store
(session.import, the stage after), which owns it from then on.

Nothing of the site runs here: the record is checked with an unpickler
that resolves every class to an inert stand-in, and only its three
numbers (_created, _accessed, _timeout) are read; the bytes go to the
daemon unchanged. They are unpickled for real (mpgate.sitepickle) only as
any loaded session is, afterwards.

mod_python writes without mpgate's knowledge and under locks mpgate cannot
take (they live in Apache's shared memory):

  * FileSession.do_save truncates the file and pickles into it (open "wb",
    dump; no temporary file, no rename), so a reader may find it empty,
    short, or -- read across a rewrite -- old bytes followed by new ones.
    A record is accepted only when the file's size did not change while it
    was read, the pickle ends exactly at the end of the file, and it is a
    session dict; otherwise it is read again after 2, 4, 8, 16 ms. A file
    that gives the same bad bytes twice is malformed and refused.
  * DbmSession opens the dbm file for writing around each access. GDBM
    locks it, and a writer that finds a reader's lock fails at once (a 500
    in mod_python), so gdbm files are read without locking ("ru"), like
    Berkeley DB and dumb files (which have no locks); a read that fails
    (torn page) is retried as above, and a record that is the same bad
    bytes twice is refused.

A store is read only when it belongs to this worker's user (Apache's, the
one mod_python writes as) or root and is not writable by others: a record
is a pickle, and a pickle from someone else's file could run their code.

Log lines name the file with the session id cut to 8 hex digits (the id
is the user's credential)."""

import _pickle
import dbm
import importlib
import io
import math
import os
import stat
import time
from typing import Any, Callable, Optional, Tuple


# MAX_RECORD bounds a record's size; a larger one is refused (mod_python's
# records are a few hundred bytes, a session with a shopping cart a few KB).
MAX_RECORD = 1 << 20

# RETRY_DELAYS are the pauses before reading a record again that was
# caught being written (seconds); 30 ms in all.
RETRY_DELAYS = (0.002, 0.004, 0.008, 0.016)

# Record is (pickle bytes, created, accessed, timeout).
Record = Tuple[bytes, float, float, int]


class Refused(Exception):
    """A record that is there but will not be imported; the message says
    why."""


class _Torn(Exception):
    """A read that may have met a write in progress."""


def short(path: str, sid: str) -> str:
    """Returns path with the session id in it cut to 8 hex digits."""
    return path.replace(sid, sid[:8] + "...")


# ---------------------------------------------------------------------------
# Checking a record without running anything.


class _Inert:
    """Stands for any class or function a record refers to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> "_Inert":
        return _Inert()


class _InertUnpickler(_pickle.Unpickler):  # the C one, whatever sitepickle installed
    def find_class(self, module: str, name: str) -> Any:
        return _Inert

    def persistent_load(self, pid: Any) -> Any:
        raise ValueError("persistent id in a session record")


def meta(blob: bytes) -> Tuple[float, float, int]:
    """Returns (created, accessed, timeout) of a stored session record (the
    pickled dict of mod_python's BaseSession.save); raises ValueError when
    blob is not one, or has bytes after its end."""
    f = io.BytesIO(blob)
    try:
        d = _InertUnpickler(f, encoding="latin-1").load()
    except Exception as e:  # noqa: BLE001 (anything a bad pickle raises)
        raise ValueError("not a pickle (%s: %s)" % (type(e).__name__, e)) from None
    if f.tell() != len(blob):
        raise ValueError("%d bytes after the end of the pickle" % (len(blob) - f.tell()))
    if not isinstance(d, dict) or not isinstance(d.get("_data"), dict):
        raise ValueError("not a session dict")
    try:
        created, accessed = float(d["_created"]), float(d["_accessed"])
        timeout = d["_timeout"]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError("session dict without its times (%s)" % e) from None
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not math.isfinite(timeout) \
            or not (math.isfinite(created) and math.isfinite(accessed)):
        raise ValueError("session dict with bad times")
    return created, accessed, int(timeout)


# ---------------------------------------------------------------------------
# Whose files.


def _trusted(st: os.stat_result, what: str) -> None:
    """Raises Refused unless st belongs to this process's user or root and
    is not writable by others (a sticky directory may be)."""
    if st.st_uid not in (os.geteuid(), 0):
        raise Refused("%s belongs to uid %d, not to this worker's user (uid %d) or root"
                      % (what, st.st_uid, os.geteuid()))
    if st.st_mode & stat.S_IWOTH and not (stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX):
        raise Refused("%s is writable by anyone" % what)


# ---------------------------------------------------------------------------
# FileSession.


def session_dir(path: str) -> str:
    """Returns FileSession's directory for path: path itself, or
    path/mp_sess when path holds one (a database_directory)."""
    sub = os.path.join(path, "mp_sess")
    return sub if os.path.isdir(sub) else path


def _read_file_once(filename: str) -> Tuple[bytes, Tuple[int, int, int]]:
    """Reads filename whole; returns its bytes and (inode, size, mtime).
    Raises FileNotFoundError, Refused, or _Torn when the file changed
    while it was read."""
    fd = os.open(filename, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused("not a regular file")
        _trusted(st, "the file")
        if st.st_size > MAX_RECORD:
            raise Refused("%d bytes, more than the limit of %d" % (st.st_size, MAX_RECORD))
        chunks = []
        n = 0
        while n <= MAX_RECORD:
            b = os.read(fd, MAX_RECORD + 1 - n)
            if not b:
                break
            chunks.append(b)
            n += len(b)
        data = b"".join(chunks)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if len(data) > MAX_RECORD:
        raise Refused("more than the limit of %d bytes" % MAX_RECORD)
    if after.st_size != len(data) or after.st_size != st.st_size:
        raise _Torn("the file changed size while it was read")
    return data, (after.st_ino, after.st_size, after.st_mtime_ns)


def read_file(directory: str, sid: str) -> Optional[Record]:
    """Returns mod_python's FileSession record of sid in directory (the
    mp_sess directory or its parent), None when there is none; raises
    Refused for a record that will not be imported."""
    sessdir = session_dir(directory)
    filename = os.path.join(sessdir, sid[:2], sid)
    last = None  # type: Optional[Tuple[Tuple[int, int, int], str]]
    for delay in RETRY_DELAYS + (None,):
        try:
            data, ident = _read_file_once(filename)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except _Torn as e:
            why = str(e)
        except OSError as e:
            raise Refused("cannot be read: %s" % (e.strerror or e)) from None
        else:
            try:
                created, accessed, timeout = meta(data)
            except ValueError as e:
                why = str(e)
                if last is not None and last == (ident, why):
                    raise Refused(why) from None  # the same bad bytes twice
                last = (ident, why)
            else:
                for d in (os.path.dirname(filename), sessdir):
                    _trusted(os.stat(d), "its directory " + d)
                return data, created, accessed, timeout
        if delay is None:
            raise Refused("still being written after %d reads (%s)" % (len(RETRY_DELAYS) + 1, why))
        time.sleep(delay)
    return None  # not reached


# ---------------------------------------------------------------------------
# DbmSession.


def _dbm_files(path: str) -> Tuple[str, ...]:
    """Returns the files of the dbm database path that exist (gdbm: path;
    Berkeley DB: path.db; ndbm: path.pag, path.dir; dumb: path.dat,
    path.dir)."""
    return tuple(p for p in (path, path + ".db", path + ".pag", path + ".dir", path + ".dat")
                 if os.path.lexists(p))


def read_dbm(path: str, sid: str) -> Optional[Record]:
    """Returns mod_python's DbmSession record of sid in the dbm file path
    (named as mod_python names it, without the dbm module's suffix), None
    when the file or the key is not there; raises Refused for a record
    that will not be imported."""
    files = _dbm_files(path)
    if not files:
        return None
    for f in files:
        st = os.lstat(f)
        if not stat.S_ISREG(st.st_mode):
            raise Refused("%s is not a regular file" % f)
        _trusted(st, f)
    _trusted(os.stat(os.path.dirname(os.path.abspath(path))), "its directory")
    key = sid.encode("ascii")
    why = ""
    last = None  # type: Optional[Tuple[bytes, str]]
    for delay in RETRY_DELAYS + (None,):
        try:
            kind = dbm.whichdb(path)
            if kind == "":
                raise Refused("not a dbm file this Python can read")
            if kind is None:
                return None  # gone meanwhile
            # the module whichdb named (dbm.open would ask whichdb again)
            module = importlib.import_module(kind)
            # gdbm without its lock: mod_python's writer must never wait or fail
            db = module.open(path, "ru" if kind == "dbm.gnu" else "r")
            try:
                blob = db.get(key)
            finally:
                db.close()
            if blob is None:
                return None
            if len(blob) > MAX_RECORD:
                raise Refused("%d bytes, more than the limit of %d" % (len(blob), MAX_RECORD))
            try:
                created, accessed, timeout = meta(blob)
            except ValueError as e:
                why = str(e)
                if last is not None and last == (blob, why):
                    raise Refused(why) from None  # the same bad record twice
                last = (blob, why)
            else:
                return blob, created, accessed, timeout
        except Refused:
            raise
        except dbm.error as e:  # every dbm module's error, and OSError
            why = "%s: %s" % (type(e).__name__, e)
        if delay is None:
            raise Refused("unreadable after %d reads (%s)" % (len(RETRY_DELAYS) + 1, why))
        time.sleep(delay)
    return None  # not reached


# ---------------------------------------------------------------------------
# The source of a session.


def parse_source(value: str) -> Optional[Tuple[str, str]]:
    """Parses PythonOption mpgate.session.import_from: "off" gives None,
    "auto" ("", the default) gives ("auto", ""), "files:DIR" and
    "dbm:FILE" the kind and path; raises ValueError naming the option for
    anything else."""
    v = value.strip()
    if v.lower() in ("", "auto"):
        return ("auto", "")
    if v.lower() in ("off", "no", "none"):
        return None
    kind, sep, path = v.partition(":")
    if sep and kind in ("files", "dbm") and os.path.isabs(path):
        return kind, os.path.normpath(path)
    raise ValueError("PythonOption mpgate.session.import_from %r: want auto, off, files:/DIR or dbm:/FILE"
                     % (value,))


def read(kind: str, path: str, sid: str, log: Callable[[str], None]) -> Optional[Record]:
    """Returns mod_python's record of sid in the store kind ("files" or
    "dbm") at path, or None when there is none or it is refused (logged
    with log, naming the file)."""
    try:
        if kind == "files":
            return read_file(path, sid)
        return read_dbm(path, sid)
    except Refused as e:
        where = (os.path.join(session_dir(path), sid[:2], sid) if kind == "files"
                 else "%s, key %s" % (path, sid))
        log("mod_python.Session: mod_python's session record %s refused: %s; a new session starts"
            % (short(where, sid), e))
        return None
    except OSError as e:
        log("mod_python.Session: mod_python's session store %s cannot be read: %s; a new session starts"
            % (path, e))
        return None
