"""The worker's importer of site modules: Python files of the site (handler
modules, targets of apache.import_module, and what those import from the
site's tree) are loaded once per worker keyed by their absolute path, are
not entered in sys.modules, and are reloaded into new module objects when the
daemon says they (or modules they depend on) changed.

This is the design of mod_python 3.3's importer (grisha/mod_python:
lib/python/mod_python/importer.py, release-3-3-1; its documentation is
Doc/modpython4.tex, import_module) with three differences: staleness comes
from the daemon (CONTROL modules.invalidate, dispatch/modules.go), never from
a stat per request; `import pkg.sub`, `from pkg import sub` and relative
imports inside site packages work; and the dependencies found are reported
to the daemon in END (one ("module", JSON) info entry per module loaded,
reloaded, or given new dependencies during the request).

Where it sits: mpgate.worker calls begin_request/end_request around each
REQUEST and invalidate for CONTROL modules.invalidate; mod_python.apache's
dispatcher and import_module call enter_handler and import_module;
install_import_hooks (at worker start) routes `import` statements and
importlib.import_module calls made by site modules here. mpgate.sitepickle
uses site_reference, load_for_pickle and resolve_for_pickle.

A site module is a source file found outside INSTALLED_DIRS (the standard
library, site/dist-packages, the interpreter's startup sys.path). Everything
else (builtins, frozen and extension modules, installed packages, mpgate's
own runtime) goes through the normal import system and is never reloaded.

Search order for a top-level name N imported by site module F (an `import`
statement or importlib.import_module): F's __mp_path__, dirname(F) (a hit
there is a member of F's package when F is in one, as Python 2's implicit
relative import), the directory holding F's top-level package, the
PythonOption mod_python.importer.path, then what Python's own import would
do: sys.modules, sys.path (where a standard library name is the standard
library's). Builtin, frozen and mpgate's own modules are always imported
normally. apache.import_module searches its path argument,
the calling site module's directory and __mp_path__, importer.path, the
handler's directory, then sys.path; for the dispatcher the handler's
directory comes first (3.3 passed it as the path argument).

Where a site module meets Python's own machinery:
  * while its code runs, a site module is in sys.modules under its name, as
    Python guarantees (dataclasses, typing and enum look classes' modules up
    there), unless that name belongs to a module of Python's own; afterwards
    it is not. What its code puts there in its stead (`sys.modules[__name__]
    = obj`) is what imports of it give, as in Python.
  * code that is not a site module (the standard library, installed
    packages, exec() with fresh globals) importing a site module by name
    through sys.path gets the importer's module, lent to sys.modules until
    the request ends (_SiteFinder), never a second copy run again; and a
    standard library name found through sys.path is the standard library's,
    whatever handler directory comes first (an email.py beside one handler
    is its neighbours' email, not smtplib's nor another site's).
  * importlib.reload (and imp.reload) re-runs a site module's file in the
    module's own namespace, as Python does.

An import statement's answer is kept in the importing module's fast cache
until something it depends on may have changed (_epoch): per statement the
hook costs about as much as Python's own import of a module already in
sys.modules.

Handlers run one request at a time per worker, but threads they start may
import while a module loads: _lock guards the importer's state and is
released while site code runs; a thread wanting a module another thread is
loading waits for it, and gets the partial module when waiting would
deadlock (Python 3's per-module locks).
"""

import ast
import builtins
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import sysconfig
import threading
import time
import traceback
import types
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import _apache

# Log levels (apache.APLOG_*; mod_python.apache imports this module).
_APLOG_ERR = 3
_APLOG_WARNING = 4
_APLOG_NOTICE = 5

_RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Frames in these directories are mpgate's runtime, never "the caller" of
# apache.import_module (mod_python.md §4.2; 3.3's _parent_context skipped
# its own frames).
_RUNTIME_PREFIXES = (os.path.join(_RUNTIME_DIR, "mod_python") + os.sep,
                     os.path.join(_RUNTIME_DIR, "mpgate") + os.sep)

# Packages served by the worker's own import hook (bootstrap.py); always
# imported normally.
_OWN_PACKAGES = frozenset(("mod_python", "mpgate", "_apache"))

_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)

# The option names (mod_python 3.3, Doc/modpython4.tex; mpgate's log option).
_OPTION_PATH = "mod_python.importer.path"
_OPTION_LOG = "mod_python.importer.log"

_TRUE = frozenset(("on", "yes", "true", "1"))
_FALSE = frozenset(("off", "no", "false", "0"))


def _norm_dir(d: str) -> str:
    """Returns a directory as an absolute, normalised path."""
    return os.path.normcase(os.path.abspath(d or os.curdir))


def _norm_file(f: str) -> str:
    """Returns the key of a module file: absolute and normpath'd, not
    realpath'd (symlinked trees stay distinct, as the daemon watches them)."""
    return os.path.normpath(os.path.abspath(f))


def _installed_dirs() -> frozenset:
    """Returns the directories of the standard library and installed
    packages: the interpreter's own sys.path when this module is first
    imported (bootstrap.py has removed mpgate's directory from it) plus the
    sysconfig paths."""
    dirs = set()
    for d in sys.path:
        if d:
            dirs.add(_norm_dir(d))
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if paths.get(key):
            dirs.add(_norm_dir(paths[key]))
    return frozenset(dirs)


INSTALLED_DIRS = _installed_dirs()


# ---------------------------------------------------------------------------
# State


class _Record:
    """One site module of this worker, keyed by file.

    kind is "module" or "package" (source files: reloadable, reported),
    "namespace" (a directory without __init__.py; file is the directory) or
    "extension" (a compiled member of a site package); the last two are
    never reloaded nor reported. instance is the _Instance of module; deps
    are kept there.
    """

    __slots__ = ("file", "name", "kind", "_parent", "module", "instance", "generation", "mp_path",
                 "stale", "stale_reason", "reason", "stat", "loaded")

    def __init__(self, file: str, name: str, kind: str, parent: "Optional[_Record]", mp_path: List[str]) -> None:
        self.file = file
        self.name = name
        self.kind = kind
        self._parent = parent
        self.module = None  # type: Optional[types.ModuleType]
        self.instance = None  # type: Optional[_Instance]
        self.generation = 0
        self.mp_path = mp_path
        self.stale = False
        self.stale_reason = ""
        self.reason = ""
        self.stat = (0, 0, 0)  # mtime_ns, size, ino of the file as read
        self.loaded = 0.0

    @property
    def reportable(self) -> bool:
        return self.kind in ("module", "package")

    @property
    def parent(self) -> "Optional[_Record]":
        """The record of the package this module is a member of: the one
        loaded now (a package whose first import failed after loading a
        member is loaded again as a new record)."""
        p = self._parent
        if p is None:
            return None
        return _live_record(p.file) or p


class _Instance:
    """One generation of a site module: stored in its globals as
    __mp_info__ (3.3's name), which is how an import made by its code is
    recognised as a site import. deps are the site files it imported (the
    record's deps while it is the current generation)."""

    __slots__ = ("record", "generation", "globals", "deps", "committed", "export", "fast")

    def __init__(self, record: _Record, generation: int, globals: dict) -> None:
        self.record = record
        self.generation = generation
        self.globals = globals
        self.deps = {}  # type: Dict[str, None]
        self.committed = False
        # What the module's code put in sys.modules in its own stead, which
        # imports of it give (Python's `sys.modules[__name__] = obj`).
        self.export = None  # type: Any
        # The answers of its import statements: (name, fromlist, level) ->
        # (_epoch, _fast_ctx, module or _NORMAL); see _import.
        self.fast = {}  # type: Dict[Tuple[Any, ...], Tuple[Any, ...]]

    def __repr__(self) -> str:
        return "<mpgate site module %r generation %d from %r>" % (self.record.name, self.generation, self.record.file)


class _Context:
    """What the importer needs to know about the running request."""

    __slots__ = ("req", "cache", "autoreload", "debug", "handler_dir", "root", "_options", "_path", "_log")

    def __init__(self, req: Any) -> None:
        self.req = req
        # The per-request module cache (3.3's _request_modules_cache): one
        # module object per file for the whole request.
        self.cache = {}  # type: Dict[str, types.ModuleType]
        config = req.get_config()
        self.autoreload = config["PythonAutoReload"] == "1" if "PythonAutoReload" in config else True
        self.debug = config["PythonDebug"] == "1" if "PythonDebug" in config else False
        self.handler_dir = None  # type: Optional[str]
        self.root = None  # type: Optional[str]
        self._options = None  # type: Optional[Dict[str, str]]
        self._path = None  # type: Optional[List[str]]
        self._log = None  # type: Optional[bool]

    def option(self, key: str) -> Optional[str]:
        """Returns PythonOption key in effect, None when unset or masked by
        an empty value. Read from the configuration, not req.get_options(),
        whose calls have side effects a handler may observe."""
        if self._options is None:
            opts = {}  # type: Dict[str, str]
            site = getattr(self.req, "_site", None)
            for k, v in (site.options if site is not None else []):
                opts[k.lower()] = v
            self._options = opts
        v = self._options.get(key)
        return v if v else None

    def path_raw(self) -> Optional[str]:
        return self.option(_OPTION_PATH)

    def importer_path(self) -> List[str]:
        """Returns mod_python.importer.path evaluated (a Python list literal,
        ast.literal_eval), "~" expanded."""
        if self._path is None:
            raw = self.path_raw()
            if raw is None:
                self._path = []
            else:
                try:
                    value = ast.literal_eval(raw)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
                    raise ImportError("PythonOption %s %r is not a Python list literal: %s" % (_OPTION_PATH, raw, e)) from None
                if not isinstance(value, (list, tuple)) or not all(isinstance(d, str) for d in value):
                    raise ImportError("PythonOption %s %r is not a list of strings" % (_OPTION_PATH, raw))
                self._path = list(value)
        return [d for d in (_expand(d, self.root) for d in self._path) if d is not None]

    def log_on(self) -> bool:
        """Returns PythonOption mod_python.importer.log as a boolean."""
        if self._log is None:
            raw = self.option(_OPTION_LOG)
            if raw is None or raw.lower() in _FALSE:
                self._log = False
            elif raw.lower() in _TRUE:
                self._log = True
            else:
                self._log = False
                _log(_APLOG_WARNING, "mpgate importer: PythonOption %s %r is not a boolean (On/Off); taken as Off"
                     % (_OPTION_LOG, raw))
        return self._log


# Guards _records, _by_name, _loading, _loading_owner, _waiting,
# _resolutions, _touched, _placed and _lent. It is not held while a site
# module's code runs (_unlocked): a thread that module starts may import,
# as under Python 3's per-module locks.
_lock = threading.RLock()

# Notified when a load ends; a thread that wants a module another thread is
# loading waits on it (Python's _ModuleLock).
_loaded = threading.Condition(_lock)

_records = {}  # type: Dict[str, _Record]
_by_name = {}  # type: Dict[str, List[_Record]]

# Modules executing now, by file, and the thread executing each: a circular
# import in that thread gets the partial module; another thread waits for
# the load to end, or gets the partial module when waiting would deadlock.
_loading = {}  # type: Dict[str, types.ModuleType]
_loading_owner = {}  # type: Dict[str, int]

# The file each thread waits for (deadlock detection).
_waiting = {}  # type: Dict[int, str]

# What the importer put in sys.modules, by name: a site module while its
# code runs (Python guarantees sys.modules[__name__] then, and dataclasses,
# typing and enum rely on it), and modules lent to Python's own import
# (_SiteFinder) until the request ends. _lent lists the latter.
_placed = {}  # type: Dict[str, Any]
_lent = {}  # type: Dict[str, None]

# Cached name -> place resolutions; a failure is never cached. Cleared by
# CONTROL modules.invalidate and when the dispatcher changes sys.path.
_resolutions = {}  # type: Dict[Tuple[Any, ...], Tuple[Any, ...]]

# Files of records loaded, reloaded or given new deps since the last END.
_touched = {}  # type: Dict[str, None]

_ctx = None  # type: Optional[_Context]
_frozen = False

# The import statements of a site module are answered from its instance's
# fast cache while _epoch and the request's _fast_ctx are those of the entry.
# _epoch changes whenever a load, reload, invalidation or sys.path change
# could change an answer; _fast_ctx is what else an answer depends on
# (PythonAutoReload, importer.path, the handler root), interned.
_epoch = 0
_fast_ctx_keys = {}  # type: Dict[Tuple[Any, ...], Tuple[Any, ...]]
_NO_FAST_CTX = (True, None, None)
_fast_ctx = _NO_FAST_CTX  # type: Tuple[Any, ...]

# Resolution results.
_NORMAL = ("normal",)
_NOT_FOUND = ("not found",)


def _log(level: int, message: str) -> None:
    """Logs to the running request's log, else the worker's."""
    try:
        _apache.log_error(message, level)
    except Exception:  # noqa: B902  (logging must not fail an import)
        pass


def _log_exception(message: str) -> None:
    """Logs message and the current exception's traceback at _APLOG_ERR."""
    _log(_APLOG_ERR, message)
    for chunk in traceback.format_exception(*sys.exc_info()):
        for line in chunk.rstrip("\n").split("\n"):
            _log(_APLOG_ERR, line)


def _expand(d: Any, root: Optional[str]) -> Optional[str]:
    """Expands "~" and "~/x" against the handler root (3.3 _find_module);
    returns None for an entry that cannot be used."""
    if not isinstance(d, str):
        return None
    if d == "~" or d.startswith("~/"):
        if not root:
            return None
        return os.path.join(root, d[2:]) if d != "~" else root
    return d


# ---------------------------------------------------------------------------
# Requests and the daemon


def begin_request(req: Any) -> None:
    """Starts the importer's view of a request: its module cache,
    PythonAutoReload, PythonDebug and options."""
    global _ctx
    _ctx = _Context(req)
    _set_fast_ctx(_ctx)


def _set_fast_ctx(ctx: Optional[_Context]) -> None:
    """Sets _fast_ctx for ctx (None: outside a request)."""
    global _fast_ctx
    if ctx is None:
        _fast_ctx = _NO_FAST_CTX
        return
    key = (ctx.autoreload, ctx.path_raw(), ctx.root)
    _fast_ctx = _fast_ctx_keys.setdefault(key, key)


def _bump() -> None:
    """Invalidates every fast-cache entry (see _epoch)."""
    global _epoch
    _epoch += 1


def enter_handler(req: Any, hlist: Any) -> None:
    """Records the handler being dispatched: its directory (searched by
    import_module; None for Location handlers) and the handler root that
    "~" means (the directory, else the DocumentRoot, as in 3.3)."""
    ctx = _ctx
    if ctx is None or ctx.req is not req:
        begin_request(req)
        ctx = _ctx
        assert ctx is not None
    directory = hlist.directory
    ctx.handler_dir = _norm_dir(directory) if directory and not hlist.is_location else None
    root = ctx.handler_dir
    if root is None:
        try:
            root = req.document_root() or None
        except Exception:  # noqa: B902
            root = None
        if root:
            root = _norm_dir(root)
    ctx.root = root
    _set_fast_ctx(ctx)


def end_request() -> List[Tuple[str, str]]:
    """Ends the request and returns END's ("module", JSON) info entries for
    the modules loaded, reloaded or given new dependencies since the last
    END (dispatch/proto.go). Modules lent to Python's own import during
    the request leave sys.modules."""
    global _ctx
    _ctx = None
    _set_fast_ctx(None)
    with _lock:
        _return_lent()
        files = list(_touched)
        _touched.clear()
        out = []
        for f in files:
            rec = _records.get(f)
            if rec is not None and rec.reportable and rec.instance is not None:
                out.append(("module", _module_report(rec)))
        return out


def _module_report(rec: _Record) -> str:
    """Returns the compact JSON END carries for rec."""
    mtime_ns, size, ino = rec.stat
    return json.dumps({
        "file": rec.file, "name": rec.name, "generation": rec.generation,
        "deps": list(rec.instance.deps) if rec.instance is not None else [],
        "mtime_ns": mtime_ns, "size": size, "ino": ino,
        "loaded": rec.loaded, "reason": rec.reason,
    }, separators=(",", ":"))


def invalidate(args: Iterable[Tuple[str, str]]) -> None:
    """Obeys CONTROL modules.invalidate: marks the listed modules stale and
    forgets every cached name resolution. Unknown argument keys are logged."""
    with _lock:
        for k, v in args:
            if k in ("changed", "dependent"):
                rec = _records.get(_norm_file(v))
                if rec is None or not rec.reportable:
                    continue
                if k == "changed":
                    rec.stale, rec.stale_reason = True, "changed on disk"
                elif not (rec.stale and rec.stale_reason == "changed on disk"):
                    rec.stale, rec.stale_reason = True, "dependency changed"
            elif k != "rescan":
                _log(_APLOG_WARNING, "mpgate importer: modules.invalidate: unknown argument %r=%r" % (k, v))
        _resolutions.clear()
        _return_lent()
        _bump()


def current_debug() -> bool:
    """Returns the running request's PythonDebug (False outside one)."""
    ctx = _ctx
    return ctx.debug if ctx is not None else False


def forget_resolutions() -> None:
    """Forgets cached name resolutions (sys.path changed)."""
    with _lock:
        _resolutions.clear()
        _bump()


def freeze_modules() -> None:
    """Disables reloading for the life of the worker (mod_python 3.3
    apache.freeze_modules): stale modules keep serving."""
    global _frozen
    _frozen = True
    _bump()


# ---------------------------------------------------------------------------
# Finding files


def _probe(d: str, n: str) -> Optional[Tuple[str, str]]:
    """Looks for N in directory d as Python's FileFinder does (package, then
    extension module, then source; sourceless .pyc is ignored) and returns
    (kind, path), ("namespace", dir), or None."""
    base = os.path.join(d, n)
    init = os.path.join(base, "__init__.py")
    if os.path.isfile(init):
        return ("package", init)
    for suffix in _EXTENSION_SUFFIXES:
        if os.path.isfile(base + suffix):
            return ("extension", base + suffix)
    if os.path.isfile(base + ".py"):
        return ("module", base + ".py")
    if os.path.isdir(base):
        return ("namespace", base)
    return None


def _always_normal(n: str) -> bool:
    """Reports whether top-level name n is imported normally whatever the
    search order says: mpgate's own packages, builtin and frozen modules."""
    if n in _OWN_PACKAGES or n in sys.builtin_module_names:
        return True
    try:
        return importlib.machinery.FrozenImporter.find_spec(n) is not None
    except (ImportError, ValueError):
        return False


# The standard library's top-level names (Python 3.10+).
_STDLIB_NAMES = frozenset(getattr(sys, "stdlib_module_names", ()))

_installed_stdlib_cache = {}  # type: Dict[str, bool]


def _installed_stdlib(n: str) -> bool:
    """Reports whether top-level name n is a standard library module
    present in INSTALLED_DIRS. Such a name is never taken from a site
    directory found through sys.path (a handler directory the dispatcher
    added, or another site's): an email.py beside one handler must not
    become the email package of smtplib, or of every other site."""
    r = _installed_stdlib_cache.get(n)
    if r is None:
        r = n in _STDLIB_NAMES and any(_probe(d, n) is not None for d in sorted(INSTALLED_DIRS))
        _installed_stdlib_cache[n] = r
    return r


def _installed_path() -> List[str]:
    """Returns the entries of sys.path that are INSTALLED_DIRS."""
    return [d for d in sys.path if isinstance(d, str) and _norm_dir(d) in INSTALLED_DIRS]


# A search entry: a directory, and the package record a hit there is a member
# of (dirname(F) for F in a package), or the marker _SYS_PATH before the
# sys.path part (where sys.modules is consulted first, as Python does; a
# standard library name is the standard library's there, and a module the
# importer placed in sys.modules does not count).
_SYS_PATH = object()


def _search(n: str, entries: Callable[[], Sequence[Tuple[Any, Optional[_Record]]]]) -> Tuple[Any, ...]:
    """Returns where top-level name n is first found in entries() (called
    only when n is not always imported normally): _NORMAL, _NOT_FOUND, or
    ("site", kind, file, name, parent file or None)."""
    if not n or os.sep in n or n in (os.curdir, os.pardir):
        return _NOT_FOUND
    if _always_normal(n):
        return _NORMAL
    seen = set()
    portions = []  # type: List[Tuple[str, Optional[_Record]]]
    for d, pkg in entries():
        if d is _SYS_PATH:
            if _installed_stdlib(n):
                return _NORMAL
            if n in sys.modules and not (n in _placed and sys.modules[n] is _placed[n]):
                return _NORMAL
            continue
        if not isinstance(d, str):
            continue
        nd = _norm_dir(d)
        if nd in seen:
            continue
        seen.add(nd)
        found = _probe(nd, n)
        if found is None:
            continue
        kind, path = found
        if kind == "namespace":
            # PEP 420: a directory without __init__.py counts only when no
            # module or package is found anywhere on the path.
            if nd not in INSTALLED_DIRS:
                portions.append((path, pkg))
            continue
        if nd in INSTALLED_DIRS or (kind == "extension" and pkg is None):
            return _NORMAL
        return ("site", kind, _norm_file(path), _member_name(pkg, n), pkg.file if pkg is not None else None)
    if portions:
        path, pkg = portions[0]
        dirs = tuple(_norm_file(p) for p, q in portions if q is pkg)
        return ("site", "namespace", dirs, _member_name(pkg, n), pkg.file if pkg is not None else None)
    return _NOT_FOUND


def _member_name(pkg: Optional[_Record], n: str) -> str:
    return pkg.name + "." + n if pkg is not None else n


def _package_of(rec: _Record) -> Optional[_Record]:
    """Returns the package rec's code runs in (__package__): rec itself for
    a package, else its parent."""
    return rec if rec.kind in ("package", "namespace") else rec.parent


def _top_holder(rec: _Record) -> Optional[str]:
    """Returns the directory holding rec's top-level package, or None when
    rec is not in a package."""
    pkg = _package_of(rec)
    if pkg is None:
        return None
    while pkg.parent is not None:
        pkg = pkg.parent
    pkg_dir = os.path.dirname(pkg.file) if pkg.kind == "package" else pkg.file
    return os.path.dirname(pkg_dir)


def _statement_entries(inst: _Instance, ctx: Optional[_Context]) -> List[Tuple[Any, Optional[_Record]]]:
    """Returns the search order of an `import` made by inst's code."""
    rec = inst.record
    root = ctx.root if ctx is not None else None
    entries = [(_expand(d, root), None) for d in _mp_path(inst)]  # type: List[Tuple[Any, Optional[_Record]]]
    pkg = _package_of(rec)
    here = os.path.dirname(rec.file) if rec.kind != "namespace" else rec.file
    entries.append((here, pkg))
    holder = _top_holder(rec)
    if holder is not None:
        entries.append((holder, None))
    if ctx is not None:
        entries.extend((d, None) for d in ctx.importer_path())
    entries.append((_SYS_PATH, None))
    entries.extend((d, None) for d in sys.path)
    return entries


def _mp_path(inst: _Instance) -> List[Any]:
    """Returns the __mp_path__ of inst's globals (a module may extend it)."""
    p = inst.globals.get("__mp_path__")
    return list(p) if isinstance(p, (list, tuple)) else []


def _resolve_statement(inst: _Instance, n: str) -> Tuple[Any, ...]:
    """Resolves top-level name n imported by inst's code (cached)."""
    ctx = _ctx
    mp = _mp_path(inst)
    key = ("i", inst.record.file, n, tuple(mp) if mp else (),
           ctx.path_raw() if ctx is not None else None, ctx.root if ctx is not None else None)
    try:
        hit = _resolutions.get(key)
    except TypeError:  # unhashable __mp_path__ entries
        key, hit = None, None
    if hit is None:
        hit = _search(n, lambda: _statement_entries(inst, ctx))
        if hit is not _NOT_FOUND and key is not None:
            _resolutions[key] = hit
    return hit


# ---------------------------------------------------------------------------
# Loading


class SiteLoader:
    """The __loader__ of a site module: it serves the source (for
    linecache, tracebacks and inspect); loading is the importer's."""

    def __init__(self, file: str, is_package: bool) -> None:
        self.path = file
        self._is_package = is_package

    def get_filename(self, fullname: Optional[str] = None) -> str:
        return self.path

    def get_data(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def get_source(self, fullname: Optional[str] = None) -> str:
        return importlib.util.decode_source(self.get_data(self.path))

    def get_code(self, fullname: Optional[str] = None) -> types.CodeType:
        return compile(self.get_data(self.path), self.path, "exec", dont_inherit=True)

    def is_package(self, fullname: Optional[str] = None) -> bool:
        return self._is_package

    def get_resource_reader(self, fullname: Optional[str] = None) -> Any:
        """Returns the reader of the files beside the module, for
        importlib.resources (as FileLoader does)."""
        from importlib.readers import FileReader
        return FileReader(self)  # type: ignore[arg-type]

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        raise ImportError("site module %r is loaded by mpgate's importer, not importlib" % module.__name__,
                          name=module.__name__, path=self.path)

    def __repr__(self) -> str:
        return "<mpgate.importer.SiteLoader %r>" % self.path


def _instance_of(g: Any) -> Optional[_Instance]:
    """Returns the _Instance when g is the globals of a site module."""
    try:
        inst = g.get("__mp_info__")
    except AttributeError:
        return None
    if inst is not None and inst.__class__ is _Instance and inst.globals is g:
        return inst
    return None


def _live_record(file: str) -> Optional[_Record]:
    """Returns the record of file: committed, or being loaded now."""
    rec = _records.get(file)
    if rec is None:
        m = _loading.get(file)
        if m is not None:
            inst = _instance_of(m.__dict__)
            if inst is not None:
                return inst.record
    return rec


def _add_edge(inst: Optional[_Instance], file: str) -> None:
    """Records that inst's module imported the site module file."""
    if inst is None:
        return
    rec = inst.record
    if file == rec.file:
        return
    target = _live_record(file)
    if target is None or not target.reportable:
        return
    if not inst.committed:
        inst.deps.setdefault(file, None)
        return
    cur = rec.instance
    if cur is not None and file not in cur.deps:
        cur.deps[file] = None
        if _records.get(rec.file) is rec:
            _touched[rec.file] = None


def _current(file: str) -> Optional[types.ModuleType]:
    """Returns the module this request sees for file without loading."""
    m = _loading.get(file)
    if m is not None:
        return m
    ctx = _ctx
    if ctx is not None:
        m = ctx.cache.get(file)
        if m is not None:
            return m
    rec = _records.get(file)
    return rec.module if rec is not None else None


def _get(file: str, name: str, kind: Any, parent: Optional[_Record], autoreload: bool,
         mp_path: Optional[List[str]], importer: Optional[_Instance], notice: Any = None) -> types.ModuleType:
    """Returns the module of file for this request: the one being loaded,
    the one this request already uses, the record's, or a fresh (re)load.
    kind is the record kind, or for a namespace package the tuple of its
    directories. notice(reload) runs before a load (False) or a reload (True)."""
    with _lock:
        m = _loading.get(file)
        if m is not None:
            m = _await_load(file, m)
            if m is not None:
                return m
        ctx = _ctx
        cache = ctx.cache if ctx is not None else None
        if cache is not None:
            m = cache.get(file)
            if m is not None:
                return m
        rec = _records.get(file)
        if rec is None:
            if notice is not None:
                notice(False)
            m = _load(None, file, name, kind, parent, mp_path or [], importer, "first import")
        elif rec.stale and autoreload and not _frozen:
            if notice is not None:
                notice(True)
            m = _load(rec, file, rec.name, rec.kind, rec.parent, rec.mp_path, importer, rec.stale_reason)
        else:
            m = rec.module
            assert m is not None
        if cache is not None:
            cache[file] = m
        return m


def _await_load(file: str, m: types.ModuleType) -> Optional[types.ModuleType]:
    """Called with _lock held when file is being loaded (m, partial): returns
    m when this thread is loading it (a circular import) or when waiting for
    the thread that is would deadlock (Python's rule for concurrent circular
    imports); else waits for that load to end and returns None (the caller
    looks again)."""
    me = threading.get_ident()
    while True:
        owner = _loading_owner.get(file)
        if owner is None or owner == me or _would_deadlock(file, me):
            return m
        _waiting[me] = file
        try:
            _loaded.wait()
        finally:
            del _waiting[me]
        m = _loading.get(file)
        if m is None:
            return None


def _would_deadlock(file: str, me: int) -> bool:
    """Reports whether waiting for the load of file closes a cycle of
    threads each waiting for a load the next one runs."""
    seen = set()
    owner = _loading_owner.get(file)
    while owner is not None and owner not in seen:
        if owner == me:
            return True
        seen.add(owner)
        f = _waiting.get(owner)
        if f is None:
            return False
        owner = _loading_owner.get(f)
    return False


class _Unlocked:
    """Context manager that releases _lock entirely (this thread may hold it
    recursively) while site code runs, and takes it back."""

    __slots__ = ("_state",)

    def __enter__(self) -> None:
        self._state = _lock._release_save()  # type: ignore[attr-defined]

    def __exit__(self, *exc: Any) -> None:
        _lock._acquire_restore(self._state)  # type: ignore[attr-defined]


def _place(name: str, module: types.ModuleType) -> Tuple[bool, Any]:
    """Puts module in sys.modules under name while its code runs, as Python's
    import does; returns (placed, the previous entry). A name held by a
    module of Python's own (the standard library's json for a site json.py),
    or naming an installed standard library module, is left alone."""
    prev = sys.modules.get(name, _MISSING)
    if prev is not _MISSING and not (name in _placed and _placed[name] is prev):
        return False, prev
    if _installed_stdlib(name.partition(".")[0]):
        return False, prev
    sys.modules[name] = module
    prev_placed = _placed.get(name, _MISSING)
    _placed[name] = module
    return True, (prev, prev_placed)


def _unplace(name: str, module: types.ModuleType, placed: bool, prev: Any) -> Any:
    """Undoes _place; returns what the module's code put in sys.modules in
    its stead (`sys.modules[__name__] = obj`), else None."""
    if not placed:
        return None
    cur = sys.modules.get(name, _MISSING)
    export = cur if cur is not module and cur is not _MISSING and cur is not prev[0] else None
    if _placed.get(name) is module:
        if prev[1] is _MISSING:
            del _placed[name]
        else:
            _placed[name] = prev[1]
    if prev[0] is _MISSING:
        if cur is not _MISSING and (cur is module or cur is export):
            del sys.modules[name]
    elif cur is module or cur is export:
        sys.modules[name] = prev[0]
    return export


def _public(m: Any) -> Any:
    """Returns what an import of the site module m gives: m, or the object
    m's code put in sys.modules in its stead."""
    try:
        inst = m.__dict__.get("__mp_info__")
    except AttributeError:
        return m
    if inst is not None and inst.__class__ is _Instance and inst.export is not None and inst.globals is m.__dict__:
        return inst.export
    return m


def _parent_module(parent: Optional[_Record], autoreload: bool) -> Optional[types.ModuleType]:
    """Returns the current module of a package record (reloading it first
    when stale)."""
    if parent is None:
        return None
    return _get(parent.file, parent.name, parent.kind, parent.parent, autoreload, parent.mp_path, None)


def _autoreload() -> bool:
    ctx = _ctx
    return ctx.autoreload if ctx is not None else True


def _load(rec: Optional[_Record], file: str, name: str, kind: Any, parent: Optional[_Record],
          mp_path: List[str], importer: Optional[_Instance], reason: str) -> types.ModuleType:
    """Loads (rec None) or reloads file into a new module object; on
    success the record points at it, else the exception propagates and the
    record (if any) keeps its old module, still stale."""
    if isinstance(kind, tuple) or kind == "namespace":
        return _load_namespace(file, name, kind, parent)
    if kind == "extension":
        return _load_extension(file, name, parent)

    parent_module = _parent_module(parent, _autoreload())
    if file in _loading or _records.get(file) is not rec or (rec is not None and not rec.stale):
        # Another thread loaded file, or is loading it, while the package
        # was (re)loaded.
        return _get(file, name, kind, parent, _autoreload(), mp_path, importer)
    leaf = name.rpartition(".")[2]
    ctx = _ctx
    log = ctx.log_on() if ctx is not None else False
    generation = rec.generation + 1 if rec is not None else 1

    if log:
        if rec is None:
            frm = ", from %s" % importer.record.file if importer is not None else ""
            _log(_APLOG_NOTICE, "mpgate importer: loading '%s' as '%s' (first import%s)" % (file, name, frm))
        else:
            _log(_APLOG_NOTICE, "mpgate importer: reloading '%s' as '%s' (generation %d: %s)"
                 % (file, name, generation, reason))

    code, st = _read_code(file, name)

    module = types.ModuleType(name)
    old = rec.module if rec is not None else None
    if old is not None and hasattr(old, "__mp_clone__"):
        # mod_python 3.3: the old module copies what it wants to keep into
        # the new, empty one; if that fails it is purged and the new module
        # starts from nothing.
        if log:
            _log(_APLOG_NOTICE, "mpgate importer: cloning '%s' into generation %d" % (file, generation))
        try:
            old.__mp_clone__(module)
        except Exception:  # noqa: B902
            _log_exception("mpgate importer: __mp_clone__ of '%s' failed" % file)
            if log:
                _log(_APLOG_NOTICE, "mpgate importer: purging '%s'" % file)
            if hasattr(old, "__mp_purge__"):
                try:
                    old.__mp_purge__()
                except Exception:  # noqa: B902
                    _log_exception("mpgate importer: __mp_purge__ of '%s' failed" % file)
            module = types.ModuleType(name)

    is_pkg = kind == "package"
    new_rec = rec if rec is not None else _Record(file, name, kind, parent, list(mp_path))
    inst = _Instance(new_rec, generation, module.__dict__)
    loader = SiteLoader(file, is_pkg)
    spec = importlib.machinery.ModuleSpec(name, loader, origin=file, is_package=is_pkg)
    spec.has_location = True
    if is_pkg:
        spec.submodule_search_locations = [os.path.dirname(file)]
    d = module.__dict__
    d["__file__"] = file
    d["__cached__"] = None
    d["__loader__"] = loader
    d["__spec__"] = spec
    d["__package__"] = name if is_pkg else name.rpartition(".")[0]
    if is_pkg:
        d["__path__"] = [os.path.dirname(file)]
    d["__mp_path__"] = list(new_rec.mp_path)
    d["__mp_info__"] = inst

    cache = ctx.cache if ctx is not None else None
    previous_attr = parent_module.__dict__.get(leaf, _MISSING) if parent_module is not None else _MISSING
    if cache is not None:
        cache[file] = module
    if parent_module is not None:
        # Bound before the child runs (Python binds it after), so that a
        # circular `from . import x` inside the package finds it without
        # sys.modules.
        setattr(parent_module, leaf, module)
    try:
        inst.export = _run_code(file, name, module, code)
    except BaseException:
        if cache is not None and cache.get(file) is module:
            del cache[file]
        if parent_module is not None and parent_module.__dict__.get(leaf) is module:
            if previous_attr is _MISSING:
                delattr(parent_module, leaf)
            else:
                setattr(parent_module, leaf, previous_attr)
        if log and rec is not None:
            _log(_APLOG_NOTICE, "mpgate importer: reloading '%s' failed; generation %d keeps serving"
                 % (file, rec.generation))
        raise
    if inst.export is not None and parent_module is not None:
        setattr(parent_module, leaf, inst.export)

    if rec is None:
        _records[file] = new_rec
        _by_name.setdefault(name, []).append(new_rec)
    _commit(new_rec, inst, module, st, reason)
    if old is not None and is_pkg:
        _rebind_members(new_rec, old, module)
    return module


def _read_code(file: str, name: str) -> Tuple[types.CodeType, os.stat_result]:
    """Reads and compiles file from source: never __pycache__ (its
    validation is by whole seconds and size, so two quick same-size edits
    would run stale code). The stat is of the file as read, for the daemon
    to compare."""
    try:
        with open(file, "rb") as f:
            st = os.fstat(f.fileno())
            source = f.read()
    except (FileNotFoundError, NotADirectoryError):
        raise ModuleNotFoundError("No module named '%s': file '%s' does not exist" % (name, file),
                                  name=name, path=file) from None
    except OSError as e:
        raise ImportError("cannot read module '%s' from '%s': %s" % (name, file, e.strerror or e),
                          name=name, path=file) from None
    return compile(source, file, "exec", dont_inherit=True), st


def _run_code(file: str, name: str, module: types.ModuleType, code: types.CodeType) -> Any:
    """Runs code in module as this thread's load of file: listed in
    _loading, and in sys.modules under name while it runs (_place), with
    _lock released. Returns what the code put in sys.modules in the
    module's stead, else None."""
    spec = module.__dict__.get("__spec__")
    _loading[file] = module
    _loading_owner[file] = threading.get_ident()
    placed, prev = _place(name, module)
    if spec is not None:
        spec._initializing = True
    try:
        with _Unlocked():
            exec(code, module.__dict__)
    finally:
        if spec is not None:
            spec._initializing = False
        export = _unplace(name, module, placed, prev)
        del _loading[file]
        del _loading_owner[file]
        _loaded.notify_all()
        _bump()
    return export


def _commit(rec: _Record, inst: _Instance, module: types.ModuleType, st: os.stat_result, reason: str) -> None:
    """Makes inst, whose code has run in module, the record's current
    generation."""
    parent = rec.parent
    if parent is not None:
        inst.deps.setdefault(parent.file, None)
        inst.deps.pop(rec.file, None)
    inst.committed = True
    module.__dict__["__mtime__"] = st.st_mtime
    rec.module = module
    rec.instance = inst
    rec.generation = inst.generation
    rec.stale = False
    rec.stale_reason = ""
    rec.reason = reason
    rec.stat = (st.st_mtime_ns, st.st_size, st.st_ino)
    rec.loaded = time.time()
    _touched[rec.file] = None
    _bump()


def _reload(module: types.ModuleType) -> Any:
    """importlib.reload (and imp.reload) of a site module: Python's
    semantics, the file's current code runs again in the module's own
    namespace (names it no longer defines survive) and the same object
    comes back, the record's current generation from then on. On an error
    the exception propagates and the module keeps what its code had set.
    Its importers are not reloaded (nor are they by Python); a module object
    of an older generation becomes the current one again."""
    inst = _instance_of(getattr(module, "__dict__", None))
    if inst is None:
        return _orig_reload(module)
    with _lock:
        rec = inst.record
        file = rec.file
        if file in _loading:
            m = _await_load(file, _loading[file])
            if m is not None:
                return _public(m)  # reloaded from its own code while it runs
        if not rec.reportable:
            return module
        ctx = _ctx
        generation = rec.generation + 1
        if ctx is not None and ctx.log_on():
            _log(_APLOG_NOTICE, "mpgate importer: reloading '%s' as '%s' in place (generation %d: importlib.reload)"
                 % (file, rec.name, generation))
        code, st = _read_code(file, rec.name)
        d = module.__dict__
        new_inst = _Instance(rec, generation, d)
        d["__mp_info__"] = new_inst
        if ctx is not None:
            ctx.cache[file] = module
        try:
            new_inst.export = _run_code(file, rec.name, module, code)
        except BaseException:
            if d.get("__mp_info__") is new_inst:
                d["__mp_info__"] = inst
            raise
        _commit(rec, new_inst, module, st, "importlib.reload")
        parent_module = _current(rec.parent.file) if rec.parent is not None else None
        if parent_module is not None:
            setattr(parent_module, rec.name.rpartition(".")[2], _public(module))
        return _public(module)


def _rebind_members(rec: _Record, old: types.ModuleType, new: types.ModuleType) -> None:
    """Binds to the reloaded package new the submodules that were bound to
    its old module (Python keeps `pkg.sub` once imported; code may rely on
    it), each as this request sees it (reloaded first when stale)."""
    for child in [r for r in _records.values() if r.parent is rec and r is not rec]:
        leaf = child.name.rpartition(".")[2]
        bound = old.__dict__.get(leaf)
        if leaf in new.__dict__ or not isinstance(bound, types.ModuleType):
            continue
        inst = _instance_of(bound.__dict__)
        if bound is not child.module and (inst is None or inst.record is not child):
            continue
        setattr(new, leaf, _get(child.file, child.name, child.kind, rec, _autoreload(), child.mp_path, None))


_MISSING = object()


def _load_namespace(file: Any, name: str, kind: Any, parent: Optional[_Record]) -> types.ModuleType:
    """Creates the (never reloaded, never reported) module of a namespace
    package whose first directory is file."""
    dirs = list(kind) if isinstance(kind, tuple) else [file]
    module = types.ModuleType(name)
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = list(dirs)
    module.__spec__ = spec
    module.__path__ = list(dirs)
    module.__package__ = name
    module.__file__ = None
    return _keep_unreloadable(module, file, name, "namespace", parent)


def _load_extension(file: str, name: str, parent: Optional[_Record]) -> types.ModuleType:
    """Loads a compiled member of a site package (never reloaded, never
    reported)."""
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load extension module '%s' from '%s'" % (name, file), name=name, path=file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return _keep_unreloadable(module, file, name, "extension", parent)


def _keep_unreloadable(module: types.ModuleType, file: Any, name: str, kind: str,
                       parent: Optional[_Record]) -> types.ModuleType:
    """Records a namespace package or extension module (generation 1,
    never reloaded) and binds it on its parent package."""
    rec = _Record(file, name, kind, parent, [])
    rec.module = module
    rec.generation = 1
    _records[file] = rec
    _bump()
    parent_module = _parent_module(parent, _autoreload())
    if parent_module is not None:
        setattr(parent_module, name.rpartition(".")[2], module)
    return module


def _load_hit(hit: Tuple[Any, ...], importer: Optional[_Instance], autoreload: bool,
              mp_path: Optional[List[str]] = None, notice: Any = None) -> Tuple[types.ModuleType, _Record]:
    """Returns the module and record of a resolved site hit, recording the
    edge from importer."""
    _, kind, file, name, parent_file = hit
    if isinstance(file, tuple):  # namespace: (dirs...)
        kind, file = file, file[0]
    parent = _live_record(parent_file) if parent_file is not None else None
    if parent_file is not None and parent is None:
        raise ImportError("package of '%s' is not loaded" % name, name=name)
    if parent is not None:
        _parent_module(parent, autoreload)
    module = _get(file, name, kind, parent, autoreload, mp_path, importer, notice)
    _add_edge(importer, file)
    return module, _records[file] if file in _records else _record_of(module)


def _record_of(module: types.ModuleType) -> _Record:
    """Returns the record of a site module being loaded (not committed)."""
    inst = _instance_of(module.__dict__)
    if inst is None:
        raise ImportError("module %r is not a site module" % getattr(module, "__name__", module))
    return inst.record


def _member(importer: Optional[_Instance], parent_rec: _Record, parent_module: types.ModuleType,
            part: str, autoreload: bool, notice: Any = None) -> Tuple[types.ModuleType, _Record]:
    """Imports the member part of a site package (Python's _find_and_load
    for "parent.part"); ModuleNotFoundError with Python's messages."""
    hit = _member_hit(parent_rec, parent_module, part)
    module, rec = _load_hit(hit, importer, autoreload, notice=notice)
    public = _public(module)
    if parent_module.__dict__.get(part) is not public:
        setattr(parent_module, part, public)
    return module, rec


def _member_hit(parent_rec: _Record, parent_module: types.ModuleType, part: str) -> Tuple[Any, ...]:
    """Returns the site hit of member part of a site package (searched in
    its __path__); ModuleNotFoundError with Python's messages."""
    child_name = parent_rec.name + "." + part
    path_list = parent_module.__dict__.get("__path__")
    if path_list is None:
        raise ModuleNotFoundError("No module named %r; %r is not a package" % (child_name, parent_rec.name),
                                  name=child_name)
    try:
        key = ("s", parent_rec.file, tuple(path_list), part)  # type: Optional[Tuple[Any, ...]]
        hit = _resolutions.get(key)  # type: ignore[arg-type]
    except TypeError:
        key, hit = None, None
    if hit is None:
        portions = []
        for d in path_list:
            if not isinstance(d, str):
                continue
            found = _probe(_norm_dir(d), part) if part and os.sep not in part else None
            if found is None:
                continue
            if found[0] == "namespace":
                portions.append(_norm_file(found[1]))
                continue
            hit = ("site", found[0], _norm_file(found[1]), child_name, parent_rec.file)
            break
        else:
            if not portions:
                raise ModuleNotFoundError("No module named %r" % child_name, name=child_name)
            hit = ("site", "namespace", tuple(portions), child_name, parent_rec.file)
        if key is not None:
            _resolutions[key] = hit
    return hit


def _walk(importer: Optional[_Instance], module: types.ModuleType, rec: _Record, parts: Sequence[str],
          autoreload: bool, notice: Any = None) -> List[types.ModuleType]:
    """Imports parts below the site package module; returns their modules.
    notice applies to the last one."""
    chain = []
    for i, part in enumerate(parts):
        module, rec = _member(importer, rec, module, part, autoreload, notice if i == len(parts) - 1 else None)
        chain.append(module)
    return chain


# ---------------------------------------------------------------------------
# `import` statements and importlib.import_module from site modules


_orig_import = builtins.__import__
_orig_import_module = importlib.import_module
_orig_reload = importlib.reload


def _import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
    """builtins.__import__ for the worker: an import made by a site
    module's code resolves through the site search order, answered from the
    module's fast cache when nothing it depends on changed since (see
    _epoch); any other costs one dict lookup more than Python's own."""
    if globals is not None:
        try:
            inst = globals.get("__mp_info__")
        except AttributeError:
            inst = None
        if inst is not None and inst.__class__ is _Instance and inst.globals is globals:
            try:
                entry = inst.fast[name, fromlist, level]
            except (KeyError, TypeError):
                pass
            else:
                if entry[0] == _epoch and entry[1] is _fast_ctx:
                    if entry[2] is _NORMAL:
                        return _orig_import(name, globals, locals, fromlist, level)
                    return entry[2]
            return _site_import(inst, name, globals, locals, fromlist, level)
    else:
        # __import__("x") called by hand: the calling frame says who asks.
        try:
            inst = _instance_of(sys._getframe(1).f_globals)
        except ValueError:
            inst = None
        if inst is not None:
            return _site_import(inst, name, inst.globals, locals, fromlist, level)
    return _orig_import(name, globals, locals, fromlist, level)


def _site_import(inst: _Instance, name: str, globals: Any, locals: Any, fromlist: Any, level: int) -> Any:
    """__import__ for a site module's code, with Python's semantics. A name
    that is not a site module goes to Python's own __import__, outside
    _lock. The answer goes to inst's fast cache unless it may change
    without _epoch changing: while a module is being loaded (it may fail),
    or when the module has an __mp_path__ (it may change it)."""
    result = _resolve_import(inst, name, fromlist, level)
    if not _loading and result is not _NOT_FOUND and not inst.globals.get("__mp_path__"):
        try:
            inst.fast[name, fromlist, level] = (_epoch, _fast_ctx, result)
        except TypeError:  # an unhashable fromlist (a list given to __import__)
            pass
    if result is _NORMAL or result is _NOT_FOUND:
        return _orig_import(name, globals, locals, fromlist, level)
    return result


def _resolve_import(inst: _Instance, name: str, fromlist: Any, level: int) -> Any:
    """Returns what __import__ returns for a site import by inst's code, or
    _NORMAL (or _NOT_FOUND) for Python's own import."""
    if not isinstance(name, str):
        raise TypeError("module name must be str, not {}".format(type(name)))
    if level < 0:
        raise ValueError("level must be >= 0")
    autoreload = _autoreload()
    if level > 0:
        pkg = _package_of(inst.record)
        if pkg is None:
            # Python raises "attempted relative import with no known parent
            # package".
            return _NORMAL
        for _ in range(level - 1):
            pkg = pkg.parent
            if pkg is None:
                raise ImportError("attempted relative import beyond top-level package")
        with _lock:
            base = _get(pkg.file, pkg.name, pkg.kind, pkg.parent, autoreload, pkg.mp_path, inst)
            _add_edge(inst, pkg.file)
            chain = _walk(inst, base, pkg, name.split("."), autoreload) if name else []
            return _import_result(inst, chain[0] if chain else base, chain[-1] if chain else base,
                                  fromlist, autoreload)
    if not name:
        raise ValueError("Empty module name")
    parts = name.split(".")
    with _lock:
        hit = _resolve_statement(inst, parts[0])
        if hit[0] == "site":
            top, rec = _load_hit(hit, inst, autoreload)
            chain = [top] + _walk(inst, top, rec, parts[1:], autoreload)
            return _import_result(inst, top, chain[-1], fromlist, autoreload)
        if hit is _NOT_FOUND:
            _raise_if_gone(parts[0], lambda: _statement_entries(inst, _ctx))
    return hit if hit is _NOT_FOUND else _NORMAL


def _raise_if_gone(n: str, entries: Callable[[], Sequence[Tuple[Any, Optional[_Record]]]]) -> None:
    """Raises ModuleNotFoundError naming the file when n was a site module
    loaded from one of the directories of entries whose file is gone."""
    recs = _by_name.get(n)
    if not recs:
        return
    dirs = {_norm_dir(d) for d, _ in entries() if isinstance(d, str)}
    for rec in recs:
        if not rec.reportable:
            continue
        here = os.path.dirname(rec.file) if rec.kind == "module" else os.path.dirname(os.path.dirname(rec.file))
        if _norm_dir(here) in dirs and not os.path.exists(rec.file):
            raise ModuleNotFoundError("No module named '%s': file '%s' does not exist" % (n, rec.file),
                                      name=n, path=rec.file)


def _import_result(inst: _Instance, first: types.ModuleType, leaf: types.ModuleType, fromlist: Any,
                   autoreload: bool) -> types.ModuleType:
    """Returns what __import__ returns: the leaf module for a from-import
    (its fromlist submodules imported), else the first one named."""
    if fromlist:
        _handle_fromlist(inst, leaf, fromlist, autoreload)
        return _public(leaf)
    return _public(first)


def _handle_fromlist(inst: _Instance, module: types.ModuleType, fromlist: Any, autoreload: bool,
                     recursive: bool = False) -> None:
    """Imports the submodules a `from package import x` names (Python's
    importlib._bootstrap._handle_fromlist); a site module already bound
    is taken through the per-request cache (a reload of it shows)."""
    if "__path__" not in module.__dict__:
        return
    rec = _record_for(module)
    if rec is None:
        return
    for x in fromlist:
        if not isinstance(x, str):
            where = module.__name__ + ".__all__" if recursive else "``from list''"
            raise TypeError("Item in %s must be str, not %s" % (where, type(x).__name__))
        if x == "*":
            if not recursive and "__all__" in module.__dict__:
                _handle_fromlist(inst, module, module.__all__, autoreload, recursive=True)
            continue
        attr = module.__dict__.get(x, _MISSING)
        if attr is _MISSING:
            try:
                _member(inst, rec, module, x, autoreload)
            except ModuleNotFoundError as e:
                if e.name == rec.name + "." + x:
                    continue  # IMPORT_FROM raises "cannot import name"
                raise
        elif isinstance(attr, types.ModuleType):
            sub = _instance_of(attr.__dict__)
            sub_rec = sub.record if sub is not None else None
            if sub_rec is not None and sub_rec.parent is rec and _live_record(sub_rec.file) is sub_rec:
                _member(inst, rec, module, x, autoreload)


def _record_for(module: types.ModuleType) -> Optional[_Record]:
    """Returns the record of a site or namespace module."""
    inst = _instance_of(module.__dict__)
    if inst is not None:
        return inst.record
    path = module.__dict__.get("__path__")
    if isinstance(path, list) and path:
        rec = _records.get(_norm_file(path[0]))
        if rec is not None and rec.module is module:
            return rec
    return None


def _import_module_hook(name: str, package: Optional[str] = None) -> types.ModuleType:
    """importlib.import_module for the worker: called from a site module,
    it resolves like an `import` statement there."""
    try:
        inst = _instance_of(sys._getframe(1).f_globals)
    except ValueError:
        inst = None
    if inst is None:
        return _orig_import_module(name, package)
    level = 0
    if name.startswith("."):
        if not package:
            raise TypeError("the 'package' argument is required to perform a relative import for {!r}".format(name))
        for character in name:
            if character != ".":
                break
            level += 1
        pkg = _package_of(inst.record)
        if pkg is None or package != pkg.name:
            # Relative to some other package: the absolute name, imported as
            # by this module (Python resolves the package the same way).
            name, level = importlib.util.resolve_name(name, package), 0
        else:
            name = name[level:]
    return _site_import(inst, name, inst.globals, None, ("__name__",), level)


class _LentLoader(SiteLoader):
    """The loader _SiteFinder gives Python's import: its module is the
    importer's module of the file (loaded when Python's import creates it,
    not when the spec is found), and the loan is recorded."""

    def __init__(self, name: str, hit: Tuple[Any, ...]) -> None:
        super().__init__(hit[2], hit[1] == "package")
        self.name = name
        self.hit = hit
        self.spec = None  # type: Any
        self.module = None  # type: Optional[types.ModuleType]

    def create_module(self, spec: Any) -> types.ModuleType:
        """Returns the importer's module of the file, loading it if needed."""
        with _lock:
            module, _ = _load_hit(self.hit, None, _autoreload())
        self.spec = module.__dict__.get("__spec__")
        self.module = module
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Records the loan; the module's code has run already."""
        # Python's import has just set module.__spec__ to the finder's spec:
        # the module keeps its own; what its code put in sys.modules in its
        # stead is what Python's import returns.
        module.__spec__ = self.spec
        public = _public(module)
        if public is not module:
            sys.modules[self.name] = public
        with _lock:
            _placed[self.name] = public
            _lent[self.name] = None


class _SiteFinder:
    """The finder placed before Python's PathFinder, for imports made by
    code that is not a site module (the standard library, installed
    packages, exec() with fresh globals): a module Python would load from a
    site file found on sys.path is the importer's module of that file, lent
    to sys.modules until the request ends (end_request), not a second copy
    executed again; a standard library name is the standard library's even
    when a site directory comes first on sys.path (_installed_stdlib)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        """Returns the spec of a site module to lend or of the standard
        library module; None to let the next finder look."""
        with _lock:
            if path is None:
                if _installed_stdlib(fullname):
                    return importlib.machinery.PathFinder.find_spec(fullname, _installed_path())
                key = ("f", fullname)
                hit = _resolutions.get(key)
                if hit is None:
                    hit = _search(fullname, lambda: [(d, None) for d in sys.path])
                    if hit is not _NOT_FOUND:
                        _resolutions[key] = hit
            else:
                parent_name, _, leaf = fullname.rpartition(".")
                parent = sys.modules.get(parent_name)
                if parent is None or not (parent_name in _placed and _placed[parent_name] is parent):
                    return None
                rec = _record_for(parent) if isinstance(parent, types.ModuleType) else None
                if rec is None:
                    return None
                try:
                    hit = _member_hit(rec, parent, leaf)
                except ModuleNotFoundError:
                    return None
            if hit[0] != "site" or hit[1] not in ("module", "package"):
                return None
        spec = importlib.machinery.ModuleSpec(fullname, _LentLoader(fullname, hit), origin=hit[2],
                                              is_package=hit[1] == "package")
        if hit[1] == "package":
            spec.submodule_search_locations = [os.path.dirname(hit[2])]
        return spec


def _return_lent() -> None:
    """Takes the modules lent to Python's import out of sys.modules (called
    with _lock held)."""
    for name in _lent:
        m = _placed.pop(name, None)
        if m is not None and sys.modules.get(name) is m:
            del sys.modules[name]
    _lent.clear()


def install_import_hooks() -> None:
    """Routes builtins.__import__, importlib.import_module and
    importlib.reload through the importer, and puts _SiteFinder before
    Python's PathFinder (once, at worker start)."""
    builtins.__import__ = _import
    importlib.import_module = _import_module_hook  # type: ignore[assignment]
    importlib.reload = _reload  # type: ignore[assignment]
    if not any(isinstance(f, _SiteFinder) for f in sys.meta_path):
        at = len(sys.meta_path)
        for i, f in enumerate(sys.meta_path):
            if f is importlib.machinery.PathFinder:
                at = i
                break
        sys.meta_path.insert(at, _SiteFinder())


# ---------------------------------------------------------------------------
# apache.import_module


def _caller_instance() -> Optional[_Instance]:
    """Returns the site module that called apache.import_module: the first
    frame outside mpgate's runtime, when it belongs to a site module."""
    f = sys._getframe(1)  # type: Any
    while f is not None and f.f_code.co_filename.startswith(_RUNTIME_PREFIXES):
        f = f.f_back
    if f is None:
        return None
    return _instance_of(f.f_globals)


def _file_reference(module_name: str, caller: Optional[_Instance], ctx: Optional[_Context]) -> Optional[str]:
    """Returns the file a 3.3 file reference names (absolute path, "~/x",
    "./x", "../x"), or None for a module name. "./" and "../" are relative
    to the calling site module, else (a handler string) to the handler's
    directory, as 3.3's dispatcher expanded them."""
    if os.path.isabs(module_name):
        return module_name
    if module_name.startswith("~/"):
        root = ctx.root if ctx is not None else None
        if not root:
            raise ModuleNotFoundError("No module named %r: no handler root for '~/'" % module_name, name=module_name)
        return os.path.join(root, module_name[2:])
    if module_name.startswith("./") or module_name.startswith("../"):
        if caller is not None:
            base = os.path.dirname(caller.record.file)  # type: Optional[str]
        else:
            base = ctx.handler_dir if ctx is not None else None
        if not base:
            raise ModuleNotFoundError("No module named %r: no calling site module or handler directory"
                                      % module_name, name=module_name)
        return os.path.join(base, module_name)
    return None


def _import_module_entries(caller: Optional[_Instance], path: Optional[List[str]], ctx: Optional[_Context],
                           dispatcher: bool) -> List[Tuple[Any, Optional[_Record]]]:
    """Returns the search order of apache.import_module (3.3's, with the
    handler's directory before sys.path)."""
    root = ctx.root if ctx is not None else None
    entries = []  # type: List[Tuple[Any, Optional[_Record]]]
    handler_dir = ctx.handler_dir if ctx is not None else None
    if dispatcher and handler_dir:
        entries.append((handler_dir, None))
    for d in path or []:
        entries.append((_expand(d, root), None))
    if caller is not None:
        rec = caller.record
        entries.append((os.path.dirname(rec.file) if rec.kind != "namespace" else rec.file, _package_of(rec)))
        entries.extend((_expand(d, root), None) for d in _mp_path(caller))
    if ctx is not None:
        entries.extend((d, None) for d in ctx.importer_path())
    if handler_dir and not dispatcher:
        entries.append((handler_dir, None))
    entries.append((_SYS_PATH, None))
    entries.extend((d, None) for d in sys.path)
    return entries


def import_module(module_name: str, autoreload: Any = None, path: Optional[List[str]] = None,
                  dispatcher: bool = False, notice: Any = None) -> Tuple[types.ModuleType, bool]:
    """Implements apache.import_module (mod_python 3.3 semantics): returns
    (module, site) where site tells whether it is a site module (or, but for
    the dispatcher, what its code put in sys.modules in its stead). A
    non-site name comes back as (None, False) for the caller's normal
    import.

    autoreload None means the request's PythonAutoReload; dispatcher is true
    when the handler dispatcher imports the handler module (no importer; the
    handler's directory is searched first). notice(reload) runs before a
    site module is loaded (False) or reloaded (True): the "(Re)importing" log
    line.
    """
    ctx = _ctx
    if autoreload is None:
        autoreload = ctx.autoreload if ctx is not None else True
    autoreload = bool(autoreload)
    caller = None if dispatcher else _caller_instance()
    with _lock:
        ref = _file_reference(module_name, caller, ctx)
        if ref is not None:
            file = _norm_file(ref)
            rec = _records.get(file)
            if rec is not None:
                module = _get(file, rec.name, rec.kind, rec.parent, autoreload, None, caller, notice)
            else:
                base = os.path.basename(file)
                if base == "__init__.py":
                    kind, name = "package", os.path.basename(os.path.dirname(file))
                else:
                    kind, name = "module", os.path.splitext(base)[0]
                module = _get(file, name, kind, None, autoreload, list(path) if path else [], caller, notice)
            _add_edge(caller, file)
            return (module if dispatcher else _public(module)), True

        if "/" in module_name:
            module = _import_pseudo(module_name, caller, path, ctx, dispatcher, autoreload, notice)
            return (module if dispatcher else _public(module)), True

        parts = module_name.split(".")
        try:
            key = ("m", caller.record.file if caller is not None else None, parts[0],
                   tuple(path) if path else None, tuple(_mp_path(caller)) if caller is not None else (),
                   ctx.path_raw() if ctx is not None else None, ctx.root if ctx is not None else None,
                   ctx.handler_dir if ctx is not None else None, dispatcher)  # type: Optional[Tuple[Any, ...]]
            hit = _resolutions.get(key)  # type: ignore[arg-type]
        except TypeError:
            key, hit = None, None
        if hit is None:
            hit = _search(parts[0], lambda: _import_module_entries(caller, path, ctx, dispatcher))
            if hit is not _NOT_FOUND and key is not None:
                _resolutions[key] = hit
        if hit is _NOT_FOUND:
            _raise_if_gone(parts[0], lambda: _import_module_entries(caller, path, ctx, dispatcher))
        if hit[0] != "site":
            return None, False  # type: ignore[return-value]
        top, rec = _load_hit(hit, caller, autoreload, notice=notice if len(parts) == 1 else None)
        chain = [top] + _walk(caller, top, rec, parts[1:], autoreload, notice)
        return (chain[-1] if dispatcher else _public(chain[-1])), True


def _import_pseudo(module_name: str, caller: Optional[_Instance], path: Optional[List[str]],
                   ctx: Optional[_Context], dispatcher: bool, autoreload: bool, notice: Any) -> types.ModuleType:
    """Imports 3.3's pseudo-package form "dir/module": module.py under dir,
    searched for in import_module's search order."""
    try:
        key = ("p", caller.record.file if caller is not None else None, module_name,
               tuple(path) if path else None, ctx.path_raw() if ctx is not None else None,
               ctx.root if ctx is not None else None, ctx.handler_dir if ctx is not None else None,
               dispatcher)  # type: Optional[Tuple[Any, ...]]
        file = _resolutions.get(key)  # type: ignore[arg-type]
    except TypeError:
        key, file = None, None
    if file is None:
        seen = set()
        for d, _ in _import_module_entries(caller, path, ctx, dispatcher):
            if not isinstance(d, str):
                continue
            nd = _norm_dir(d)
            if nd in seen:
                continue
            seen.add(nd)
            candidate = os.path.join(nd, module_name + ".py")
            if os.path.isfile(candidate):
                file = (_norm_file(candidate),)
                break
        else:
            raise ModuleNotFoundError("No module named %r" % module_name, name=module_name)
        if key is not None:
            _resolutions[key] = file
    f = file[0]
    rec = _records.get(f)
    if rec is not None:
        module = _get(f, rec.name, rec.kind, rec.parent, autoreload, None, caller, notice)
    else:
        base = os.path.basename(f)
        if base == "__init__.py":
            kind, name = "package", os.path.basename(os.path.dirname(f))
        else:
            kind, name = "module", os.path.splitext(base)[0]
        module = _get(f, name, kind, None, autoreload, [], caller, notice)
    _add_edge(caller, f)
    return module


# ---------------------------------------------------------------------------
# Pickling support (mpgate.sitepickle)


def get_qualname(obj: Any, qualname: str) -> Any:
    """Returns the object at dotted qualname inside obj."""
    for part in qualname.split("."):
        if part == "<locals>":
            raise AttributeError("Can't get local attribute %r on %r" % (qualname, obj))
        obj = getattr(obj, part)
    return obj


def site_reference(obj: Any) -> Optional[Tuple[str, str, str]]:
    """Returns (file, qualname, module name) when obj is a class or function
    defined at a reachable place in a site module (the current generation,
    or the generation whose code defined it), else None."""
    modname = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(modname, str) or not isinstance(qualname, str):
        return None
    recs = _by_name.get(modname)
    if not recs:
        return None
    for rec in recs:
        m = _current(rec.file)
        if m is None:
            continue
        try:
            if get_qualname(m, qualname) is obj:
                return (rec.file, qualname, modname)
        except AttributeError:
            continue
    # An object of an older generation: find the globals its code runs in.
    for g in _globals_of(obj):
        inst = _instance_of(g)
        if inst is not None and inst.record.name == modname:
            try:
                if get_qualname(_DictView(g), qualname) is obj:
                    return (inst.record.file, qualname, modname)
            except AttributeError:
                continue
    return None


class _DictView:
    """Attribute access to a globals dict."""

    __slots__ = ("_d",)

    def __init__(self, d: dict) -> None:
        self._d = d

    def __getattr__(self, name: str) -> Any:
        try:
            return self._d[name]
        except KeyError:
            raise AttributeError(name) from None


def _globals_of(obj: Any) -> List[dict]:
    """Returns the globals of a function, or of the methods of a class."""
    if isinstance(obj, types.FunctionType):
        return [obj.__globals__]
    out = []
    if isinstance(obj, type):
        for v in obj.__dict__.values():
            if isinstance(v, (staticmethod, classmethod)):
                v = v.__func__
            elif isinstance(v, property):
                v = v.fget
            if isinstance(v, types.FunctionType):
                out.append(v.__globals__)
                break
    return out


def load_for_pickle(file: str, name: str) -> types.ModuleType:
    """Returns the site module of file (loading it, or reloading it when
    stale and autoreload is on) for unpickling a reference written by
    mpgate.sitepickle; when the file no longer exists, the module found for
    the bare name through the request's search order."""
    file = _norm_file(file)
    autoreload = _autoreload()
    with _lock:
        rec = _records.get(file)
        if rec is not None and not rec.stale:
            return _get(file, rec.name, rec.kind, rec.parent, autoreload, None, None)
        if not os.path.exists(file):
            module = resolve_for_pickle(name)
            if module is None:
                module = _orig_import_module(name)
            return module
        if rec is not None:
            return _get(file, rec.name, rec.kind, rec.parent, autoreload, None, None)
        return _load_by_path(file, name, autoreload)


def _load_by_path(file: str, name: str, autoreload: bool) -> types.ModuleType:
    """Loads file as the site module name, its packages first (a package
    member's parents are the __init__.py files above it)."""
    rec = _records.get(file)
    if rec is not None:
        return _get(file, rec.name, rec.kind, rec.parent, autoreload, None, None)
    is_pkg = os.path.basename(file) == "__init__.py"
    parent = None
    if "." in name:
        parent_name = name.rpartition(".")[0]
        here = os.path.dirname(file)
        parent_file = os.path.join(os.path.dirname(here) if is_pkg else here, "__init__.py")
        if os.path.isfile(parent_file):
            _load_by_path(parent_file, parent_name, autoreload)
            parent = _records.get(parent_file)
    return _get(file, name, "package" if is_pkg else "module", parent, autoreload, [], None)


def resolve_for_pickle(module_name: str) -> Optional[types.ModuleType]:
    """Returns the site module a module name found in pickled data resolves
    to through the request's search order (the handler's directory,
    importer.path, sys.path), or None when it is not a site module."""
    if not module_name or module_name == "__main__":
        return None
    parts = module_name.split(".")
    top = parts[0]
    if top in _OWN_PACKAGES or top in sys.builtin_module_names:
        return None
    ctx = _ctx
    autoreload = _autoreload()
    with _lock:
        key = ("u", top, ctx.path_raw() if ctx is not None else None, ctx.root if ctx is not None else None,
               ctx.handler_dir if ctx is not None else None)
        hit = _resolutions.get(key)
        if hit is None:
            hit = _search(top, lambda: _pickle_entries(ctx))
            if hit is _NOT_FOUND:
                return None
            _resolutions[key] = hit
        if hit[0] != "site":
            return None
        module, rec = _load_hit(hit, None, autoreload)
        chain = [module] + _walk(None, module, rec, parts[1:], autoreload)
        return chain[-1]


def _pickle_entries(ctx: Optional[_Context]) -> List[Tuple[Any, Optional[_Record]]]:
    """Returns the search order for a module name found in pickled data."""
    entries = []  # type: List[Tuple[Any, Optional[_Record]]]
    if ctx is not None:
        if ctx.handler_dir:
            entries.append((ctx.handler_dir, None))
        entries.extend((d, None) for d in ctx.importer_path())
    entries.append((_SYS_PATH, None))
    entries.extend((d, None) for d in sys.path)
    return entries
