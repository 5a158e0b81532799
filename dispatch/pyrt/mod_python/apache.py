"""mod_python.apache for mpgate: the handler dispatcher, import_module and the
constants of mod_python 3.5's apache module.

The dispatcher (CallBack.HandlerDispatch) and ReportError follow
grisha/mod_python: lib/python/mod_python/apache.py (3.5, as packaged by
Debian) so that handler resolution, stacking, results, SERVER_RETURN and the
PythonDebug error page behave as there (mod_python.md §2). mpgate.worker calls
HandlerDispatch once per phase with the request object of mpgate.request.

Deliberate differences, each marked where it is made:
  * import_module is mod_python 3.3's (mpgate.importer): site modules are
    keyed by file path, not entered in sys.modules (two index.py in two
    directories are two modules), and reloaded into new module objects
    when the daemon reports a change (3.5.0.x reloads nothing); the
    dispatcher searches the handler's directory first.
  * a silent handler entry (PythonHandlerModule) whose module lacks the
    callable is skipped instead of failing with UnboundLocalError
    (grisha/mod_python#74).
  * traceback lines are logged one LOG line each, every line with the
    "<phase> <handler>: " prefix (httpd 2.4 writes one error_log line per
    traceback entry, escaping the newlines inside it).
  * PythonEnablePdb is ignored (httpd is never in -DONE_PROCESS mode here).
"""

import importlib
import io
import os
import sys
import threading
import time
import traceback
import types
from html import escape
from typing import Any, List, Optional

import _apache
from mpgate import importer as _importer

# Cache for values of PythonPath that have been seen already: each distinct
# string is evaluated once per worker (mod_python.md §1.3).
_path_cache = {}  # type: dict
_path_cache_lock = threading.Lock()

# The message of the AssertionError raised for a non-int handler result,
# verbatim from mod_python 3.5's apache.py.
_result_warning = """Handler has returned result or raised SERVER_RETURN
exception with argument having non integer type. Type of value returned
was %s, whereas expected """ + str(int) + "."


def _apply_python_path(pathstring: str) -> None:
    """Sets sys.path to the value of a PythonPath expression, once per
    distinct string in the interpreter, as mod_python does."""
    with _path_cache_lock:
        if pathstring not in _path_cache:
            newpath = eval(pathstring, globals())
            _path_cache[pathstring] = None
            sys.path[:] = newpath
            _importer.forget_resolutions()


class CallBack:
    """The dispatcher mod_python's C code calls into (one per interpreter)."""

    def HandlerDispatch(self, req: Any) -> Any:
        """Runs the handlers of req.hlist for req.phase and returns the phase
        result (mod_python.md §2)."""

        # be cautious
        result = HTTP_INTERNAL_SERVER_ERROR

        config, debug = req.get_config(), False
        if "PythonDebug" in config:
            debug = config["PythonDebug"] == "1"

        default_obj_str = _phase_handler_names[req.phase]

        # Results that let the next handler of a stacked list run.
        expected = _status_values[default_obj_str]

        hlist = None
        try:
            hlist = req.hlist

            while hlist.handler is not None:

                # split module::handler
                parts = hlist.handler.split("::", 1)
                module_name = parts[0]
                if len(parts) == 1:
                    obj_str = default_obj_str
                else:
                    obj_str = parts[1]

                # evaluate PythonPath once per distinct string, or add the
                # handler's directory to sys.path
                if "PythonPath" in config:
                    _apply_python_path(config["PythonPath"])
                else:
                    if not hlist.is_location:
                        directory = hlist.directory
                        if directory:
                            with _path_cache_lock:
                                if directory not in sys.path:
                                    sys.path[:0] = [directory]
                                    _importer.forget_resolutions()

                autoreload = True
                if "PythonAutoReload" in config:
                    autoreload = config["PythonAutoReload"] == "1"

                # mpgate: the handler's directory and root for the importer
                _importer.enter_handler(req, hlist)
                module = _import_module(module_name, autoreload, debug, None, True)

                # find the object
                obj = None
                if "." not in obj_str:  # this is an optimization
                    try:
                        obj = module.__dict__[obj_str]
                    except KeyError:
                        # mpgate: a silent entry leaves obj None here, where
                        # mod_python leaves it unbound (grisha/mod_python#74).
                        # Raised inside the except clause, as mod_python does,
                        # so the traceback shows the KeyError as its context.
                        if not hlist.silent:
                            s = "module '%s' contains no '%s'" % (module.__file__, obj_str)
                            raise AttributeError(s)
                else:
                    obj = resolve_object(module, obj_str, arg=req, silent=hlist.silent)

                if not hlist.silent or obj is not None:

                    try:
                        result = obj(req)
                    except SERVER_RETURN as value:
                        # an abort from below with value as (result, status),
                        # (result, None) or result
                        if len(value.args) == 2:
                            (result, status) = value.args
                            if status:
                                req.status = status
                        else:
                            result = value.args[0]

                    if result.__class__ is not int:
                        raise AssertionError(_result_warning % result.__class__)

                    # stop cycling through handlers
                    if result not in expected:
                        break

                elif hlist.silent:
                    # A missing handler when in silent mode will only
                    # propagate DECLINED if it is the first and only handler.
                    if result == HTTP_INTERNAL_SERVER_ERROR:
                        result = DECLINED

                hlist.next()

        except:  # noqa: E722  (mod_python reports everything, SystemExit too)
            try:
                exc_type, exc_value, exc_traceback = sys.exc_info()
                hname = hlist.handler if hlist is not None else None
                result = self.ReportError(exc_type, exc_value, exc_traceback, req=req,
                                          phase=req.phase, hname=hname, debug=debug)
            finally:
                exc_traceback = None

        return result

    def ImportDispatch(self, name: str) -> None:
        """Imports a PythonImport module, "module" or "module::function"
        (the function is then called with no arguments), with the main
        server's PythonPath and PythonDebug (mod_python.md §1.3).
        mpgate.worker calls it when a worker starts, before its first
        request, as mod_python.c's PythonChildInitHandler does in a new
        child; exceptions propagate to the caller, which logs them."""

        # config
        config, debug = (main_server.get_config() if main_server is not None else _apache.table()), False
        if "PythonDebug" in config:
            debug = config["PythonDebug"] == "1"

        # evaluate pythonpath and set sys.path to
        # resulting value if not already done
        if "PythonPath" in config:
            _apply_python_path(config["PythonPath"])

        # split module::function
        parts = name.split("::", 1)
        module_name = parts[0]
        func_name = None
        if len(parts) != 1:
            func_name = parts[1]

        module = import_module(module_name, log=debug)

        if func_name:
            getattr(module, func_name)()

    def ReportError(self, etype: Any, evalue: Any, etb: Any, req: Any = None, filter: Any = None,
                    srv: Any = None, phase: str = "N/A", hname: str = "N/A", debug: Any = 0) -> Any:
        """Logs a handler's exception and returns the phase result: 500, or
        with PythonDebug On DONE after writing the traceback page (status 500)
        to the client (mod_python.md §2.6)."""
        try:
            try:
                etb = _strip_runtime_frames(evalue, etb)
                lines = traceback.format_exception(etype, evalue, etb)

                # write to log; mpgate: one line per LOG frame, each prefixed
                for e in lines:
                    for line in e[:-1].split("\n"):
                        s = "%s %s: %s" % (phase, hname, line)
                        if req:
                            req.log_error(s, APLOG_ERR)
                        else:
                            _apache.log_error(s, APLOG_ERR, srv)

                if not debug or not req:
                    return HTTP_INTERNAL_SERVER_ERROR

                # write to client
                req.status = HTTP_INTERNAL_SERVER_ERROR
                req.content_type = "text/html"

                s = '\n<pre>\nMod_python error: "%s %s"\n\n' % (phase, hname)
                for e in lines:
                    s = s + escape(e) + "\n"
                s = s + "</pre>\n"

                if filter:
                    filter.write(s)
                    filter.flush()
                else:
                    req.write(s)

                return DONE
            except:  # noqa: E722
                # last try
                traceback.print_exc()
                sys.stderr.flush()
        finally:
            etb = None
        return None


# ---------------------------------------------------------------------------
# Tracebacks


# Files of mpgate's runtime that stand in for mod_python's C code (the
# request, connection, server and table objects, _apache, _psp): their frames are
# left out of the tracebacks ReportError shows, as C frames are in
# mod_python's. mod_python/apache.py is Python in mod_python too: it stays.
_RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_C_STAND_INS = (os.path.join(_RUNTIME_DIR, "mpgate") + os.sep,
                os.path.join(_RUNTIME_DIR, "mod_python", "_apache.py"),
                os.path.join(_RUNTIME_DIR, "mod_python", "_psp.py"))


def _is_stand_in(tb: Any) -> bool:
    return tb.tb_frame.f_code.co_filename.startswith(_C_STAND_INS)


def _strip_tb(tb: Any) -> Any:
    """Returns the traceback chain tb without the frames of _C_STAND_INS."""
    keep = []
    while tb is not None:
        if not _is_stand_in(tb):
            keep.append(tb)
        tb = tb.tb_next
    for a, b in zip(keep, keep[1:]):
        a.tb_next = b
    if keep:
        keep[-1].tb_next = None
        return keep[0]
    return None


def _strip_runtime_frames(evalue: Any, etb: Any) -> Any:
    """Strips mpgate's C stand-in frames from etb and from the tracebacks
    of the exceptions chained to evalue; returns the new etb."""
    seen = set()
    e = evalue
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if e.__traceback__ is not None:
            e.__traceback__ = _strip_tb(e.__traceback__)
        e = e.__cause__ or e.__context__
    return _strip_tb(etb)


# ---------------------------------------------------------------------------
# import_module


# The directories of the standard library and installed packages: modules
# found there are imported normally and never reloaded (mpgate.importer).
_INSTALLED_DIRS = _importer.INSTALLED_DIRS


def import_module(module_name: str, autoreload: Any = None, log: Any = None,
                  path: Optional[List[str]] = None) -> types.ModuleType:
    """Returns the module named module_name, importing it if needed, with
    mod_python 3.3's semantics (Doc/modpython4.tex, import_module).

    module_name is a module name (dotted allowed) or a file reference: an
    absolute path, "~/x.py" (the handler root), "./x.py" or "../x.py"
    (relative to the calling site module), or "dir/module". A site module
    (a source file outside the standard library and installed packages) is
    loaded by mpgate.importer, keyed by its path, not entered in
    sys.modules, and reloaded when the daemon reports it changed and
    autoreload is true (None: the request's PythonAutoReload, default On).
    Any other name is imported normally (importlib.import_module) and never
    reloaded. A name is searched for in path, the calling site module's
    directory and __mp_path__, PythonOption mod_python.importer.path, the
    handler's directory, then sys.path; for a file reference path becomes
    the module's __mp_path__. With log true (None: PythonDebug) a
    (re)import logs mod_python's "(Re)importing module" notice.
    """
    return _import_module(module_name, autoreload, log, path, False)


def _import_module(module_name: str, autoreload: Any, log: Any, path: Optional[List[str]],
                   dispatcher: bool) -> types.ModuleType:
    """import_module; dispatcher is true for the handler module the
    dispatcher imports (no importing module; the handler's directory is
    searched first, as 3.3's dispatcher passed it as path)."""
    if not isinstance(module_name, str):
        raise TypeError("module name must be a string, not %s" % type(module_name).__name__)
    if log is None:
        log = _importer.current_debug()

    def notice(reload: bool) -> None:
        if log:
            _log_import(module_name, path)

    module, site = _importer.import_module(module_name, autoreload=autoreload, path=path,
                                           dispatcher=dispatcher, notice=notice)
    if site:
        return module

    if module_name not in sys.modules and log:
        _log_import(module_name, path)
    module = importlib.import_module(module_name)
    if "__mtime__" not in module.__dict__:
        try:
            module.__mtime__ = module_mtime(module)
        except (AttributeError, TypeError):
            pass
    return module


def freeze_modules() -> None:
    """Disables the reloading of site modules for the life of the worker
    (mod_python 3.3; e.g. PythonImport mod_python.apache::freeze_modules)."""
    _importer.freeze_modules()


def _log_import(module_name: str, path: Optional[List[str]]) -> None:
    """Logs mod_python's (Re)importing notice."""
    if path:
        s = "mod_python: (Re)importing module '%s' with path set to '%s'" % (module_name, path)
    else:
        s = "mod_python: (Re)importing module '%s'" % module_name
    _apache.log_error(s, APLOG_NOTICE)


def module_mtime(module: types.ModuleType) -> float:
    """Returns the modification time of module's file (0 if unknown)."""
    mtime = 0  # type: float
    filepath = module.__dict__.get("__file__")
    if filepath:
        try:
            if os.path.exists(filepath):
                mtime = os.path.getmtime(filepath)
            module.__dict__["__mtime_check__"] = time.time()
        except OSError:
            pass
    return mtime


def resolve_object(module: Any, obj_str: str, arg: Any = None, silent: Any = 0) -> Any:
    """Finds the object named by the dotted obj_str in module, left to right;
    whenever the parent of a step is a class, the class is instantiated with
    arg (the request) and the attribute is taken from the instance."""
    obj = module

    for obj_str in obj_str.split("."):

        parent = obj

        # don't throw attribute errors when silent
        if silent and not hasattr(obj, obj_str):
            return None

        # this adds a little clarity if we have an attribute error
        if obj == module and not hasattr(module, obj_str):
            if hasattr(module, "__file__"):
                s = "module '%s' contains no '%s'" % (module.__file__, obj_str)
                raise AttributeError(s)

        obj = getattr(obj, obj_str)

        if isinstance(parent, type):
            # The parent of this object is a class, it needs to be
            # instantiated
            instance = parent(arg)
            obj = getattr(instance, obj_str)

    return obj


def build_cgi_env(req: Any) -> dict:
    """Returns a dict of CGI environment variables for req: add_cgi_vars(),
    SCRIPT_NAME recomputed, GATEWAY_INTERFACE Python-CGI/1.1 and
    HTTP_AUTHORIZATION."""
    req.add_cgi_vars()
    # mpgate: a value that is not UTF-8 (a header's Latin-1 bytes) is
    # decoded with surrogateescape, as Python decodes a real environment;
    # mod_python 3.5's table crashes on it.
    env = {}
    for k, v in req.subprocess_env._pairs():
        env[_env_str(k)] = _env_str(v)

    if req.path_info and len(req.path_info) > 0:
        env["SCRIPT_NAME"] = req.uri[:-len(req.path_info)]
    else:
        env["SCRIPT_NAME"] = req.uri

    env["GATEWAY_INTERFACE"] = "Python-CGI/1.1"

    # you may want to comment this out for better security
    if "authorization" in req.headers_in:
        env["HTTP_AUTHORIZATION"] = req.headers_in["authorization"]

    return env


def _env_str(v: Any) -> str:
    """A stored table string as an environment string."""
    return v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v


class NullIO(object):
    """Abstract IO."""

    def tell(self) -> int: return 0
    def read(self, n: int = -1) -> Any: return ""
    def readline(self, length: Any = None) -> Any: return ""
    def readlines(self) -> list: return []
    def write(self, s: Any) -> None: pass
    def writelines(self, list: Any) -> None: self.write("".join(list))
    def isatty(self) -> int: return 0
    def flush(self) -> None: pass
    def close(self) -> None: pass
    def detach(self) -> None: pass
    def seek(self, pos: int, mode: int = 0) -> None: pass


class _RequestBody(io.RawIOBase):
    """The request body as a raw binary stream (req.read)."""

    def __init__(self, req: Any) -> None:
        super().__init__()
        self._req = req

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._req.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def readall(self) -> bytes:
        return self._req.read()

    def close(self) -> None:
        """Does nothing: the request's body is not the script's to close."""


class CGIStdin(NullIO):
    """sys.stdin for CGI emulation: the request body as Python 3's
    sys.stdin gives it to a CGI script, text decoded as UTF-8
    (surrogateescape, as under Apache's C locale), with the bytes in
    .buffer (cgi.FieldStorage reads sys.stdin.buffer).

    mpgate: mod_python 3.5's CGIStdin adds req.read()'s bytes to a str
    buffer, so that on Python 3 reading a request body fails with
    TypeError, readline fails always, and there is no .buffer."""

    encoding = "utf-8"
    errors = "surrogateescape"

    def __init__(self, req: Any) -> None:
        self.pos = 0
        self.req = req
        self.buffer = io.BufferedReader(_RequestBody(req), 65536)
        self._text = io.TextIOWrapper(self.buffer, encoding=self.encoding, errors=self.errors, newline="\n")

    def read(self, n: Any = -1) -> str:
        s = self._text.read(-1 if n is None else n)
        self.pos += len(s)
        return s

    def readline(self, n: Any = -1) -> str:
        s = self._text.readline(-1 if n is None else n)
        self.pos += len(s)
        return s

    def readlines(self, hint: int = -1) -> list:
        lines = self._text.readlines(hint)
        self.pos += sum(len(line) for line in lines)
        return lines

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos


class CGIStdout(NullIO):
    """sys.stdout for CGI emulation: parses the CGI header block (up to the
    first blank line: Status sets req.status, Content-Type
    req.content_type, the others are added to headers_out), then writes the
    body with req.write; str is written UTF-8 encoded, as req.write does.

    mpgate: bytes are written as they are, and sys.stdout.buffer is the
    stream itself, as a Python 3 CGI script writes binary output; mod_python
    3.5 fails on bytes before the blank line and writes their repr after
    it."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, req: Any) -> None:
        self.pos = 0
        self.req = req
        self.headers_sent = 0
        self.headers = b""

    @property
    def buffer(self) -> "CGIStdout":
        return self

    def write(self, s: Any) -> None:
        if not s:
            return
        if not isinstance(s, (str, bytes)):
            # what req.write would say of it
            raise TypeError("write() argument must be str or bytes, not %s" % type(s).__name__)
        if not self.headers_sent:
            self.headers = self.headers + (s.encode("utf-8") if isinstance(s, str) else s)

            # first try RFC-compliant CRLF, then \n\n
            ss = self.headers.split(b"\r\n\r\n", 1)
            if len(ss) < 2:
                ss = self.headers.split(b"\n\n", 1)

            if len(ss) >= 2:
                # headers done, process them
                for line in ss[0].replace(b"\r\n", b"\n").split(b"\n"):
                    h, v = _header_text(line).split(":", 1)
                    v = v.strip()
                    if h.lower() == "status":
                        status = int(v.split()[0])
                        self.req.status = status
                    elif h.lower() == "content-type":
                        self.req.content_type = v
                        self.req.headers_out[h] = v
                    else:
                        self.req.headers_out.add(h, v)

                self.headers_sent = 1
                self.headers = b""

                # write the body if any at this point
                self.req.write(ss[1])
        else:
            self.req.write(s)

        self.pos = self.pos + len(s)

    def writelines(self, lines: Any) -> None:
        for s in lines:
            self.write(s)

    def tell(self) -> int:
        return self.pos


def _header_text(line: bytes) -> str:
    """A CGI header line as str: UTF-8 (what a str written to stdout
    became), else Latin-1."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def setup_cgi(req: Any) -> Any:
    """Replaces sys.stdin and sys.stdout with objects that read/write to
    the client, and adds the CGI variables to os.environ; returns (environ,
    stdin, stdout) to give restore_nocgi().

    mpgate: a variable without a value (SCRIPT_FILENAME of a request that
    maps to no file) is left out, since os.environ holds only strings."""
    save_env = os.environ.copy()
    si = sys.stdin
    so = sys.stdout
    os.environ.update((k, v) for k, v in build_cgi_env(req).items() if v is not None)
    sys.stdout = CGIStdout(req)
    sys.stdin = CGIStdin(req)
    sys.argv = []  # keeps cgi.py happy
    return save_env, si, so


def restore_nocgi(sav_env: Any, si: Any, so: Any) -> None:
    """Undoes setup_cgi(): os.environ as it was, sys.stdin and sys.stdout
    back. mpgate: mod_python 3.5 swaps them (sys.stdout = si), which leaves
    sys.stdout pointing at the interpreter's stdin after a CGI request."""
    osenv = os.environ
    for k in list(osenv.keys()):
        del osenv[k]
    for k in sav_env:
        osenv[k] = sav_env[k]
    sys.stdout = so
    sys.stdin = si


interpreter = None  # type: Optional[str]
main_server = None  # type: Any
_callback = None  # type: Optional[CallBack]


def register_cleanup(callback: Any, data: Any = None) -> None:
    """Registers callback(data) to run when the worker shuts down."""
    _apache.register_cleanup(interpreter, main_server, callback, data)


def init(name: str, server: Any) -> CallBack:
    """Called by the worker at startup: sets interpreter, main_server and
    sys.argv, and returns the dispatcher."""
    global interpreter
    global main_server
    global _callback
    interpreter = name
    main_server = server
    sys.argv = ["mod_python"]
    _callback = CallBack()
    return _callback


## Some functions made public
make_table = _apache.table
log_error = _apache.log_error
table = _apache.table
config_tree = _apache.config_tree
server_root = _apache.server_root
mpm_query = _apache.mpm_query
exists_config_define = _apache.exists_config_define
stat = _apache.stat

## Some constants (mod_python 3.5 apache.py)

HTTP_CONTINUE                     = 100
HTTP_SWITCHING_PROTOCOLS          = 101
HTTP_PROCESSING                   = 102
HTTP_OK                           = 200
HTTP_CREATED                      = 201
HTTP_ACCEPTED                     = 202
HTTP_NON_AUTHORITATIVE            = 203
HTTP_NO_CONTENT                   = 204
HTTP_RESET_CONTENT                = 205
HTTP_PARTIAL_CONTENT              = 206
HTTP_MULTI_STATUS                 = 207
HTTP_MULTIPLE_CHOICES             = 300
HTTP_MOVED_PERMANENTLY            = 301
HTTP_MOVED_TEMPORARILY            = 302
HTTP_SEE_OTHER                    = 303
HTTP_NOT_MODIFIED                 = 304
HTTP_USE_PROXY                    = 305
HTTP_TEMPORARY_REDIRECT           = 307
HTTP_BAD_REQUEST                  = 400
HTTP_UNAUTHORIZED                 = 401
HTTP_PAYMENT_REQUIRED             = 402
HTTP_FORBIDDEN                    = 403
HTTP_NOT_FOUND                    = 404
HTTP_METHOD_NOT_ALLOWED           = 405
HTTP_NOT_ACCEPTABLE               = 406
HTTP_PROXY_AUTHENTICATION_REQUIRED= 407
HTTP_REQUEST_TIME_OUT             = 408
HTTP_CONFLICT                     = 409
HTTP_GONE                         = 410
HTTP_LENGTH_REQUIRED              = 411
HTTP_PRECONDITION_FAILED          = 412
HTTP_REQUEST_ENTITY_TOO_LARGE     = 413
HTTP_REQUEST_URI_TOO_LARGE        = 414
HTTP_UNSUPPORTED_MEDIA_TYPE       = 415
HTTP_RANGE_NOT_SATISFIABLE        = 416
HTTP_EXPECTATION_FAILED           = 417
HTTP_IM_A_TEAPOT                  = 418
HTTP_UNPROCESSABLE_ENTITY         = 422
HTTP_LOCKED                       = 423
HTTP_FAILED_DEPENDENCY            = 424
HTTP_UPGRADE_REQUIRED             = 426
HTTP_INTERNAL_SERVER_ERROR        = 500
HTTP_NOT_IMPLEMENTED              = 501
HTTP_BAD_GATEWAY                  = 502
HTTP_SERVICE_UNAVAILABLE          = 503
HTTP_GATEWAY_TIME_OUT             = 504
HTTP_VERSION_NOT_SUPPORTED        = 505
HTTP_VARIANT_ALSO_VARIES          = 506
HTTP_INSUFFICIENT_STORAGE         = 507
HTTP_NOT_EXTENDED                 = 510

# The APLOG constants in Apache are derived from syslog.h
APLOG_EMERG = 0     # system is unusable
APLOG_ALERT = 1     # action must be taken immediately
APLOG_CRIT = 2      # critical conditions
APLOG_ERR = 3       # error conditions
APLOG_WARNING = 4   # warning conditions
APLOG_NOTICE = 5    # normal but significant condition
APLOG_INFO = 6      # informational
APLOG_DEBUG = 7     # debug-level messages

APLOG_NOERRNO = 0  # DEPRECATED
OK = REQ_PROCEED = 0
DONE = -2
DECLINED = REQ_NOACTION = -1

_phase_handler_names = {}
for _phase in ["PythonPostReadRequestHandler",
               "PythonTransHandler",
               "PythonHeaderParserHandler",
               "PythonInitHandler",
               "PythonAccessHandler",
               "PythonAuthenHandler",
               "PythonAuthzHandler",
               "PythonTypeHandler",
               "PythonFixupHandler",
               "PythonHandler",
               "PythonLogHandler",
               "PythonCleanupHandler"]:
    _phase_handler_names[_phase] = _phase[len("python"):].lower()
del _phase

# Results that let a stacked handler list continue, per default callable
# (mod_python.md §2.2).
_status_values = {
    "postreadrequesthandler":   [DECLINED, OK],
    "transhandler":             [DECLINED],
    "headerparserhandler":      [DECLINED, OK],
    "inithandler":              [DECLINED, OK],
    "accesshandler":            [DECLINED, OK],
    "authenhandler":            [DECLINED],
    "authzhandler":             [DECLINED],
    "typehandler":              [DECLINED],
    "fixuphandler":             [DECLINED, OK],
    "handler":                  [OK],
    "loghandler":               [DECLINED, OK],
    "cleanuphandler":           [OK],
}

# constants for get_remote_host
REMOTE_HOST = 0
REMOTE_NAME = 1
REMOTE_NOLOOKUP = 2
REMOTE_DOUBLE_REV = 3

# legacy/mod_python things
REQ_ABORTED = HTTP_INTERNAL_SERVER_ERROR
REQ_EXIT = "REQ_EXIT"
SERVER_RETURN = _apache.SERVER_RETURN

# the req.finfo tuple
FINFO_MODE = 0
FINFO_INO = 1
FINFO_DEV = 2
FINFO_NLINK = 3
FINFO_UID = 4
FINFO_GID = 5
FINFO_SIZE = 6
FINFO_ATIME = 7
FINFO_MTIME = 8
FINFO_CTIME = 9
FINFO_FNAME = 10
FINFO_NAME = 11
FINFO_FILETYPE = 12

# the req.parsed_uri
URI_SCHEME = 0
URI_HOSTINFO = 1
URI_USER = 2
URI_PASSWORD = 3
URI_HOSTNAME = 4
URI_PORT = 5
URI_PATH = 6
URI_QUERY = 7
URI_FRAGMENT = 8

# for req.proxyreq
PROXYREQ_NONE = 0       # No proxy
PROXYREQ_PROXY = 1      # Standard proxy
PROXYREQ_REVERSE = 2    # Reverse proxy
PROXYREQ_RESPONSE = 3   # Origin response

# methods for req.allow_method()
M_GET = 0               # RFC 2616: HTTP
M_PUT = 1
M_POST = 2
M_DELETE = 3
M_CONNECT = 4
M_OPTIONS = 5
M_TRACE = 6             # RFC 2616: HTTP
M_PATCH = 7
M_PROPFIND = 8          # RFC 2518: WebDAV
M_PROPPATCH = 9
M_MKCOL = 10
M_COPY = 11
M_MOVE = 12
M_LOCK = 13
M_UNLOCK = 14           # RFC2518: WebDAV
M_VERSION_CONTROL = 15  # RFC3253: WebDAV Versioning
M_CHECKOUT = 16
M_UNCHECKOUT = 17
M_CHECKIN = 18
M_UPDATE = 19
M_LABEL = 20
M_REPORT = 21
M_MKWORKSPACE = 22
M_MKACTIVITY = 23
M_BASELINE_CONTROL = 24
M_MERGE = 25
M_INVALID = 26          # RFC3253: WebDAV Versioning

# for req.used_path_info
AP_REQ_ACCEPT_PATH_INFO = 0  # Accept request given path_info
AP_REQ_REJECT_PATH_INFO = 1  # Send 404 error if path_info was given
AP_REQ_DEFAULT_PATH_INFO = 2 # Module's choice for handling path_info

# for mpm_query
AP_MPMQ_NOT_SUPPORTED      = 0  # MPM cannot do it
AP_MPMQ_STATIC             = 1  # static number of threads or daemons
AP_MPMQ_DYNAMIC            = 2  # dynamic number of threads or daemons

AP_MPMQ_MAX_DAEMON_USED    = 1  # Max # of daemons used so far
AP_MPMQ_IS_THREADED        = 2  # MPM can do threading
AP_MPMQ_IS_FORKED          = 3  # MPM can do forking
AP_MPMQ_HARD_LIMIT_DAEMONS = 4  # The compiled max # daemons
AP_MPMQ_HARD_LIMIT_THREADS = 5  # The compiled max # threads
AP_MPMQ_MAX_THREADS        = 6  # # of threads/child by config
AP_MPMQ_MIN_SPARE_DAEMONS  = 7  # Min # of spare daemons
AP_MPMQ_MIN_SPARE_THREADS  = 8  # Min # of spare threads
AP_MPMQ_MAX_SPARE_DAEMONS  = 9  # Max # of spare daemons
AP_MPMQ_MAX_SPARE_THREADS  = 10 # Max # of spare threads
AP_MPMQ_MAX_REQUESTS_DAEMON= 11 # Max # of requests per daemon
AP_MPMQ_MAX_DAEMONS        = 12 # Max # of daemons by config

# magic mime types
CGI_MAGIC_TYPE = "application/x-httpd-cgi"
INCLUDES_MAGIC_TYPE = "text/x-server-parsed-html"
INCLUDES_MAGIC_TYPE3 = "text/x-server-parsed-html3"
DIR_MAGIC_TYPE = "httpd/unix-directory"

# for req.read_body
REQUEST_NO_BODY = 0
REQUEST_CHUNKED_ERROR = 1
REQUEST_CHUNKED_DECHUNK = 2

# for req.connection.keepalive
AP_CONN_UNKNOWN = _apache.AP_CONN_UNKNOWN
AP_CONN_CLOSE = _apache.AP_CONN_CLOSE
AP_CONN_KEEPALIVE = _apache.AP_CONN_KEEPALIVE

# for req.finfo[apache.FINFO_FILETYPE]
APR_NOFILE = _apache.APR_NOFILE
APR_REG = _apache.APR_REG
APR_DIR = _apache.APR_DIR
APR_CHR = _apache.APR_CHR
APR_BLK = _apache.APR_BLK
APR_PIPE = _apache.APR_PIPE
APR_LNK = _apache.APR_LNK
APR_SOCK = _apache.APR_SOCK
APR_UNKFILE = _apache.APR_UNKFILE

# module magic
MODULE_MAGIC_NUMBER_MAJOR = _apache.MODULE_MAGIC_NUMBER_MAJOR
MODULE_MAGIC_NUMBER_MINOR = _apache.MODULE_MAGIC_NUMBER_MINOR

# for apache.stat()
APR_FINFO_LINK = 0x00000001  # Stat the link not the file itself if it is a link
APR_FINFO_MTIME = 0x00000010  # Modification Time
APR_FINFO_CTIME = 0x00000020  # Creation or inode-changed time
APR_FINFO_ATIME = 0x00000040  # Access Time
APR_FINFO_SIZE = 0x00000100  # Size of the file
APR_FINFO_CSIZE = 0x00000200  # Storage size consumed by the file
APR_FINFO_DEV = 0x00001000  # Device
APR_FINFO_INODE = 0x00002000  # Inode
APR_FINFO_NLINK = 0x00004000  # Number of links
APR_FINFO_TYPE = 0x00008000  # Type
APR_FINFO_USER = 0x00010000  # User
APR_FINFO_GROUP = 0x00020000  # Group
APR_FINFO_UPROT = 0x00100000  # User protection bits
APR_FINFO_GPROT = 0x00200000  # Group protection bits
APR_FINFO_WPROT = 0x00400000  # World protection bits
APR_FINFO_ICASE = 0x01000000  # if dev is case insensitive
APR_FINFO_NAME = 0x02000000  # ->name in proper case
APR_FINFO_MIN = 0x00008170  # type, mtime, ctime, atime, size
APR_FINFO_IDENT = 0x00003000  # dev and inode
APR_FINFO_OWNER = 0x00030000  # user and group
APR_FINFO_PROT = 0x00700000  # all protections
APR_FINFO_NORM = 0x0073b170  # an atomic unix apr_stat()
APR_FINFO_DIRENT = 0x02000000  # an atomic unix apr_dir_read()
