"""mod_python.psp for mpgate: Python Server Pages -- the handler for .psp
files, the PSP class that compiles a page (through the parser in _psp) and
runs it with req, form, psp and session, the error page, and the
side-by-side source view of PythonDebug.

Adapted from grisha/mod_python: lib/python/mod_python/psp.py (3.5, Apache
License 2.0, Copyright Gregory Trubetskoy and the Apache Software
Foundation) and kept to what Debian's libapache2-mod-python 3.5 does on
Python 3 (mod_python.md §5.5): pages see the same global names, errors go
through the same lines (so PythonDebug tracebacks match), and exceptions
from a page are re-raised as 3.5 re-raises them.

Deliberate differences (docs/compat.md):
  * SERVER_RETURN raised by a page (psp.redirect() among them) reaches the
    dispatcher as raised; 3.5 re-raises it as SERVER_RETURN(SERVER_RETURN),
    which the dispatcher answers with a 500 (grisha/mod_python#55);
  * compiled pages are cached per worker, by path, and recompiled when the
    page or a file it includes changes (mtime, size or inode, checked on
    every request); 3.5 looks at the page's mtime only. Both caches keep the
    512 most recently used entries (3.5's least-hit eviction fails on Python 3
    with a TypeError comparing code objects);
  * the dbm cache (mod_python.psp.cache_database_filename, PSPDbmCache) and
    precompiled <page>.psc files are ignored: both are broken in 3.5 on
    Python 3 (a 500);
  * the PythonDebug source view reads the page as UTF-8, as the parser
    does; 3.5 reads it in the locale's encoding (ASCII under Debian's
    Apache, LANG=C), failing with a 500 on any other byte;
  * a traceback through a page compiled from a string (File "__psp__")
    shows no source line; 3.5 shows the line of its own psp.py with that
    number (the page's globals have psp's __loader__, which linecache asks);
  * a page mentioning session in a request that already has its session (a
    handler made it) uses that session and leaves its lock to its maker; 3.5
    deadlocks there. A session the page's run made is unlocked at the end,
    as in 3.5.
"""

from . import apache, Session, util, _psp
import _apache

import sys
import os
import marshal
import types
import dbm, dbm  # noqa: E401  (3.5's import line: the page globals have dbm)
import tempfile
import collections
import threading
import typing as _typing
try:
    from html import escape
except:  # noqa: E722
    from cgi import escape

PY2 = sys.version[0] == '2'

# dbm types for cache
dbm_types = {}

tempdir = tempfile.gettempdir()

# The names of 3.5's psp module globals: a page runs in a copy of these (it
# may use apache, util, os, escape ... without importing them), and only
# these, whatever else this module defines.
_PAGE_GLOBALS = (
    "__name__", "__package__", "__loader__", "__spec__", "__file__", "__cached__", "__builtins__",
    "apache", "Session", "util", "_psp", "_apache", "sys", "os", "marshal", "types", "dbm",
    "tempfile", "escape", "PY2", "dbm_types", "tempdir", "path_split", "code2str", "str2code",
    "PSPInterface", "PSP", "parse", "parsestring", "handler", "dbm_cache_type",
    "dbm_cache_store", "dbm_cache_get", "HitsCache", "mem_scache", "FileCache", "mem_fcache",
)


class _NoSource:
    """The __loader__ of a page's globals: it has no source to give, so
    that a traceback through a page compiled from a string (file name
    "__psp__") shows no source line. (3.5's pages have psp's own loader,
    and such a traceback shows the line of psp.py with the page's line
    number.)"""

    def get_source(self, name: str) -> None:
        return None


_no_source = _NoSource()


def _page_globals() -> _typing.Dict[str, _typing.Any]:
    """Returns a new dict of the globals a page starts with: 3.5's psp
    module globals (whose module has no docstring)."""
    g = globals()
    scope = {k: g[k] for k in _PAGE_GLOBALS if k in g}
    scope["__doc__"] = None
    scope["__loader__"] = _no_source
    return scope


def path_split(filename):
    """Returns (directory + "/", name) of filename, the split the parser
    wants (its dir argument is concatenated, not joined)."""

    dir, fname = os.path.split(filename)
    if sys.platform.startswith("win"):
        dir += "\\"
    else:
        dir += "/"

    return dir, fname


def code2str(c):
    """3.5's marshalling of a code object for its dbm cache (kept for
    sites that call it; the cache itself is not used)."""

    ctuple = (c.co_argcount, c.co_nlocals, c.co_stacksize, c.co_flags,
              c.co_code, c.co_consts, c.co_names, c.co_varnames, c.co_filename,
              c.co_name, c.co_firstlineno, c.co_lnotab)

    return marshal.dumps(ctuple)


def str2code(s):
    """The reverse of code2str, as 3.5 has it."""

    return types.CodeType(*marshal.loads(s))


class _InstanceInfo:
    """A page's __mp_info__, as mod_python 3.5 gives it (its importer's
    per-module record); a class of its own once, not one per page run."""

    def __init__(self, label, file, cache):
        self.label = label
        self.file = file
        self.cache = cache
        self.children = {}


class PSPInterface:
    """The psp object a page sees: error page, form data, redirect."""

    def __init__(self, req, filename, form):
        self.req = req
        self.filename = filename
        self.error_page = None
        self.form = form

    def set_error_page(self, page):
        """Runs page (relative to DocumentRoot when it starts with "/",
        else to this page's directory) if this page raises."""
        if page and page[0] == '/':
            # relative to document root
            self.error_page = PSP(self.req, self.req.document_root() + page)
        else:
            # relative to same dir we're in
            dir = path_split(self.filename)[0]
            self.error_page = PSP(self.req, dir + page)

    def apply_data(self, object):
        """Calls object with the request's form fields as arguments
        (util.apply_fs_data), making the form if needed."""

        if not self.form:
            if not hasattr(self.req, 'form'):
                # no existing form, so need to create one,
                # form has to be saved back to request object
                # so that error page can access it if need be
                self.form = util.FieldStorage(self.req, keep_blank_values=1)
                self.req.form = self.form
            else:
                self.form = self.req.form

        return util.apply_fs_data(object, self.form, req=self.req)

    def redirect(self, location, permanent=0):
        """Redirects the client to location (util.redirect): raises
        SERVER_RETURN."""

        util.redirect(self.req, location, permanent)


class PSP:
    """A PSP page, compiled: from a file (filename, relative to the
    request's directory; the request's file by default) or from a string
    (bytes)."""

    code = None
    dbmcache = None

    def __init__(self, req, filename=None, string=None, vars={}):

        if (string and filename):
            raise ValueError("Must specify either filename or string")

        self.req, self.vars = req, vars

        if not filename and not string:
            filename = req.filename

        self.filename, self.string = filename, string

        if filename:

            # if filename is not absolute, default to our guess
            # of current directory
            if not os.path.isabs(filename):
                base = os.path.split(req.filename)[0]
                self.filename = os.path.join(base, filename)

            self.load_from_file()
        else:

            cached = mem_scache.get(string)
            if cached:
                self.code = cached
            else:
                source = _psp.parsestring(string)
                code = compile(source, "__psp__", "exec")
                mem_scache.store(string,code)
                self.code = code

    def cache_get(self, filename, mtime):
        """Returns the cached code of filename while neither it nor a file
        it included changed (the cache stats them; mtime is not used)."""

        return mem_fcache.get(filename, mtime)

    def cache_store(self, filename, files, code):
        """Caches code as filename's, with the files its parse read
        (_psp._recording); the dbm cache option is not used."""

        mem_fcache.store(filename, files, code)

    def cfile_get(self, filename, mtime):
        """3.5 loads a precompiled <name>.psc here, with code that fails on
        Python 3; mpgate compiles the page instead."""

        return None

    def load_from_file(self):
        """Compiles self.filename (404 when it is not a file), or takes its
        code from the cache."""

        filename = self.filename

        if not os.path.isfile(filename):
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)

        # check cache
        code = self.cache_get(filename, None)

        # finally parse and compile
        if not code:
            dir, fname = path_split(self.filename)
            with _psp._recording() as files:
                source = _psp.parse(fname, dir)
            code = compile(source, filename, "exec")

            # store in cache
            self.cache_store(filename, files, code)

        self.code = code

    def run(self, vars={}, flush=0):
        """Runs the page: its output goes to the request. With an error
        page set, an exception runs that page (with exception = (type,
        value, traceback)); otherwise it is re-raised. A session the page
        uses is saved after the page succeeds."""

        code, req = self.code, self.req

        # does this code use session?
        session = None
        if "session" in code.co_names:
            if not hasattr(req, 'session'):
                # no existing session, so need to create one,
                # session has to be saved back to request object
                # to avoid deadlock if error page tries to use it
                made = _sessions_made(req)
                req.session = session = Session.Session(req)
                if any(s is session for s in made):
                    # mpgate: the request's own session (a handler made
                    # it): used, left locked for its maker
                    session = _Borrowed(session)

        # does this code use form?
        form = None
        if "form" in code.co_names:
            if not hasattr(req, 'form'):
                # no existing form, so need to create one,
                # form has to be saved back to request object
                # so that error page can access it if need be
                form = util.FieldStorage(req, keep_blank_values=1)
                req.form = form
            else:
                form = req.form

        # create psp interface object
        psp = PSPInterface(req, self.filename, form)

        try:
            global_scope = _page_globals()
            global_scope.update({"req":req, "form":form, "psp":psp})

            # strictly speaking, session attribute only needs
            # to be populated if referenced, but historically
            # code has always populated it even if None, so
            # preserve that just in case changing it breaks
            # some users code
            if hasattr(req, 'session'):
                global_scope.update({"session":req.session})
            else:
                global_scope.update({"session":None})

            global_scope.update(self.vars) # passed in __init__()
            global_scope.update(vars)      # passed in run()

            global_scope["__file__"] = req.filename
            global_scope["__mp_info__"] = _InstanceInfo(
                    None, req.filename, None)
            global_scope["__mp_path__"] = []

            try:
                exec(code, global_scope)
                if flush:
                    req.flush()

                # the mere instantiation of a session changes it
                # (access time), so it *always* has to be saved
                if hasattr(req, 'session'):
                    req.session.save()
            except:
                et, ev, etb = sys.exc_info()
                if psp.error_page:
                    # run error page
                    psp.error_page.run({"exception": (et, ev, etb)}, flush)
                elif isinstance(ev, apache.SERVER_RETURN):
                    # mpgate: as raised, for the dispatcher (3.5 wraps it
                    # in another SERVER_RETURN: grisha/mod_python#55)
                    raise
                else:
                    if PY2:
                        exec('raise et, ev, etb')
                    else:
                        raise et(ev).with_traceback(etb)
        finally:
            # if session was created here, unlock it and don't leave
            # it behind in request object in unlocked state as it
            # will just cause problems if then used by subsequent code
            if session is not None:
                session.unlock()
                del req.session

    def __str__(self):
        self.req.content_type = 'text/html'
        self.run()
        return ""

    def display_code(self):
        """
        Display a niceliy HTML-formatted side-by-side of
        what PSP generated next to orinial code.
        """

        req, filename = self.req, self.filename

        # Because of caching, source code is most often not
        # available in this object, so we read it here
        # (instead of trying to get it in __init__ somewhere)

        dir, fname = path_split(filename)

        # mpgate: the page as UTF-8, as the parser reads it (3.5 opens it
        # in the locale's encoding: ASCII under Apache's LANG=C)
        source = open(filename, encoding="utf-8").read().splitlines()
        pycode = _psp.parse(fname, dir).splitlines()

        source = [s.rstrip() for s in source]
        pycode = [s.rstrip() for s in pycode]

        req.write("<table>\n<tr>")
        for s in ("", "&nbsp;PSP-produced Python Code:",
                  "&nbsp;%s:" % filename):
            req.write("<td><tt>%s</tt></td>" % s)
        req.write("</tr>\n")

        n = 1
        for line in pycode:
            req.write("<tr>")
            left = escape(line).replace("\t", " "*4).replace(" ", "&nbsp;")
            if len(source) < n:
                right = ""
            else:
                right = escape(source[n-1]).replace("\t", " "*4).replace(" ", "&nbsp;")
            for s in ("%d.&nbsp;" % n,
                      "<font color=blue>%s</font>" % left,
                      "&nbsp;<font color=green>%s</font>" % right):
                req.write("<td><tt>%s</tt></td>" % s)
            req.write("</tr>\n")

            n += 1
        req.write("</table>\n")


class _Borrowed:
    """A session run() uses but did not make: its unlock() does nothing."""

    def __init__(self, session: _typing.Any) -> None:
        self.session = session

    def unlock(self) -> None:
        pass


def _sessions_made(req: _typing.Any) -> _typing.List[_typing.Any]:
    """Returns the sessions req has made so far (mod_python.Session keeps
    them in req._sessions)."""
    return list(getattr(req, "_sessions", None) or [])


def parse(filename, dir=None):
    """Returns the Python code of the PSP file dir + filename."""
    if dir:
        return _psp.parse(filename, dir)
    else:
        return _psp.parse(filename)

def parsestring(str):
    """Returns the Python code of the PSP source str (bytes)."""

    return _psp.parsestring(str)

def handler(req):
    """The content handler for .psp files (PythonHandler mod_python.psp):
    runs the request's page; with PythonDebug On, a request for a name
    ending in "_" shows the page's source next to its Python code."""

    req.content_type = "text/html"

    config = req.get_config()
    debug = debug = int(config.get("PythonDebug", 0))

    if debug and req.filename[-1] == "_":
        p = PSP(req, req.filename[:-1])
        p.display_code()
    else:
        p = PSP(req)
        p.run()

    return apache.OK

def dbm_cache_type(dbmfile):
    """3.5's dbm module lookup for its dbm cache, kept as it is (unused)."""

    global dbm_types

    if dbmfile in dbm_types:
        return dbm_types[dbmfile]

    module = dbm.whichdb(dbmfile)
    if module:
        dbm_type = __import__(module)
        dbm_types[dbmfile] = dbm_type
        return dbm_type
    else:
        # this is a new file
        return anydbm  # noqa: F821  (3.5's: NameError on Python 3)

def dbm_cache_store(srv, dbmfile, filename, mtime, val):
    """Unused: the dbm cache option is ignored (broken in 3.5 on Python 3)."""

def dbm_cache_get(srv, dbmfile, filename, mtime):
    """Unused: the dbm cache option is ignored (broken in 3.5 on Python 3)."""
    return None


class HitsCache:
    """A bounded cache of compiled page sources, by content: the size most
    recently used entries (3.5 evicts the least hit, 512 entries)."""

    def __init__(self, size: int = 512) -> None:
        self.cache = collections.OrderedDict()  # type: collections.OrderedDict
        self.size = size
        self.lock = threading.Lock()  # guards cache

    def store(self, key: _typing.Any, val: _typing.Any) -> None:
        with self.lock:
            self.cache[key] = val
            self.cache.move_to_end(key)
            while len(self.cache) > self.size:
                self.cache.popitem(last=False)

    def get(self, key: _typing.Any) -> _typing.Any:
        with self.lock:
            val = self.cache.get(key)
            if val is not None:
                self.cache.move_to_end(key)
            return val

mem_scache = HitsCache()


def _signature(path: str) -> _typing.Optional[_typing.Tuple[int, int, int, int]]:
    """Returns what tells that a file changed: mtime, size, inode, device;
    None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


class FileCache(HitsCache):
    """Compiled pages by file name, each with the files its parse read and
    their signatures then (_psp._recording): get() returns the code only
    while none of them changed (mod_python checks the page's mtime)."""

    def store(self, filename: str, files: _typing.Any, code: _typing.Any) -> None:  # type: ignore[override]
        HitsCache.store(self, filename, (tuple(files), code))

    def get(self, filename: str, mtime: _typing.Any = None) -> _typing.Any:  # type: ignore[override]
        entry = HitsCache.get(self, filename)
        if entry is None:
            return None
        files, code = entry
        if not files:
            return None
        for path, sig in files:
            if _signature(path) != sig:
                with self.lock:
                    if self.cache.get(filename) is entry:
                        del self.cache[filename]
                return None
        return code

mem_fcache = FileCache()
