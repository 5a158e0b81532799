"""mod_python.Session for mpgate: server-side sessions for handlers, kept by
the daemon's session store (Go, package session/) and reached only through
CALL frames (mpgate.worker.call; the contract is session.lock, unlock, load,
save, delete and cleanup). The stage before is the request (the session
cookie in req.headers_in), the one after the response (its Set-Cookie).

Follows grisha/mod_python: lib/python/mod_python/Session.py (3.5.0.5,
mod_python.md §5.3): BaseSession is a dict; Session() picks FileSession,
DbmSession or MemorySession from PythonOption mod_python.session.session_type
(3.2: session); the constructors keep their signatures and argument order;
construction reads the cookie (name from cookie_name, 3.2:
session_cookie_name; a SignedCookie with secret=), drops a malformed id,
locks, loads, and otherwise starts a new session with a new id, a new
cookie (path from application_path, 3.2: ApplicationPath, else the
handler's directory under DocumentRoot, else "/"; domain from
application_domain) and the default timeout of 1800 s; saving is never
automatic (MODPYTHON-111); records are the pickled dicts mod_python stores.

All three classes are served by the daemon's store: their storage
arguments (dbm file, directories, cleanup tuning) are accepted and kept as
attributes, but unused. A site's own subclass of BaseSession with its own
do_load/do_save/do_delete/do_cleanup keeps its storage; BaseSession's
implementations of those hooks are the daemon's store.

Deliberate differences from 3.5, each marked where it is made:
  * session ids come from secrets (a CSPRNG), in 3.5's format (32 hex);
  * locks are the daemon's, one per session id (no hash buckets of seven
    mutexes), held by the request and re-entrant within it; the daemon also
    releases them when the request ends, however it ends;
  * a second construction for the session the request already has (same
    id, or same cookie) returns the request's existing object instead of
    deadlocking (see _SessionType), and req.get_session() returns it too;
  * secret= works on Python 3 (mod_python.Cookie.SignedCookie), and the
    signature is checked before the store is asked for anything;
  * a record that cannot be unpickled is logged and starts a new session,
    for every class (3.5 does that for FileSession only);
  * options: PythonSessionOptions (req.get_session_options()) over
    PythonOption mod_python.session.* over the 3.2 names, with mpgate's
    opt-in cookie_secure, cookie_httponly and cookie_samesite; secret and
    timeout apply when the constructor is not given any, lock only to
    req.get_session();
  * a refused session cookie (malformed, or not signed with the secret) is
    logged at NOTICE, by name only;
  * MemorySession is shared by all workers, like the others;
  * a session the daemon's store does not have is looked for, once, in
    the store mod_python kept it in (FileSession directory, DbmSession
    file; PythonOption mpgate.session.import_from) and taken over by the
    daemon, which owns it from then on (mpgate.sessmigrate; README,
    "Sessions during a gradual migration");
  * cleanup() has the daemon purge expired sessions; 3.5's file and dbm
    helpers (dbm_cleanup, filesession_cleanup, mem_cleanup,
    make_filesession_dirs, the random generators) are gone.
"""

import dbm
import inspect
import os
import random
import re
import secrets
import tempfile
import time
import traceback
from hashlib import md5
from typing import Any, Dict, List, Optional, Tuple, Type

import _apache
from mpgate import sessmigrate, sitepickle, worker
from mpgate.request import CallError

from . import Cookie, apache

COOKIE_NAME = "pysid"
DFT_TIMEOUT = 30 * 60  # 30 min
DFT_LOCK = True
CLEANUP_CHANCE = 1000  # cleanups have 1 in CLEANUP_CHANCE chance

tempdir = tempfile.gettempdir()

# PICKLE_PROTOCOL is the pickle protocol of stored records: FileSession's
# (mod_python writes its session files with protocol 2).
PICKLE_PROTOCOL = 2

# SESSION_OPTIONS maps each key of req.get_session_options() (the suffixes
# PythonSessionOptions takes, config/build.go SessionOptionKeys) to the
# PythonOption names it is read from, the first present winning: mod_python
# 3.3+'s name, then 3.2's (mod_python.md §1.9).
SESSION_OPTIONS = (
    ("session_type", ("mod_python.session.session_type", "session")),
    ("cookie_name", ("mod_python.session.cookie_name", "session_cookie_name")),
    ("application_domain", ("mod_python.session.application_domain",)),
    ("application_path", ("mod_python.session.application_path", "ApplicationPath")),
    ("database_directory", ("mod_python.session.database_directory", "session_directory")),
    # mpgate's: mod_python 3.5 reads none of these.
    ("timeout", ("mod_python.session.timeout",)),
    ("lock", ("mod_python.session.lock",)),
    ("secret", ("mod_python.session.secret",)),
    ("cookie_secure", ("mod_python.session.cookie_secure",)),
    ("cookie_httponly", ("mod_python.session.cookie_httponly",)),
    ("cookie_samesite", ("mod_python.session.cookie_samesite",)),
)

_OPTION_PREFIX = "mod_python.session."

# SAMESITE_VALUES are the values cookie_samesite takes.
SAMESITE_VALUES = ("Strict", "Lax", "None")


def md5_hash(s: Any) -> str:
    """Returns the hex MD5 of s (a str is taken as Latin-1)."""
    if isinstance(s, str):
        s = s.encode("latin1")
    return md5(s).hexdigest()


def _new_sid(req: Any) -> str:
    """Returns a new session id: 32 lowercase hex digits, as mod_python's
    (validate_sid_re), from the operating system's CSPRNG. (3.5: the MD5 of
    the time, the pid, two random.Random numbers and the client's IP.)"""
    return secrets.token_hex(16)


validate_sid_re = re.compile("[0-9a-f]{32}$")


def _check_sid(sid: str) -> bool:
    """Reports whether sid has the form of a session id. The id may come
    from the client, so anything else is refused (MODPYTHON-135: in
    FileSession it named a file)."""
    return not not validate_sid_re.match(sid)


# ---------------------------------------------------------------------------
# Options.


def merge_options(python_options: Any, session_options: List[Tuple[str, str]]) -> Dict[str, str]:
    """Returns the session options in effect as a dict (keys of
    SESSION_OPTIONS, only those configured): session_options (the merged
    PythonSessionOptions pairs, keys with or without the mod_python.session.
    prefix; an empty value masks the key) over python_options (a PythonOption
    table or dict: mod_python.session.* over the 3.2 names)."""
    result = {}  # type: Dict[str, str]
    for key, names in SESSION_OPTIONS:
        for name in names:
            # an empty value masks the name (MODPYTHON-6), as if absent
            if name in python_options and python_options[name] != "":
                result[key] = python_options[name]
                break
    for k, v in session_options:
        if k.startswith(_OPTION_PREFIX):
            k = k[len(_OPTION_PREFIX):]
        if v == "":
            result.pop(k, None)
        else:
            result[k] = v
    return result


def _options(req: Any) -> Dict[str, str]:
    """Returns req's session options: req.get_session_options() when req
    has it (mpgate's request object), else from req.get_options()."""
    getter = getattr(req, "get_session_options", None)
    if getter is not None:
        return getter()
    return merge_options(req.get_options(), [])


def _option_bool(opts: Dict[str, str], key: str, default: bool) -> bool:
    """Returns the boolean option key: yes/true/on/1 or no/false/off/0, in
    any case; raises ValueError naming the option for anything else."""
    value = opts.get(key)
    if value is None:
        return default
    v = str(value).lower()
    if v in ("yes", "true", "on", "1"):
        return True
    if v in ("no", "false", "off", "0"):
        return False
    raise ValueError("session option %s = %r: want On or Off" % (key, value))


def _option_timeout(opts: Dict[str, str]) -> int:
    """Returns the timeout option in seconds, 0 when not set; raises
    ValueError naming the option when it is not a number."""
    value = opts.get("timeout")
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        raise ValueError("session option timeout = %r: want a number of seconds" % (value,)) from None


def _option_samesite(opts: Dict[str, str]) -> Optional[str]:
    """Returns the cookie_samesite option (Strict, Lax or None), None when
    not set; raises ValueError naming the option for another value."""
    value = opts.get("cookie_samesite")
    if value is None:
        return None
    if value not in SAMESITE_VALUES:
        raise ValueError("session option cookie_samesite = %r: want Strict, Lax or None" % (value,))
    return value


def _cookie_sid(req: Any, opts: Dict[str, str], secret: Any, log: bool) -> Optional[str]:
    """Returns the session id the request's session cookie names, or None
    when there is none, it is not signed with secret (when given;
    MODPYTHON-191: a plain cookie is not accepted then) or it is malformed.
    With log, a refused cookie is logged (its name only, never its value)."""
    name = opts.get("cookie_name", COOKIE_NAME)
    if secret:
        # 3.5 reads it with mismatch=IGNORE; EXCEPTION tells the refusal
        # apart from a missing cookie, so that it can be logged.
        try:
            cookie = Cookie.get_cookie(req, name, Class=Cookie.SignedCookie,
                                       secret=secret, mismatch=Cookie.Cookie.EXCEPTION)
        except Cookie.CookieError:
            if log:
                req.log_error("mod_python.Session: session cookie %s refused: not signed with the "
                              "session secret; a new session starts" % name, apache.APLOG_NOTICE)
            return None
    else:
        cookie = Cookie.get_cookie(req, name)
    if not cookie:
        return None
    sid = cookie.value
    if not _check_sid(sid):
        if log:
            req.log_error("mod_python.Session: session cookie %s refused: not a session id; "
                          "a new session starts" % name, apache.APLOG_NOTICE)
        return None
    return sid


# ---------------------------------------------------------------------------
# The request's sessions.
#
# Each session constructed during a request is registered on the request
# object (req._sessions, a list). mod_python deadlocks when a request
# constructs a second Session for the session it already has (handler + PSP
# page, handler + internal redirect target; mod_python.md §8 row 4): the
# second lock() waits for the first. mpgate returns the first object instead,
# and the daemon's lock is re-entrant for the request anyway, so nothing
# waits on its own request.


def _registry(req: Any) -> Optional[List["BaseSession"]]:
    """Returns req's list of sessions, creating it on a request object that
    has none; None when req takes no attributes."""
    reg = getattr(req, "_sessions", None)
    if reg is None:
        try:
            req._sessions = reg = []
        except AttributeError:
            return None
    return reg


def _find_session(req: Any, cls: Optional[type], sid: Any, secret: Any) -> Optional["BaseSession"]:
    """Returns the request's live (not invalidated) session, of class cls
    (or a subclass; any class when None), that a construction with sid and
    secret would give: the one with id sid when sid is given, else the one
    whose id the cookie names, or that was made from the same cookie
    (or from none) and replaced it by a new session."""
    reg = getattr(req, "_sessions", None)
    if not reg:
        return None
    live = [s for s in reg if not s._invalid and (cls is None or isinstance(s, cls))]
    if not live:
        return None
    if sid:
        for s in reversed(live):
            if s._sid == sid:
                return s
        return None
    opts = _options(req)
    candidate = _cookie_sid(req, opts, secret or opts.get("secret") or None, log=False)
    for s in reversed(live):
        if (candidate is not None and s._sid == candidate) or \
                (not s._explicit_sid and s._requested_sid == candidate):
            return s
    return None


def _bound_arguments(cls: type, req: Any, args: Tuple[Any, ...], kw: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Returns the arguments a call cls(req, *args, **kw) binds to the
    parameters of cls.__init__ (by name; **kw merged in), or None when they
    do not bind."""
    try:
        sig = inspect.signature(cls.__init__)
        bound = sig.bind(None, req, *args, **kw)
    except (TypeError, ValueError):
        return None
    out = {}  # type: Dict[str, Any]
    for name, value in bound.arguments.items():
        kind = sig.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            out[name] = value
    return out


class _SessionType(type):
    """The metaclass of BaseSession: constructing a session class (directly
    or through Session()) for a session the request already has, and that is
    an instance of that class, returns the existing object, without running
    __init__ again. Asked for a class the existing object is not an instance
    of (FileSession(req) after a DbmSession), it makes a new object for the
    same id: that one loads the session as last saved, shares the daemon's
    lock (re-entrant; one unlock() releases it for both), and the last
    save() wins."""

    def __call__(cls, req: Any, *args: Any, **kw: Any) -> Any:
        if getattr(req, "_sessions", None):
            a = _bound_arguments(cls, req, args, kw)
            if a is not None:
                existing = _find_session(req, cls, a.get("sid"), a.get("secret"))
                if existing is not None:
                    return existing
        return super().__call__(req, *args, **kw)


def get_session(req: Any) -> "BaseSession":
    """Returns the request's session (req.get_session(), the API mod_python's
    developers proposed and never released): the live session the request
    has for its cookie, whatever its class, else the last one it made from
    its cookie (e.g. with a secret= the options do not have), else a new one
    made as the session options say (session_type, secret, timeout, lock)."""
    opts = _options(req)
    secret = opts.get("secret") or None
    existing = _find_session(req, None, None, secret)
    if existing is not None:
        return existing
    for s in reversed(getattr(req, "_sessions", None) or []):
        if not s._invalid and not s._explicit_sid:
            return s
    cls = _session_class(req, opts)
    return cls(req, sid=0, secret=secret, timeout=_option_timeout(opts),
               lock=1 if _option_bool(opts, "lock", DFT_LOCK) else 0)


# ---------------------------------------------------------------------------
# Calls to the daemon's store.


def _call(method: str, **args: str) -> Dict[str, str]:
    """Calls the daemon's session store (see the module docstring)."""
    return worker.call(method, **args)


def _request_running(req: Any) -> bool:
    """Reports whether req is still being served (a request object from
    outside mpgate counts as running)."""
    ex = getattr(req, "_exchange", None)
    return ex is None or (not ex.ended and ex.broken is None)


class BaseSession(dict, metaclass=_SessionType):
    """A session: a dict of the values a site keeps for one browser across
    requests, plus its id, creation and access times and timeout. Subclasses
    may store it elsewhere by overriding do_load, do_save, do_delete and
    do_cleanup; BaseSession's own use the daemon's store."""

    def __init__(self, req: Any, sid: Any = None, secret: Any = None, lock: Any = 1,
                 timeout: Any = 0) -> None:

        self._req, self._sid, self._secret = req, sid, secret
        self._lock = lock
        self._new = 1
        self._created = 0  # type: Any
        self._accessed = 0  # type: Any
        self._timeout = 0  # type: Any
        self._locked = 0
        self._lock_on_load = False  # mpgate: do_load takes the lock too
        self._invalid = 0
        # mpgate: how it was constructed, for _find_session.
        self._explicit_sid = bool(sid)
        self._requested_sid = None  # type: Optional[str]

        dict.__init__(self)

        opts = _options(req)
        if not self._secret:
            # mpgate: the secret of PythonSessionOptions (or PythonOption
            # mod_python.session.secret) when the site passes none.
            self._secret = opts.get("secret") or None

        if not self._sid:
            # check to see if cookie exists (malformed or badly signed:
            # ignored, and logged)
            self._sid = _cookie_sid(req, opts, self._secret, log=True)

        if self._sid:
            if not _check_sid(self._sid):
                # Supplied explicitly by user of the class, raise an
                # exception and make the user code deal with it.
                raise ValueError("Invalid Session ID: sid=%s" % sid)
        self._requested_sid = self._sid

        self.init_lock()

        if self._sid:
            # attempt to load ourselves
            if self._lock and self._plain_storage():
                # mpgate: lock and load in one round trip to the daemon
                self._lock_on_load = True
                self._locked = 1
                self._req.register_cleanup(unlock_session_cleanup, self)
            else:
                self.lock()
            if self.load():
                self._new = 0

        if self._new:
            # make a new session
            if self._sid:
                self.unlock()  # unlock old sid
            self._sid = _new_sid(self._req)
            self.lock()  # lock new sid
            Cookie.add_cookie(self._req, self.make_cookie())
            self._created = time.time()
            if timeout:
                self._timeout = timeout
            else:
                # mpgate: the timeout option, else 3.5's default
                self._timeout = _option_timeout(opts) or DFT_TIMEOUT

        self._accessed = time.time()

        reg = _registry(req)
        if reg is not None:
            reg.append(self)

        # need cleanup?
        if random.randint(1, CLEANUP_CHANCE) == 1:
            self.cleanup()

    def _plain_storage(self) -> bool:
        """Reports whether lock, load and do_load are BaseSession's own, so
        that the lock can travel with the load (a subclass overriding them
        gets the separate calls it expects)."""
        cls = type(self)
        return (cls.lock is BaseSession.lock and cls.load is BaseSession.load
                and cls.do_load is BaseSession.do_load)

    def make_cookie(self) -> Cookie.Cookie:
        """Returns the session cookie: name=id (signed with the secret),
        domain from application_domain, path from application_path, else
        the directory of the handler's directive under DocumentRoot, else
        "/"; then mpgate's opt-in Secure, HttpOnly and SameSite."""
        opts = _options(self._req)
        session_cookie_name = opts.get("cookie_name", COOKIE_NAME)

        if self._secret:
            c = Cookie.SignedCookie(session_cookie_name, self._sid,
                                    secret=self._secret)  # type: Cookie.Cookie
        else:
            c = Cookie.Cookie(session_cookie_name, self._sid)

        if "application_domain" in opts:
            c.domain = opts["application_domain"]
        if "application_path" in opts:
            c.path = opts["application_path"]
        else:
            # the path where *Handler directive was specified (mpgate: no
            # handler list outside a phase, e.g. in a cleanup)
            hlist = getattr(self._req, "hlist", None)
            dirpath = hlist.directory if hlist is not None else None
            if dirpath:
                docroot = self._req.document_root()
                c.path = dirpath[len(docroot):]
            else:
                c.path = "/"

            # Sometimes there is no path, e.g. when Location is used. When
            # Alias or UserDir are used, then the path wouldn't match the
            # URI. In those cases just default to '/'
            if not c.path or not (self._req.uri or "").startswith(c.path):
                c.path = "/"

        # mpgate: attributes mod_python never set, each only when configured
        if _option_bool(opts, "cookie_secure", False):
            c.secure = True
        if _option_bool(opts, "cookie_httponly", False):
            c.httponly = True
        samesite = _option_samesite(opts)
        if samesite is not None:
            c.samesite = samesite

        return c

    def invalidate(self) -> None:
        """Expires the session cookie in the browser, deletes the session
        from the store and marks this object invalid (save() does nothing
        then; a later construction in this request starts a new session)."""
        c = self.make_cookie()
        c.expires = 0
        Cookie.add_cookie(self._req, c)
        self.delete()
        self._invalid = 1

    def load(self) -> int:
        """Loads the stored session into this object; 0 when there is none
        or it has expired (last accessed more than its timeout ago)."""
        dict = self.do_load()
        if dict == None:  # noqa: E711  (3.5's comparison, for dict-likes)
            return 0

        if (time.time() - dict["_accessed"]) > dict["_timeout"]:
            return 0

        self._created = dict["_created"]
        self._accessed = dict["_accessed"]
        self._timeout = dict["_timeout"]
        self.update(dict["_data"])
        return 1

    def save(self) -> None:
        """Stores the session (unless invalidated). Never automatic: a
        session not saved within its timeout expires."""
        if not self._invalid:
            dict = {"_data": self.copy(),
                    "_created": self._created,
                    "_accessed": self._accessed,
                    "_timeout": self._timeout}
            self.do_save(dict)

    def delete(self) -> None:
        """Removes the session from the store and empties this dict."""
        self.do_delete()
        self.clear()

    def init_lock(self) -> None:
        """A hook run before the session is first locked."""

    def lock(self) -> None:
        """Takes the session's lock (unless constructed with lock=0),
        waiting while another request holds it; the request's cleanup
        releases it (the daemon does too, when the request ends). The
        daemon gives up after its lock wait limit: CallError."""
        if self._lock:
            # mpgate: the daemon's per-id lock (3.5: _apache._global_lock)
            _call("session.lock", id=self._sid)
            self._locked = 1
            self._req.register_cleanup(unlock_session_cleanup, self)

    def unlock(self) -> None:
        """Releases the session's lock if this object took it."""
        if self._lock and self._locked:
            try:
                _call("session.unlock", id=self._sid)
            finally:
                self._locked = 0

    def is_new(self) -> bool:
        """Reports whether the session was created by this request."""
        return not not self._new

    def id(self) -> str:
        """Returns the session id."""
        return self._sid

    def created(self) -> Any:
        """Returns when the session was created (time.time())."""
        return self._created

    def last_accessed(self) -> Any:
        """Returns when the session was last accessed: by this request."""
        return self._accessed

    def timeout(self) -> Any:
        """Returns the session's timeout in seconds."""
        return self._timeout

    def set_timeout(self, secs: Any) -> None:
        """Sets the session's timeout in seconds (stored by save())."""
        self._timeout = secs

    def cleanup(self) -> None:
        """Removes expired sessions from the store (do_cleanup)."""
        self.do_cleanup()

    # -- storage: the daemon's store ------------------------------------------

    def do_load(self) -> Optional[Dict[str, Any]]:
        """Returns the stored record of this session (the dict save()
        builds), or None when the store has none or it cannot be unpickled
        (logged, as 3.5's FileSession does)."""
        if self._lock_on_load:
            self._lock_on_load = False
            r = _call("session.load", id=self._sid, lock="1")
        else:
            r = _call("session.load", id=self._sid)
        if r.get("found") != "1":
            # mpgate: a miss may be a session mod_python still has (a site
            # migrated section by section); imported=1: taken over before
            if r.get("imported") == "1":
                return None
            r = self._take_over()
            if r is None:
                return None
        blob = r.get("data", "").encode("utf-8", "surrogateescape")
        try:
            return sitepickle.loads(blob)
        except Exception:
            self._req.log_error("Error while loading a session : %s" % traceback.format_exc())
            return None

    def _take_over(self) -> Optional[Dict[str, str]]:
        """mpgate: after a miss of the daemon's store, reads this session
        from mod_python's own store (mpgate.sessmigrate: the FileSession
        directory or DbmSession file this object would use, or PythonOption
        mpgate.session.import_from) and hands it to the daemon, which owns it
        from then on; returns the daemon's record, or None when mod_python
        has none (or an expired one, or one refused: logged)."""
        src = _import_source(self)
        if src is None:
            return None
        kind, path = src
        req = self._req
        got = sessmigrate.read(kind, path, self._sid, lambda msg: req.log_error(msg, apache.APLOG_WARNING))
        if got is None:
            return None
        blob, created, accessed, timeout = got
        if timeout <= 0 or (time.time() - accessed) > timeout:
            return None  # expired in mod_python: not imported
        try:
            return _call("session.import", id=self._sid,
                         data=blob.decode("utf-8", "surrogateescape"),
                         created=repr(created), accessed=repr(accessed), timeout=str(timeout),
                         source="%s:%s" % (kind, path))
        except CallError as e:
            req.log_error("mod_python.Session: mod_python's session record in %s not taken over: %s; "
                          "a new session starts" % (path, sessmigrate.short(str(e), self._sid)),
                          apache.APLOG_WARNING)
            return None

    def do_save(self, dict: Dict[str, Any]) -> None:
        """Stores dict (the record save() builds) pickled, with its times,
        so that the store expires it at _accessed + _timeout."""
        blob = sitepickle.dumps(dict, PICKLE_PROTOCOL)
        _call("session.save", id=self._sid,
              data=blob.decode("utf-8", "surrogateescape"),
              created=repr(float(dict["_created"])),
              accessed=repr(float(dict["_accessed"])),
              timeout=str(int(dict["_timeout"])))

    def do_delete(self) -> None:
        """Removes this session from the store."""
        _call("session.delete", id=self._sid)

    def do_cleanup(self) -> None:
        """Has the store remove expired sessions once the response is out
        (a request cleanup, as 3.5's classes register theirs)."""
        self._req.register_cleanup(store_cleanup, self._req)
        self._req.log_error("%s: registered session cleanup." % type(self).__name__,
                            apache.APLOG_NOTICE)

    def __del__(self) -> None:
        # 3.5 unlocks here. Only while the session's own request runs: the
        # daemon releases a request's locks when it ends, and a session
        # collected during a later request must not release that request's
        # lock on the same id.
        if getattr(self, "_locked", 0) and _request_running(self._req):
            try:
                self.unlock()
            except CallError:
                pass


# IMPORT_OPTION is the PythonOption that says where a migrated section finds
# the sessions mod_python kept (mpgate.sessmigrate.parse_source): auto (the
# default: where this session's class would have kept them under mod_python),
# off, files:/DIR or dbm:/FILE.
IMPORT_OPTION = "mpgate.session.import_from"


def _import_source(sess: BaseSession) -> Optional[Tuple[str, str]]:
    """Returns (kind, path) of the mod_python store sess's session may be
    in, or None: IMPORT_OPTION's, else for auto a FileSession's directory or
    a DbmSession's file (as 3.5 locates them from the same options); other
    classes kept theirs in Apache's memory."""
    opts = sess._req.get_options()
    src = sessmigrate.parse_source(opts.get(IMPORT_OPTION, "") if IMPORT_OPTION in opts else "")
    if src is None or src[0] != "auto":
        return src
    if isinstance(sess, FileSession):
        return "files", sess._sessdir
    if isinstance(sess, DbmSession):
        return "dbm", sess._dbmfile
    return None


def unlock_session_cleanup(sess: BaseSession) -> None:
    """The request cleanup lock() registers. The daemon releases every lock
    of the request when it ends, right after its cleanups: this one only
    forgets the lock, sparing a round trip per request."""
    sess._locked = 0


def store_cleanup(req: Any) -> None:
    """The request cleanup do_cleanup registers: the daemon purges expired
    sessions."""
    r = _call("session.cleanup")
    req.log_error("Session cleanup: purged %s expired sessions" % r.get("purged", "0"),
                  apache.APLOG_NOTICE)


###########################################################################
## DbmSession


class DbmSession(BaseSession):
    """3.5's DbmSession: the dbm file it names (dbm, or from the options) is
    kept in _dbmfile but not used; the daemon's store serves it."""

    def __init__(self, req: Any, dbm: Any = None, sid: Any = 0, secret: Any = None, dbmtype: Any = dbm,
                 timeout: Any = 0, lock: Any = 1) -> None:

        if not dbm:
            opts = req.get_options()
            if "mod_python.dbm_session.database_filename" in opts:
                dbm = opts["mod_python.dbm_session.database_filename"]
            elif "session_dbm" in opts:
                # For backwards compatability with versions of mod_python
                # prior to 3.3.
                dbm = opts["session_dbm"]
            elif "mod_python.dbm_session.database_directory" in opts:
                dbm = os.path.join(opts.get("mod_python.dbm_session.database_directory", tempdir), "mp_sess.dbm")
            elif "mod_python.session.database_directory" in opts:
                dbm = os.path.join(opts.get("mod_python.session.database_directory", tempdir), "mp_sess.dbm")
            else:
                # For backwards compatability with versions of mod_python
                # prior to 3.3.
                dbm = os.path.join(opts.get("session_directory", tempdir), "mp_sess.dbm")

        self._dbmfile = dbm
        self._dbmtype = dbmtype

        BaseSession.__init__(self, req, sid=sid, secret=secret,
                             timeout=timeout, lock=lock)


###########################################################################
## FileSession

DFT_FAST_CLEANUP = True
DFT_VERIFY_CLEANUP = True
DFT_GRACE_PERIOD = 240
DFT_CLEANUP_TIME_LIMIT = 2


class FileSession(BaseSession):
    """3.5's FileSession: the directory and cleanup tuning it reads (the
    arguments, or the mod_python.file_session.* options) are kept in
    attributes but not used; the daemon's store serves it."""

    def __init__(self, req: Any, sid: Any = 0, secret: Any = None, timeout: Any = 0, lock: Any = 1,
                 fast_cleanup: Any = -1, verify_cleanup: Any = -1) -> None:

        opts = req.get_options()

        if fast_cleanup == -1:
            if "mod_python.file_session.enable_fast_cleanup" in opts:
                self._fast_cleanup = true_or_false(opts.get("mod_python.file_session.enable_fast_cleanup",
                                                            DFT_FAST_CLEANUP))
            else:
                # For backwards compatability with versions of mod_python
                # prior to 3.3.
                self._fast_cleanup = true_or_false(opts.get("session_fast_cleanup", DFT_FAST_CLEANUP))
        else:
            self._fast_cleanup = fast_cleanup

        if verify_cleanup == -1:
            if "mod_python.file_session.verify_session_timeout" in opts:
                self._verify_cleanup = true_or_false(opts.get("mod_python.file_session.verify_session_timeout",
                                                              DFT_VERIFY_CLEANUP))
            else:
                # For backwards compatability with versions of mod_python
                # prior to 3.3.
                self._verify_cleanup = true_or_false(opts.get("session_verify_cleanup", DFT_VERIFY_CLEANUP))
        else:
            self._verify_cleanup = verify_cleanup

        if "mod_python.file_session.cleanup_grace_period" in opts:
            self._grace_period = int(opts.get("mod_python.file_session.cleanup_grace_period", DFT_GRACE_PERIOD))
        else:
            # For backwards compatability with versions of mod_python prior
            # to 3.3.
            self._grace_period = int(opts.get("session_grace_period", DFT_GRACE_PERIOD))

        if "mod_python.file_session.cleanup_time_limit" in opts:
            self._cleanup_time_limit = int(opts.get("mod_python.file_session.cleanup_time_limit",
                                                    DFT_CLEANUP_TIME_LIMIT))
        else:
            # For backwards compatability with versions of mod_python prior
            # to 3.3.
            self._cleanup_time_limit = int(opts.get("session_cleanup_time_limit", DFT_CLEANUP_TIME_LIMIT))

        if "mod_python.file_session.database_directory" in opts:
            self._sessdir = os.path.join(opts.get("mod_python.file_session.database_directory", tempdir), "mp_sess")
        elif "mod_python.session.database_directory" in opts:
            self._sessdir = os.path.join(opts.get("mod_python.session.database_directory", tempdir), "mp_sess")
        else:
            # For backwards compatability with versions of mod_python prior
            # to 3.3.
            self._sessdir = os.path.join(opts.get("session_directory", tempdir), "mp_sess")

        if timeout:
            self._cleanup_timeout = timeout
        else:
            self._cleanup_timeout = DFT_TIMEOUT

        BaseSession.__init__(self, req, sid=sid, secret=secret,
                             timeout=timeout, lock=lock)


###########################################################################
## MemorySession


class MemorySession(BaseSession):
    """3.5's MemorySession (a dict in the process there): the daemon's store
    serves it, so it is shared by every worker. sdict stays empty."""

    sdict = {}  # type: Dict[str, Any]

    def __init__(self, req: Any, sid: Any = 0, secret: Any = None, timeout: Any = 0, lock: Any = 1) -> None:

        BaseSession.__init__(self, req, sid=sid, secret=secret,
                             timeout=timeout, lock=lock)


###########################################################################
## Session


def _session_class(req: Any, opts: Dict[str, str]) -> Type[BaseSession]:
    """Returns the class session_type names (3.5's Session()), by default
    the one for the platform: DbmSession, since workers are processes that
    serve one request at a time (apache.mpm_query)."""
    if "session_type" in opts:
        sess_type = opts["session_type"]
    else:
        # no session class in config so get the default for the platform
        threaded = _apache.mpm_query(apache.AP_MPMQ_IS_THREADED)
        forked = _apache.mpm_query(apache.AP_MPMQ_IS_FORKED)
        daemons = _apache.mpm_query(apache.AP_MPMQ_MAX_DAEMONS)

        if (threaded and ((not forked) or (daemons == 1))):
            sess_type = "MemorySession"
        else:
            sess_type = "DbmSession"

    if sess_type == "FileSession":
        return FileSession
    elif sess_type == "DbmSession":
        return DbmSession
    elif sess_type == "MemorySession":
        return MemorySession
    # TODO Add capability to load a user defined class (mod_python's).
    raise Exception("Unknown session type %s" % sess_type)


def Session(req: Any, sid: Any = 0, secret: Any = None, timeout: Any = 0, lock: Any = 1) -> BaseSession:
    """Returns the session of the class PythonOption
    mod_python.session.session_type names (or PythonSessionOptions
    session_type): the request's existing one when it has it."""
    sess = _session_class(req, _options(req))
    return sess(req, sid=sid, secret=secret,
                timeout=timeout, lock=lock)


## helper functions
def true_or_false(item: Any) -> bool:
    """Returns the boolean of a PythonOption value (yes/true/1, no/false/0);
    raises Exception for anything else (3.5's helper)."""
    try:
        item = item.lower()
    except AttributeError:
        pass
    if item in ["yes", "true", "1", 1, True]:
        return True
    elif item in ["no", "false", "0", 0, None, False]:
        return False
    else:
        raise Exception
