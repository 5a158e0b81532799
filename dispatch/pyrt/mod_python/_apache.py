"""The low-level _apache module of mod_python 3.5, written in Python for mpgate.

In mod_python this is a C module (grisha/mod_python: src/_apachemodule.c,
src/tableobject.c, src/finfoobject.c). Code imports it directly as
``import _apache`` (mod_python's own util.py and Session.py do), so the worker's
import hook serves this file under the top-level name ``_apache``;
``mod_python._apache`` is the same module object.

It provides the table type (mp_table), parse_qs/parse_qsl, log_error, stat
(mp_finfo), mpm_query, register_cleanup, exists_config_define, SERVER_RETURN and
stubs for what a worker cannot know yet (config_tree, server_root, the global
session mutexes). Logging goes through a sink installed by mpgate.worker;
without one (outside a worker) it goes to sys.stderr.
"""

import os
import stat as _stat
import sys
import threading
from typing import Any, Callable, Iterator, List, Optional, Tuple

# Connection keepalive states, httpd's AP_CONN_* (for req.connection.keepalive).
AP_CONN_UNKNOWN = 0
AP_CONN_CLOSE = 1
AP_CONN_KEEPALIVE = 2

# APR file types (apr_filetype_e), for finfo.filetype.
APR_NOFILE = 0
APR_REG = 1
APR_DIR = 2
APR_CHR = 3
APR_BLK = 4
APR_PIPE = 5
APR_LNK = 6
APR_SOCK = 7
APR_UNKFILE = 127

# The httpd these workers stand in for: Debian 12's Apache 2.4 (ap_mmn.h).
MODULE_MAGIC_NUMBER_MAJOR = 20120211
MODULE_MAGIC_NUMBER_MINOR = 127

# apr_finfo_t.valid as apr_stat() fills it on Unix (everything one stat()
# gives; APR_FINFO_NAME is never set), as observed with Debian's mod_python.
_APR_FINFO_UNIX_VALID = 0x0073F370
_APR_FINFO_LINK = 0x00000001


class SERVER_RETURN(Exception):
    """Raised by a handler to end it with a result: SERVER_RETURN(result) or
    SERVER_RETURN(result, status) (mod_python.md §2.5)."""


SERVER_RETURN.__module__ = "_apache"

# _log_sink, when set by mpgate.worker, receives every log_error call:
# _log_sink(level, message, server) with level in 0..7. server is the
# mp_server passed by the caller, or None.
_log_sink = None  # type: Optional[Callable[[int, str, Any], None]]

# _server_types lists the classes log_error accepts as its server argument
# (mpgate.request adds mp_server); the C module checks MpServer_Check.
_server_types = ()  # type: Tuple[type, ...]

# _cleanups holds (callable, data) registered with register_cleanup, run by the
# worker at SHUTDOWN, last registered first (apr pool cleanups are LIFO).
_cleanups = []  # type: List[Tuple[Callable[[Any], Any], Any]]
_cleanups_lock = threading.Lock()

# _defines is the set of names httpd would have defined (-D and Define, less
# UnDefine), from the daemon's worker.init (mpgate.worker).
_defines = frozenset()  # type: frozenset

APLOG_ERR = 3


# httpd's DEFAULT_LOGLEVEL (APLOG_WARNING): ap_log_error without a server
# logs at this level whatever LogLevel says (log.c log_error_core).
DEFAULT_LOGLEVEL = 4
APLOG_NOTICE = 5


def _logged(level: int, threshold: Optional[int]) -> bool:
    """Whether httpd writes a message of level where threshold is the
    LogLevel in effect (None: unknown, write everything): NOTICE always is."""
    level &= 7
    return threshold is None or level == APLOG_NOTICE or level <= threshold


def log_error(message: Optional[str], level: int = 0, server: Any = None) -> None:
    """Writes message to the error log (ap_log_error); level 0 means APLOG_ERR.

    Without a server the message goes to the main server's log, and only at
    httpd's compile-time level (WARNING or more severe, or NOTICE).
    """
    if message is not None and not isinstance(message, str):
        raise TypeError("argument 1 must be str or None, not %s" % ("None" if message is None else type(message).__name__))
    if not isinstance(level, int):
        raise TypeError("'%s' object cannot be interpreted as an integer" % type(level).__name__)
    if message is None:
        return
    if server is not None and not isinstance(server, _server_types):
        raise TypeError("bad argument type for built-in operation")
    if not level:
        level = APLOG_ERR
    if server is None:
        threshold = DEFAULT_LOGLEVEL  # type: Optional[int]
    else:
        threshold = server._log_threshold()
    if not _logged(level, threshold):
        return
    _emit(level, message, server)


def _emit(level: int, message: str, server: Any) -> None:
    """Hands a log line to the worker's sink, or writes it to stderr."""
    sink = _log_sink
    if sink is not None:
        sink(level, message, server)
        return
    stream = sys.__stderr__ or sys.stderr
    if stream is not None:
        stream.write(message + "\n")
        stream.flush()


# ---------------------------------------------------------------------------
# Query strings: parse_qs / parse_qsl (_apachemodule.c parse_qs, parse_qsl).


def _unescape_url(s: bytes) -> bytes:
    """Decodes %xx escapes like httpd's ap_unescape_url: a bad escape is kept
    as is, and the result ends at the first NUL (the C code uses strlen)."""
    if b"%" not in s:
        return s
    out = bytearray()
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == 0x25 and i + 2 < n and _is_xdigit(s[i + 1]) and _is_xdigit(s[i + 2]):
            out.append(int(s[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    nul = out.find(b"\0")
    if nul >= 0:
        del out[nul:]
    return bytes(out)


def _is_xdigit(c: int) -> bool:
    """Reports whether byte c is a hex digit."""
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66


def _qs_pairs(qs: Any, keep_blank_values: int) -> Tuple[bool, List[Tuple[bytes, bytes]]]:
    """Splits a query string into unescaped (key, value) byte pairs."""
    unicode = isinstance(qs, str)
    raw = _c_string(qs)
    pairs = []
    for part in raw.replace(b";", b"&").split(b"&"):
        if not part:
            continue
        part = part.replace(b"+", b" ")
        key, eq, val = part.partition(b"=")
        if keep_blank_values or val:
            pairs.append((_unescape_url(key), _unescape_url(val)))
    return unicode, pairs


def parse_qs(qs: Any, keep_blank_values: int = 0, strict_parsing: int = 0) -> dict:
    """Parses a query string into a dict of name -> list of values.

    Splits on '&' and ';', turns '+' into space, decodes %xx; pairs with an
    empty value are dropped unless keep_blank_values. str in -> str out
    (UTF-8), bytes in -> bytes out. strict_parsing is ignored, as in
    mod_python.
    """
    unicode, pairs = _qs_pairs(qs, keep_blank_values)
    if unicode:
        pairs = _decode_pairs(pairs)
    result = {}  # type: dict
    for k, v in pairs:
        result.setdefault(k, []).append(v)
    return result


def parse_qsl(qs: Any, keep_blank_values: int = 0, strict_parsing: int = 0) -> list:
    """Parses a query string into a list of (name, value) pairs; see parse_qs.

    Debian's C build returns pairs whose name is overwritten by the value for
    str input (a use-after-free in _apachemodule.c parse_qsl); this returns
    the intended pairs.
    """
    unicode, pairs = _qs_pairs(qs, keep_blank_values)
    if unicode:
        return _decode_pairs(pairs)
    return pairs


def _decode_pairs(pairs: List[Tuple[bytes, bytes]]) -> list:
    """Decodes byte pairs as UTF-8."""
    # Invalid UTF-8 makes the C code fail with SystemError, which
    # mod_python.util.FieldStorage catches to fall back to urllib.
    try:
        return [(k.decode("utf-8"), v.decode("utf-8")) for k, v in pairs]
    except UnicodeDecodeError:
        raise SystemError("NULL object passed to Py_BuildValue") from None


# ---------------------------------------------------------------------------
# Things the worker cannot know yet.


def config_tree() -> list:
    """Would return the parsed main configuration; mpgate does not pass it to
    workers."""
    raise NotImplementedError(
        "apache.config_tree() needs httpd's parsed configuration tree, "
        "which mpgate does not pass to its workers")


def server_root() -> str:
    """Would return httpd's ServerRoot; mpgate does not pass it to workers."""
    raise NotImplementedError(
        "apache.server_root() needs httpd's ServerRoot, "
        "which mpgate does not pass to its workers")


def mpm_query(code: int) -> int:
    """Answers ap_mpm_query as a prefork MPM would: workers are processes,
    each serving one request at a time."""
    if not isinstance(code, int):
        raise TypeError("The argument must be an integer")
    if code == 3:  # AP_MPMQ_IS_FORKED
        return 2  # AP_MPMQ_DYNAMIC
    return 0  # AP_MPMQ_IS_THREADED: AP_MPMQ_NOT_SUPPORTED; others unknown


def register_cleanup(interpreter: str, server: Any, handler: Callable[[Any], Any], data: Any = None) -> None:
    """Registers handler(data) to run when the worker shuts down."""
    if not isinstance(interpreter, str):
        raise TypeError("register_cleanup() argument 1 must be str, not %s" % type(interpreter).__name__)
    if not isinstance(server, _server_types):
        raise ValueError("second argument must be a server object")
    if not callable(handler):
        raise ValueError("third argument must be a callable object")
    with _cleanups_lock:
        _cleanups.append((handler, data))


def exists_config_define(name: str) -> bool:
    """Reports whether name is defined (ap_exists_config_define): given to
    httpd with -D (to mpgate with -D), or by a Define directive."""
    if not isinstance(name, str):
        # PyArg_ParseTuple(args, "s", ...)'s message.
        raise TypeError("argument 1 must be str, not %s" % ("None" if name is None else type(name).__name__))
    return name in _defines


def _mutex_name(key: Any, index: int) -> str:
    """The daemon's name for mod_python's global mutex of key or index.
    mod_python hashes key onto one of a few mutexes (index -1) or takes
    mutex index; mpgate keeps one lock per key, so two keys never wait for
    each other by a hash collision."""
    if index is None or index == -1:
        return "key:%s" % (key,)
    return "index:%d" % index


def _global_lock(server: Any, key: Any, index: int = -1) -> None:
    """Takes mod_python's global mutex of key (or index), shared by all the
    workers: a lock in the daemon, owned by the request and released when
    it ends if _global_unlock was not called. A lock held elsewhere longer
    than --session-lock-wait raises instead of waiting forever."""
    from mpgate import worker
    worker.call("session.mutex.lock", name=_mutex_name(key, index))


def _global_trylock(server: Any, key: Any, index: int = -1) -> bool:
    """_global_lock that does not wait: returns whether it got the mutex."""
    from mpgate import worker
    return worker.call("session.mutex.lock", name=_mutex_name(key, index), **{"try": "1"}).get("locked") == "1"


def _global_unlock(server: Any, key: Any, index: int = -1) -> None:
    """Releases the global mutex of key (or index) if this request holds it."""
    from mpgate import worker
    worker.call("session.mutex.unlock", name=_mutex_name(key, index))


# ---------------------------------------------------------------------------
# Strings crossing into "Apache" (tables, request_rec fields).
#
# mod_python keeps C strings: a str goes in as its Latin-1 bytes (else
# TypeError "not an ISO-8859-1 string"), bytes go in as they are, and both are
# cut at the first NUL; strings come out decoded as UTF-8. A stored value is
# kept here as what it reads back as: a str, or the raw bytes when they are not
# UTF-8 (reading those raises UnicodeDecodeError where mod_python crashes).


def _c_string(obj: Any) -> bytes:
    """Returns obj's C-string bytes (MP_ANYSTR_AS_STR); str and bytes only."""
    t = type(obj)
    if t is str:
        try:
            b = obj.encode("latin-1")
        except UnicodeEncodeError:
            raise TypeError("not an ISO-8859-1 string") from None
    elif t is bytes:
        b = obj
    else:
        raise TypeError("not an ISO-8859-1 string")
    nul = b.find(b"\0")
    if nul >= 0:
        b = b[:nul]
    return b


def _to_c(obj: Any) -> Any:
    """Converts a value going into a table to its stored form."""
    if type(obj) is str and obj.isascii():
        if "\0" in obj:
            obj = obj[:obj.index("\0")]
        return obj
    b = _c_string(obj)
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


def _from_wire(s: str) -> Any:
    """Converts a str from the worker wire (UTF-8 with surrogateescape) to
    its stored form."""
    if s.isascii():
        return s
    b = s.encode("utf-8", "surrogateescape")
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b


def _from_c(v: Any) -> Any:
    """Converts a stored value to what Python code sees."""
    if type(v) is bytes:
        return v.decode("utf-8")
    return v


_ASCII_LOWER = {c: c + 32 for c in range(0x41, 0x5B)}
_C_SPACE = " \t\n\v\f\r"
_C_SPACE_DELETE = {ord(c): None for c in _C_SPACE}


def _fold(k: Any) -> Any:
    """Returns the case-folded form of a stored key (ASCII only, like
    strcasecmp in the C locale)."""
    if type(k) is bytes:
        return k.lower()
    if k.isascii():
        return k.lower()
    return k.translate(_ASCII_LOWER)


def _natcase_equal(a: Any, b: Any) -> bool:
    """Reports whether apr_strnatcasecmp(a, b) == 0 for folded keys a and b.

    It skips white space before each character and compares runs of digits
    as numbers (they are only equal when identical), so only keys containing
    white space can differ from plain case-insensitive equality.
    """
    if a == b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, bytes):
        a, b = a.decode("latin-1"), b.decode("latin-1")
    if not any(c in _C_SPACE for c in a) and not any(c in _C_SPACE for c in b):
        return False
    ai = bi = 0
    na, nb = len(a), len(b)
    while True:
        while ai < na and a[ai] in _C_SPACE:
            ai += 1
        while bi < nb and b[bi] in _C_SPACE:
            bi += 1
        ca = a[ai] if ai < na else ""
        cb = b[bi] if bi < nb else ""
        if ca.isdigit() and cb.isdigit() and ca.isascii() and cb.isascii():
            # compare_left / compare_right: equal only if the digit runs,
            # read without skipping white space, are identical.
            i, j = ai, bi
            while i < na and j < nb and a[i] in "0123456789" and b[j] in "0123456789":
                if a[i] != b[j]:
                    return False
                i += 1
                j += 1
            if (i < na and a[i] in "0123456789") or (j < nb and b[j] in "0123456789"):
                return False
        if not ca and not cb:
            return True
        if ca != cb:
            return False
        ai += 1
        bi += 1


class table(object):
    """mod_python's table (mp_table): an ordered list of string pairs with
    case-insensitive keys, as Apache's apr_table_t (mod_python.md §3.5).

    t[k] is the single value, or the list of all values when k occurs more
    than once; t[k] = v replaces every occurrence; add(k, v) appends; del t[k]
    removes every occurrence; get(k) returns the first value. Keys and values
    are str (Latin-1) or bytes. Equality converts both sides to dicts.
    """

    __slots__ = ("_e",)

    def __new__(cls, *args: Any, **kwargs: Any) -> "table":
        # tableobject.c table_new makes a plain mp_table whatever class is
        # asked for: instantiating a subclass gives an empty mp_table, which
        # Python then does not __init__ (observed with Debian's mod_python).
        self = object.__new__(table)
        self._e = []  # list of [key, folded key, value]
        return self

    def __init__(self, items: Any = None) -> None:
        if items is not None:
            if hasattr(items, "keys"):
                self._merge(items)
            else:
                self._merge_seq2(items)

    # -- internal -----------------------------------------------------------

    def _find(self, fk: Any) -> int:
        """Returns the index of the first entry with folded key fk, or -1."""
        for i, e in enumerate(self._e):
            if e[1] == fk:
                return i
        return -1

    def _set(self, k: Any, v: Any) -> None:
        """apr_table_set: replace the first match's value, drop the others,
        or append."""
        fk = _fold(k)
        entries = self._e
        first = -1
        i = 0
        while i < len(entries):
            if entries[i][1] == fk:
                if first < 0:
                    first = i
                    entries[i][2] = v
                else:
                    del entries[i]
                    continue
            i += 1
        if first < 0:
            entries.append([k, fk, v])

    def _merge(self, other: Any) -> None:
        """Sets every key of mapping other (table_merge)."""
        for key in list(other.keys()):
            skey = _to_c(str(key))
            value = other[key]
            self._set(skey, _to_c(str(value)))

    def _merge_seq2(self, seq: Any) -> None:
        """Sets every (key, value) pair of seq (table_mergefromseq2)."""
        for i, item in enumerate(seq):
            try:
                fast = list(item) if not isinstance(item, (list, tuple)) else item
            except TypeError:
                raise TypeError("cannot convert table update sequence element #%d to a sequence" % i) from None
            if len(fast) != 2:
                raise ValueError("table update sequence element #%d has length %d; 2 is required" % (i, len(fast)))
            self._set(_to_c(str(fast[0])), _to_c(str(fast[1])))

    # -- mapping ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._e)

    def __getitem__(self, key: Any) -> Any:
        fk = _fold(_to_c(key))
        found = [e[2] for e in self._e if e[1] == fk or _natcase_equal(e[1], fk)]
        if not found:
            raise KeyError(key)
        if len(found) == 1:
            return _from_c(found[0])
        return [_from_c(v) for v in found]

    def __setitem__(self, key: Any, value: Any) -> None:
        k = _to_c(key)
        self._set(k, _to_c(value))

    def __delitem__(self, key: Any) -> None:
        fk = _fold(_to_c(key))
        self._e[:] = [e for e in self._e if e[1] != fk]

    def __contains__(self, key: Any) -> bool:
        fk = _fold(_to_c(key))
        for e in self._e:
            if e[1] == fk and e[2] is not None:
                return True
        return False

    def __iter__(self) -> Iterator[Any]:
        return _TableIter(self, 0)

    def __eq__(self, other: Any) -> Any:
        return self._compare(other, "__eq__")

    def __ne__(self, other: Any) -> Any:
        return self._compare(other, "__ne__")

    def __lt__(self, other: Any) -> Any:
        return self._compare(other, "__lt__")

    def __le__(self, other: Any) -> Any:
        return self._compare(other, "__le__")

    def __gt__(self, other: Any) -> Any:
        return self._compare(other, "__gt__")

    def __ge__(self, other: Any) -> Any:
        return self._compare(other, "__ge__")

    def _compare(self, other: Any, op: str) -> Any:
        """Compares as dicts (table_richcompare)."""
        # table_richcompare: "we're so lazy that we just copy tables to dicts".
        if not (isinstance(other, (table, dict)) or hasattr(other, "keys")):
            return NotImplemented
        mine = _as_dict(self)
        theirs = _as_dict(other)
        return getattr(mine, op)(theirs)

    def __hash__(self) -> int:  # type: ignore[override]
        raise TypeError("mp_table objects are unhashable")

    def __repr__(self) -> str:
        # table_repr walks the entries from the last to the first.
        parts = []
        for e in reversed(self._e):
            parts.append("%r: %r" % (_from_c(e[0]), _from_c(e[2])))
        return "{" + ", ".join(parts) + "}"

    # -- methods ------------------------------------------------------------

    def has_key(self, key: Any) -> int:
        """T.has_key(k) -> 1 if T has a key k, else 0"""
        return 1 if key in self else 0

    def get(self, key: Any, failobj: Any = None) -> Any:
        """T.get(k[,d]) -> the first value of k if T has k, else d (None)."""
        fk = _fold(_to_c(key))
        for e in self._e:
            if e[1] == fk and e[2] is not None:
                return _from_c(e[2])
        return failobj

    def setdefault(self, key: Any, failobj: Any = None) -> Any:
        """T.setdefault(k[,d]) -> T.get(k,d), also set T[k]=d if not T.has_key(k)"""
        k = _to_c(key)
        v = None if failobj is None else _to_c(failobj)
        fk = _fold(k)
        for e in self._e:
            if e[1] == fk and e[2] is not None:
                return _from_c(e[2])
        if v is None:
            v = ""
        self._set(k, v)
        return _from_c(v)

    def popitem(self) -> Tuple[Any, Any]:
        """T.popitem() -> (k, v), remove and return the first (key, value)
        pair; but raise KeyError if T is empty"""
        if not self._e:
            raise KeyError("popitem(): table is empty")
        # tableobject.c table_popitem returns the first pair but shortens
        # the table by one at its end (it advances a local copy of the
        # element pointer): the last pair is the one that goes.
        e = self._e[0]
        item = (_from_c(e[0]), _from_c(e[2]))
        del self._e[-1]
        return item

    def keys(self) -> list:
        """T.keys() -> list of T's keys, duplicates included"""
        return [_from_c(e[0]) for e in self._e]

    def values(self) -> list:
        """T.values() -> list of T's values"""
        return [_from_c(e[2]) for e in self._e]

    def items(self) -> list:
        """T.items() -> list of T's (key, value) pairs, as 2-tuples"""
        return [(_from_c(e[0]), _from_c(e[2])) for e in self._e]

    def update(self, other: Any) -> None:
        """T.update(E) -> None.  Update T from E: for k in E.keys(): T[k] = E[k]"""
        self._merge(other)

    def clear(self) -> None:
        """T.clear() -> None.  Remove all items from T."""
        del self._e[:]

    def copy(self) -> "table":
        """T.copy() -> a shallow copy of T (a plain table)"""
        t = table()
        t._e = [list(e) for e in self._e]
        return t

    def iterkeys(self) -> Iterator[Any]:
        """T.iterkeys() -> an iterator over the keys of T"""
        return _TableIter(self, 0)

    def itervalues(self) -> Iterator[Any]:
        """T.itervalues() -> an iterator over the values of T"""
        return _TableIter(self, 2)

    def iteritems(self) -> Iterator[Any]:
        """T.iteritems() -> an iterator over the (key, value) items of T"""
        return _TableIter(self, 1)

    def add(self, key: Any, value: Any) -> None:
        """T.add(k, v) -> add (as opposed to replace) a key k and value v"""
        k = _to_c(key)
        v = _to_c(value)
        self._e.append([k, _fold(k), v])

    # -- for mpgate ---------------------------------------------------------

    def _add_stored(self, key: Any, value: Any) -> None:
        """Appends a pair already in stored form (see _to_c)."""
        self._e.append([key, _fold(key), value])

    def _set_stored(self, key: Any, value: Any) -> None:
        """Sets a pair already in stored form (see _to_c)."""
        self._set(key, value)

    def _pairs(self) -> List[Tuple[Any, Any]]:
        """Returns the stored pairs for the wire (str, or bytes when not
        UTF-8), without raising."""
        return [(e[0], e[2]) for e in self._e if e[2] is not None]


table.__name__ = "mp_table"
table.__qualname__ = "mp_table"
table.__module__ = "builtins"


def _as_dict(obj: Any) -> dict:
    """Returns a mapping as a dict, first value per key (PyDict_Merge)."""
    if type(obj) is dict:
        return obj
    d = {}  # type: dict
    for k in obj.keys():
        if k not in d:
            d[k] = obj[k]
    return d


class _TableIter(object):
    """Iterator over a table's keys, items or values; fails if the table
    changes size during iteration (tableiter_next)."""

    __slots__ = ("_t", "_n", "_pos", "_what")

    def __init__(self, t: table, what: int) -> None:
        self._t = t
        self._n = len(t._e)
        self._pos = 0
        self._what = what

    def __iter__(self) -> "_TableIter":
        return self

    def __next__(self) -> Any:
        entries = self._t._e
        if self._n != len(entries):
            raise RuntimeError("table changed size during iteration")
        if self._pos >= len(entries):
            raise StopIteration
        e = entries[self._pos]
        self._pos += 1
        if self._what == 0:
            return _from_c(e[0])
        if self._what == 2:
            return _from_c(e[2])
        return (_from_c(e[0]), _from_c(e[2]))

    next = __next__


_TableIter.__name__ = "dictionary-iterator"


# ---------------------------------------------------------------------------
# stat and the finfo object (finfoobject.c).


def _apr_protection(mode: int) -> int:
    """Converts a Unix mode to apr_fileperms_t (one hex digit per octal one)."""
    prot = ((mode >> 6) & 7) << 8 | ((mode >> 3) & 7) << 4 | (mode & 7)
    if mode & _stat.S_ISUID:
        prot |= 0x8000
    if mode & _stat.S_ISGID:
        prot |= 0x4000
    if mode & _stat.S_ISVTX:
        prot |= 0x2000
    return prot


def _apr_filetype(mode: int) -> int:
    """Returns the apr_filetype_e of a Unix mode."""
    if _stat.S_ISREG(mode):
        return APR_REG
    if _stat.S_ISDIR(mode):
        return APR_DIR
    if _stat.S_ISCHR(mode):
        return APR_CHR
    if _stat.S_ISBLK(mode):
        return APR_BLK
    if _stat.S_ISFIFO(mode):
        return APR_PIPE
    if _stat.S_ISLNK(mode):
        return APR_LNK
    if _stat.S_ISSOCK(mode):
        return APR_SOCK
    return APR_UNKFILE


_FINFO_FIELDS = ("fname", "filetype", "valid", "protection", "user", "group", "size",
                 "inode", "device", "nlink", "atime", "mtime", "ctime", "name")
_FINFO_INDEX = ("protection", "inode", "device", "nlink", "user", "group", "size",
                "atime", "mtime", "ctime", "fname", "name")


class mp_finfo(object):
    """File information (apr_finfo_t) as mod_python shows it: attributes, and
    indexable with apache.FINFO_* (index 12, FINFO_FILETYPE, raises IndexError
    as in finfoobject.c). A missing file has filetype APR_NOFILE and every
    other attribute None (fname excepted)."""

    __slots__ = ("fname", "filetype", "valid", "protection", "user", "group", "size",
                 "inode", "device", "nlink", "atime", "mtime", "ctime", "name")

    def __init__(self, fname: Optional[str] = None, st: Optional[os.stat_result] = None) -> None:
        self.fname = fname
        if st is None:
            self.filetype = APR_NOFILE
            for f in _FINFO_FIELDS[2:]:
                setattr(self, f, None)
            return
        self.filetype = _apr_filetype(st.st_mode)
        self.valid = _APR_FINFO_UNIX_VALID
        self.protection = _apr_protection(st.st_mode)
        self.user = st.st_uid
        self.group = st.st_gid
        self.size = st.st_size
        self.inode = st.st_ino
        self.device = st.st_dev
        self.nlink = st.st_nlink
        self.atime = int(st.st_atime)
        self.mtime = int(st.st_mtime)
        self.ctime = int(st.st_ctime)
        self.name = None

    def __getitem__(self, i: int) -> Any:
        if not isinstance(i, int):
            raise TypeError("finfo indices must be integers")
        if i < 0 or i >= 12:
            raise IndexError("tuple index out of range")
        return getattr(self, _FINFO_INDEX[i])

    def __repr__(self) -> str:
        return "{" + ", ".join("%r: %r" % (f, getattr(self, f)) for f in _FINFO_FIELDS) + "}"


mp_finfo.__module__ = "builtins"


def stat(fname: str, wanted: int) -> mp_finfo:
    """Wraps apr_stat(): a missing file gives an mp_finfo with filetype
    APR_NOFILE; other failures raise OSError."""
    if not isinstance(fname, str):
        raise TypeError("stat() argument 1 must be str, not %s" % type(fname).__name__)
    if not isinstance(wanted, int):
        raise TypeError("an integer is required")
    try:
        st = os.lstat(fname) if wanted & _APR_FINFO_LINK else os.stat(fname)
    except FileNotFoundError:
        return mp_finfo(None, None)
    except OSError as e:
        raise OSError(e.errno, "apr_stat() failed") from None
    return mp_finfo(fname, st)
