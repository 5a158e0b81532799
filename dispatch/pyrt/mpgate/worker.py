"""The worker process: says HELLO, then serves REQUEST frames one at a time
through mod_python's dispatcher, obeys CONTROL between requests and exits on
SHUTDOWN (the message flow of mpgate.proto). Site modules are loaded and
reloaded by mpgate.importer: CONTROL modules.invalidate marks them stale, and
END reports the ones a request loaded.

The daemon starts it as ``/usr/bin/python3 -s <dir>/bootstrap.py`` with the
protocol socket on fd 3, stdout/stderr piped to its log, and the environment
variables MPGATE_INTERPRETER (interpreter name), MPGATE_WORKER_ID and
MPGATE_WORKER_INIT ("1": a CONTROL worker.init frame comes first, carrying
the servers, the defines and the PythonImports of the interpreter, which run
before HELLO, as mod_python runs them when a child starts). On SHUTDOWN the
cleanups registered with apache.register_cleanup and server.register_cleanup
run; what they log goes to the daemon as LOG frames before the worker exits.

Exit codes are part of the contract with the daemon: EXIT_OK after SHUTDOWN
or when the daemon closes the socket between requests, EXIT_BOOT_ERROR when
the worker cannot start, EXIT_PROTOCOL_ERROR when the daemon sent a
malformed or unexpected frame or vanished during a request.
"""

import collections
import io
import json
import os
import socket
import sys
import threading
import traceback
from typing import Any, Dict, List, Optional, Tuple

import _apache
from mod_python import apache

from . import importer, proto, sitepickle
from .request import (KNOWN_STATUSES, CallError, Exchange, ExchangeError, SiteConfig, _log_lines, mp_hlist,
                      mp_request, mp_server, server_state, set_servers)

EXIT_OK = 0
EXIT_BOOT_ERROR = 3
EXIT_PROTOCOL_ERROR = 4

# PROTOCOL_FD is the file descriptor of the protocol socket.
PROTOCOL_FD = 3

# CONFIG_CACHE_SIZE bounds the parsed configurations a worker keeps: the
# least recently used one is dropped first. The daemon must send the JSON
# again for an id the worker no longer has; HELLO announces the size.
CONFIG_CACHE_SIZE = 64

# OUT_BUFFER_LIMIT is how many bytes of queued frames make the worker write
# to the socket before the next flush point.
OUT_BUFFER_LIMIT = 64 * 1024

# CONTROL_INVALIDATE is the CONTROL command that marks site modules stale
# (dispatch/proto.go).
CONTROL_INVALIDATE = "modules.invalidate"

# CONTROL_WORKER_INIT is the CONTROL command the daemon sends before HELLO
# (dispatch/proto.go, dispatch/lifecycle.go).
CONTROL_WORKER_INIT = "worker.init"

# The content handlers mod_python answers for (mod_python.c PythonHandler).
_PYTHON_HANDLERS = ("mod_python", "python-program")

# The phases before authentication, in Apache's order (mod_python.md §1.6):
# post_read_request runs PythonInitHandler then PythonPostReadRequestHandler
# (mod_python.c PythonPostReadRequestHandler, which also marks
# python_init_ran, so the header parser's fallback to PythonInitHandler never
# fires in a main request), then translate_name, header_parser and
# access_checker. Apache has translated the URI already: what a
# PythonTransHandler sets on req stays for the later phases.
_BEFORE_AUTH = ("PythonInitHandler", "PythonPostReadRequestHandler", "PythonTransHandler",
                "PythonHeaderParserHandler", "PythonAccessHandler")
# The phases an AUTHORIZER request may run.
_AUTHORIZER_PHASES = ("PythonAccessHandler", "PythonAuthenHandler", "PythonAuthzHandler")


def _phase_set(s: Optional[str]) -> frozenset:
    """Parses the phases an authorizer ran: names separated by commas
    (Apache joins a Variable repeated across AUTHORIZER calls with ", ")."""
    if not s:
        return frozenset()
    return frozenset(p.strip() for p in s.split(",") if p.strip())


class Channel:
    """The worker's end of the protocol socket: frames are queued in one
    buffer and written with one sendall per flush point. Safe for use by
    several threads (a handler's background thread may log)."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._reader = proto.FrameReader(sock.makefile("rb"))
        self._out = bytearray()
        self._lock = threading.RLock()  # guards _out and socket writes
        self.sends = 0

    def queue(self, t: int, id: int, payload: bytes) -> None:
        """Appends a frame to the output buffer (written at the next flush,
        or now if the buffer is large)."""
        with self._lock:
            proto.append_frame(self._out, t, id, payload)
            if len(self._out) >= OUT_BUFFER_LIMIT:
                self.flush()

    def maybe_flush(self) -> None:
        """Writes the buffer out if it has grown large."""
        with self._lock:
            if len(self._out) >= OUT_BUFFER_LIMIT:
                self.flush()

    def flush(self) -> None:
        """Writes every queued frame with one sendall."""
        with self._lock:
            if not self._out:
                return
            data = bytes(self._out)
            del self._out[:]
            self.sends += 1
            self._sock.sendall(data)

    def read_frame(self) -> proto.Frame:
        """Reads the next frame from the daemon."""
        return self._reader.read_frame()


class ConfigError(Exception):
    """A REQUEST's configuration is missing or malformed."""


class _LogStream(io.TextIOBase):
    """sys.stdout or sys.stderr: during a request each complete line goes to
    the request's log as a LOG frame at level; otherwise to the real
    stream."""

    def __init__(self, worker: "Worker", level: int, real: Any, name: str) -> None:
        super().__init__()
        self._worker = worker
        self._level = level
        self._real = real
        self._name = name
        self._partial = ""
        self.buffer = _LogStreamBuffer(self)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "backslashreplace"

    @property
    def name(self) -> str:
        return self._name

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._real.fileno()

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        ex = self._worker.exchange
        if ex is None or ex.ended:
            self._real.write(s)
            return len(s)
        text = self._partial + s
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            ex.log(self._level, line)
        return len(s)

    def flush(self) -> None:
        ex = self._worker.exchange
        if ex is None or ex.ended:
            self._real.flush()

    def end_request(self, ex: Exchange) -> None:
        """Logs a partial last line before the request ends."""
        if self._partial:
            partial, self._partial = self._partial, ""
            ex.log(self._level, partial)


class _LogStreamBuffer:
    """The .buffer of a _LogStream: bytes are decoded as UTF-8."""

    def __init__(self, stream: _LogStream) -> None:
        self._stream = stream

    def write(self, b: bytes) -> int:
        self._stream.write(bytes(b).decode("utf-8", "backslashreplace"))
        return len(b)

    def flush(self) -> None:
        self._stream.flush()


class Worker:
    """Serves the requests of one daemon over a Channel."""

    def __init__(self, channel: Channel, interpreter: str, worker_id: str = "", expect_init: bool = False) -> None:
        self.channel = channel
        self.interpreter = interpreter
        self.worker_id = worker_id
        self.expect_init = expect_init
        self.exchange = None  # type: Optional[Exchange]
        self.streams = []  # type: List[_LogStream]
        self._configs = collections.OrderedDict()  # type: collections.OrderedDict
        self.callback = apache.init(interpreter, None)
        _apache._log_sink = self._log_sink

    # -- logging ------------------------------------------------------------

    def _log_sink(self, level: int, message: str, server: Any) -> None:
        """Receives apache.log_error, server.log_error and the like: they go
        to the running request's log, else to the worker's (id 0)."""
        ex = self.exchange
        rid = ex.id if ex is not None and not ex.ended else 0
        try:
            _log_lines(self.channel, rid, level, message)
            if rid == 0:
                # No END is coming to push it out (a PythonImport, a
                # cleanup at SHUTDOWN that may never return): send it now.
                self.channel.flush()
        except OSError:
            pass

    def log(self, level: int, message: str) -> None:
        """Logs a worker-level message (request id 0)."""
        self._log_sink(level, message, None)

    # -- the loop -----------------------------------------------------------

    def hello(self) -> None:
        """Sends HELLO."""
        fields = [
            ("protocol", str(proto.PROTOCOL_VERSION)),
            ("pid", str(os.getpid())),
            ("python", "%d.%d.%d" % sys.version_info[:3]),
            ("interpreter", self.interpreter),
            ("config_cache", str(CONFIG_CACHE_SIZE)),
        ]
        self.channel.queue(proto.FRAME_HELLO, 0, bytes(proto.append_hello(bytearray(), fields)))
        self.channel.flush()

    def serve(self) -> int:
        """Serves frames until SHUTDOWN or the end of the stream; returns the
        exit code."""
        try:
            if self.expect_init:
                self.read_init()
            self.hello()
            while True:
                try:
                    frame = self.channel.read_frame()
                except EOFError:
                    self.shutdown()
                    return EXIT_OK
                if frame.type == proto.FRAME_REQUEST:
                    self.handle_request(frame)
                    if self.exchange is not None and self.exchange.broken is not None:
                        raise _Fatal("request %d: %s" % (self.exchange.id, self.exchange.broken))
                    self.exchange = None
                elif frame.type == proto.FRAME_CONTROL:
                    self.handle_control(frame)
                elif frame.type == proto.FRAME_SHUTDOWN:
                    self.shutdown()
                    return EXIT_OK
                else:
                    raise proto.ProtoError("unexpected frame between requests (id %d)" % frame.id, frame.type)
        except (proto.ProtoError, _Fatal, OSError) as e:
            _stderr("mpgate worker %s: %s" % (self.worker_id or os.getpid(), e))
            return EXIT_PROTOCOL_ERROR

    def read_init(self) -> None:
        """Reads the CONTROL worker.init frame the daemon sends first and
        obeys it (init)."""
        frame = self.channel.read_frame()
        if frame.type != proto.FRAME_CONTROL:
            raise proto.ProtoError("expected CONTROL %s before HELLO" % CONTROL_WORKER_INIT, frame.type)
        c = proto.parse_control(frame.payload)
        if c.command != CONTROL_WORKER_INIT:
            raise proto.ProtoError("expected CONTROL %s before HELLO, got %r" % (CONTROL_WORKER_INIT, c.command),
                                   frame.type)
        self.init(c.args)

    def init(self, args: List[Tuple[str, str]]) -> None:
        """Applies worker.init: the servers ("server", JSON; the main server
        has index 0) become apache.main_server and what server.next finds,
        the "define" names what apache.exists_config_define knows, and each
        "import" runs, in order, as a PythonImport (ImportDispatch): a
        failure is logged, as mod_python logs it, and the worker serves on."""
        servers = []  # type: List[Dict[str, Any]]
        defines = []  # type: List[str]
        imports = []  # type: List[str]
        for k, v in args:
            if k == "server":
                try:
                    desc = json.loads(v)
                except ValueError as e:
                    raise proto.ProtoError("%s: server: %s" % (CONTROL_WORKER_INIT, e), proto.FRAME_CONTROL) from None
                if not isinstance(desc, dict) or not isinstance(desc.get("index"), int):
                    raise proto.ProtoError("%s: server: not a server description" % CONTROL_WORKER_INIT,
                                           proto.FRAME_CONTROL)
                servers.append(desc)
            elif k == "define":
                defines.append(v)
            elif k == "import":
                imports.append(v)
            else:
                self.log(apache.APLOG_WARNING, "mpgate worker: %s: unknown argument %r" % (CONTROL_WORKER_INIT, k))
        set_servers(servers)
        _apache._defines = frozenset(defines)
        for desc in servers:
            if desc["index"] == 0:
                apache.main_server = mp_server(server_state(desc), self._log_sink)
        for name in imports:
            self.python_import(name)

    def python_import(self, name: str) -> None:
        """Runs one PythonImport; a failure is logged as mod_python.c's
        PythonChildInitHandler does (the traceback, then "error importing")."""
        try:
            self.callback.ImportDispatch(name)
        except BaseException as e:  # noqa: B902  (SystemExit too: the worker serves on)
            etb = apache._strip_runtime_frames(e, e.__traceback__)
            for chunk in traceback.format_exception(type(e), e, etb):
                for line in chunk.rstrip("\n").split("\n"):
                    self.log(apache.APLOG_ERR, line)
            self.log(apache.APLOG_ERR, "directive_PythonImport: error importing %s" % name)
        finally:
            # What the import printed went to the real streams (the
            # daemon's log): push it out now.
            for s in self.streams:
                s.flush()

    def handle_control(self, frame: proto.Frame) -> None:
        """Obeys a CONTROL frame: modules.invalidate marks site modules stale
        (mpgate.importer); any other command is logged as unknown."""
        c = proto.parse_control(frame.payload)
        if c.command == CONTROL_INVALIDATE:
            importer.invalidate(c.args)
        else:
            self.log(apache.APLOG_WARNING, "mpgate worker: unknown CONTROL command %r" % c.command)
        self.channel.flush()

    def shutdown(self) -> None:
        """Runs the cleanups registered with apache.register_cleanup and
        server.register_cleanup, last registered first."""
        while True:
            with _apache._cleanups_lock:
                if not _apache._cleanups:
                    break
                handler, data = _apache._cleanups.pop()
            try:
                handler(data)
            except BaseException as e:  # noqa: B902  (errors are only logged)
                _log_cleanup_error(self.log, handler, e)
        try:
            self.channel.flush()
        except OSError:
            pass

    # -- one request --------------------------------------------------------

    def _config(self, config_id: int, raw: bytes) -> SiteConfig:
        """Returns the parsed config for config_id, parsing raw when given (LRU cache)."""
        if raw:
            try:
                config = SiteConfig(json.loads(raw.decode("utf-8")))
            except (ValueError, TypeError, AttributeError) as e:
                raise ConfigError("config %d: %s" % (config_id, e)) from None
            self._configs[config_id] = config
            self._configs.move_to_end(config_id)
            while len(self._configs) > CONFIG_CACHE_SIZE:
                self._configs.popitem(last=False)
            return config
        config = self._configs.get(config_id)
        if config is None:
            raise ConfigError("config %d is not cached by this worker" % config_id)
        self._configs.move_to_end(config_id)
        return config

    def handle_request(self, frame: proto.Frame) -> None:
        """Serves one REQUEST frame up to its END, then runs the request's
        cleanups."""
        r = proto.parse_request(frame.payload)
        meta = {}  # type: dict
        for k, v in r.meta:
            meta.setdefault(k, v)
        content_length = None
        for k, v in r.params:
            if k == "CONTENT_LENGTH":
                try:
                    content_length = max(int(v), 0)
                except ValueError:
                    content_length = None
                break
        ex = Exchange(self.channel, frame.id, content_length)
        self.exchange = ex
        for s in self.streams:
            s._partial = ""

        try:
            config = self._config(r.config_id, r.config_json)
        except ConfigError as e:
            ex.log(apache.APLOG_ERR, "mpgate worker: %s" % e)
            ex.end(apache.HTTP_INTERNAL_SERVER_ERROR, [("error", str(e))], [])
            return

        if apache.main_server is None and config.main_server is not None:
            apache.main_server = mp_server(config.main_server, self._log_sink)

        req = mp_request(ex, config, r.params, meta, self.interpreter, self._log_sink)
        end = None  # type: Optional[Tuple[int, List[Tuple[str, str]], List[Tuple[Any, Any]]]]
        authorizer = meta.get("authorizer")
        try:
            importer.begin_request(req)
            if authorizer is not None:
                end = self.run_authorizer(req, [p for p in authorizer.split(",") if p])
            else:
                req._phases_done = _phase_set(meta.get("phases_done"))
                result = self.run_phases(req)
                end = self.finish(req, result)
        except ExchangeError:
            pass
        except BaseException:  # noqa: B902  (a bug in mpgate: fail the request, keep serving)
            if ex.broken is None and not ex.ended:
                for line in traceback.format_exc().rstrip("\n").split("\n"):
                    ex.log(apache.APLOG_ERR, "mpgate worker: " + line)
                end = (apache.HTTP_INTERNAL_SERVER_ERROR, [("error", "internal error in the mpgate worker")], [])
        # The log phase, req.register_cleanup callables and PythonCleanupHandler
        # run before END, once the response body has gone out: what they log
        # belongs to the request and reaches Apache's error log, as in
        # mod_python (after END it could not). What they write is dropped:
        # the response is complete.
        if ex.broken is None:
            ex.sealed = True
            try:
                if authorizer is None:
                    self.run_log_phase(req, end)
                self._run_cleanups(req)
                if req._dispatched:
                    self.run_after_phase(req, "PythonCleanupHandler")
            except ExchangeError:
                pass
            for s in self.streams:
                s.end_request(ex)
        # The site modules this request loaded, reloaded or gave new
        # dependencies, for the daemon to watch (dispatch/modules.go).
        modules = importer.end_request()
        if end is not None:
            ex.end(end[0], end[1] + modules, end[2])

    def run_content_phase(self, req: mp_request) -> int:
        """Runs PythonHandler when req.handler is mod_python's, else
        declines."""
        if req.handler not in _PYTHON_HANDLERS:
            return apache.DECLINED
        return self.run_phase(req, "PythonHandler")

    def run_phases(self, req: mp_request) -> int:
        """Runs the request phases in Apache's order (mod_python.md §1.6)
        up to and including the content phase, and returns the result that
        decides the response: the content phase's, DONE when a phase ended
        the request, or the error status a phase returned. Phases an
        authorizer already ran (req._phases_done) are skipped; the
        authentication phases run only when Apache would run them (a Require
        needing a user)."""
        OK, DECLINED = apache.OK, apache.DECLINED
        done = req._phases_done
        # The type mod_mime gives the file is set in type_checker, after
        # the phases before it (which see None).
        mime_type = req._content_type
        req._content_type = None
        for phase in _BEFORE_AUTH:
            if phase in done:
                continue
            rc = self.run_phase(req, phase)
            if rc != OK and rc != DECLINED:
                # RUN_ALL and RUN_FIRST hooks alike: anything but OK or
                # DECLINED ends the request (DONE: nothing more is sent).
                return rc
        if req._site.auth_required:
            if "PythonAuthenHandler" not in done:
                rc = self.authen_result(req, self.run_phase(req, "PythonAuthenHandler"))
                if rc == DECLINED:
                    if req._user is None:
                        # No module authenticated: request.c decl_die.
                        req._log(apache.APLOG_CRIT, "AH00027: No authentication done but request not allowed "
                                 "without authentication for %s. Authentication not configured?" % (req._uri or ""))
                        return apache.HTTP_INTERNAL_SERVER_ERROR
                elif rc != OK:
                    return rc
            if "PythonAuthzHandler" not in done:
                rc = self.run_phase(req, "PythonAuthzHandler")
                if rc != OK and rc != DECLINED:
                    return rc
        # type_checker is RUN_FIRST, and mod_mime, loaded before mod_python,
        # answers first: PythonTypeHandler runs only for a file mod_mime
        # finds no type for (not for a directory, which it types itself).
        if mime_type is not None:
            req._content_type = mime_type
        elif ("PythonTypeHandler" in req._site.phases or "PythonTypeHandler" in req._dynamic) and \
                not (req._filename and os.path.isdir(req._filename)):
            rc = self.run_phase(req, "PythonTypeHandler")
            if rc != OK and rc != DECLINED:
                return rc
        rc = self.run_phase(req, "PythonFixupHandler")
        if rc != OK and rc != DECLINED:
            return rc
        return self.run_content_phase(req)

    def authen_result(self, req: mp_request, rc: int) -> int:
        """Applies what mod_python.c python_handler does after
        PythonAuthenHandler: OK without req.user is a 500; 401 adds the
        Basic challenge when AuthType is Basic (ap_note_basic_auth_failure,
        which mod_auth_basic implements)."""
        if rc == apache.OK and not req._user:
            req._log(apache.APLOG_ERR, "python_handler: After PythonAuthenHandler req->user is NULL. "
                     "Assign something to req.user if returning OK to avoid this error.")
            return apache.HTTP_INTERNAL_SERVER_ERROR
        if rc == apache.HTTP_UNAUTHORIZED:
            auth_type = req._site.auth_type
            if auth_type is None:
                req._log(apache.APLOG_ERR, "AH00571: need AuthType to note auth failure: %s" % (req._uri or ""))
            elif auth_type.lower() == "basic":
                req._note_auth_failure()
        return rc

    def run_authorizer(self, req: mp_request, phases: List[str]) -> Tuple[int, List[Tuple[str, str]], List[Tuple[Any, Any]]]:
        """Serves a FastCGI AUTHORIZER request: runs phases (PythonAccessHandler,
        PythonAuthenHandler, PythonAuthzHandler, in that order) and returns
        the END: OK with info "authorizer" (the phases run, comma separated)
        and "user" (req.user after PythonAuthenHandler) on success, else the
        error response's status and headers, as finish() makes them
        (fastcgi-apache.md §1.8, §3)."""
        ran = []  # type: List[str]
        for phase in phases:
            if phase not in _AUTHORIZER_PHASES:
                req._log(apache.APLOG_ERR, "mpgate worker: %s is not an authorizer phase" % phase)
                return self.finish(req, apache.HTTP_INTERNAL_SERVER_ERROR) or (apache.HTTP_INTERNAL_SERVER_ERROR, [], [])
            rc = self.run_phase(req, phase)
            if phase == "PythonAuthenHandler":
                rc = self.authen_result(req, rc)
                if rc == apache.DECLINED:
                    # Nothing else would authenticate behind the authorizer.
                    req._log(apache.APLOG_CRIT, "AH00025: configuration error:  couldn't check user: %s" % (req._uri or ""))
                    rc = apache.HTTP_INTERNAL_SERVER_ERROR
            if rc == apache.DONE and not req._exchange.headers_sent and not req._exchange.hold:
                # The request ends with nothing sent: Apache would send an
                # empty response; an authorizer cannot, and must not let the
                # request through.
                req._log(apache.APLOG_ERR, "mpgate: %s returned DONE without a response; an authorizer cannot end "
                         "the request there, so it is refused with 500" % phase)
                rc = apache.HTTP_INTERNAL_SERVER_ERROR
            if rc != apache.OK and rc != apache.DECLINED:
                end = self.finish(req, rc)
                return end if end is not None else (apache.HTTP_INTERNAL_SERVER_ERROR, [], [])
            ran.append(phase)
        ex = req._exchange
        if ex.headers_sent:
            req._log(apache.APLOG_ERR, "mpgate: an authorization handler wrote a response and returned OK; "
                     "the response is not an authorizer's answer")
            return (apache.DONE, [], [])
        del ex.hold[:]
        info = [("authorizer", ",".join(ran))]
        if "PythonAuthenHandler" in ran and req._user is not None:
            info.append(("user", req._user))
        return (apache.OK, info, [])

    def run_log_phase(self, req: mp_request,
                      end: Optional[Tuple[int, List[Tuple[str, str]], List[Tuple[Any, Any]]]]) -> None:
        """Runs PythonLogHandler once the response is decided (results
        ignored), with req.status as Apache logs it."""
        if end is not None and end[0] >= 100 and end[0] != req._status and not req._exchange.headers_sent:
            # An error response the daemon sends after END.
            req._status = end[0]
        self.run_after_phase(req, "PythonLogHandler")

    def run_after_phase(self, req: mp_request, phase: str) -> None:
        """Runs PythonLogHandler or PythonCleanupHandler: results are
        ignored, errors only logged (HandlerDispatch logs them)."""
        try:
            self.run_phase(req, phase)
        except ExchangeError:
            raise
        except BaseException:  # noqa: B902  (a handler's error is only logged)
            for line in traceback.format_exc().rstrip("\n").split("\n"):
                req._log(apache.APLOG_ERR, "python_cleanup: " + line)

    def run_phase(self, req: mp_request, phase: str) -> int:
        """Runs the handler list of phase (configured, then added with
        req.add_handler) through CallBack.HandlerDispatch; DECLINED when
        there is none (mod_python.c python_handler)."""
        dyn = req._dynamic.get(phase)
        if phase not in req._site.phases and not dyn:
            # The common case costs a dict lookup: no list for the phase.
            return apache.DECLINED
        entries, ext = req._site.handler_list(phase, req._filename)
        if dyn:
            entries.extend(dyn)
        if not entries:
            return apache.DECLINED
        req._hlist = mp_hlist([dict(e) for e in entries])
        if ext is not None:
            req._extension = ext
        req._phase = phase
        req._dispatched = True
        try:
            result = self.callback.HandlerDispatch(req)
        finally:
            req._phase = None
        if not isinstance(result, int):
            req._log(apache.APLOG_ERR, "python_handler: (%s) HandlerDispatch() returned non-integer." % phase)
            return apache.HTTP_INTERNAL_SERVER_ERROR
        return int(result)

    def finish(self, req: mp_request, result: int) -> Optional[Tuple[int, List[Tuple[str, str]], List[Tuple[Any, Any]]]]:
        """Sends what is left of the response and returns the END to send
        for result (result, info, headers), or None when the request is
        broken or already ended."""
        ex = req._exchange
        for s in self.streams:
            s.end_request(ex)
        if ex.broken is not None or ex.ended:
            return None
        if req._redirect_end is not None:
            # internal_redirect() ran a request whose response this is;
            # what this one still held back is dropped, as Apache does.
            if not ex.headers_sent:
                del ex.hold[:]
            return req._redirect_end
        if result in (apache.OK, apache.DONE):
            if not ex.headers_sent:
                # Nothing went out yet: the whole body is held, and httpd's
                # content-length filter, seeing it end in one brigade, would
                # send its length.
                req._set_final_length(len(ex.hold))
            # With cleanups or log and cleanup handlers to run before END,
            # what is left goes out first.
            after = bool(req._cleanups) or req._site.after_phases or "PythonLogHandler" in req._dynamic
            ex.push(req, after and (bool(ex.hold) or not ex.headers_sent))
            return (result, [], [])
        if result == apache.DECLINED:
            # httpd's default handler would send body bytes held back with
            # flush=0 before the file; the daemon serves only the file. The
            # headers the handler set stay with the request: all of them for
            # the file, err_headers_out for an error (info "err_headers" is
            # how many of them come first).
            del ex.hold[:]
            info = []  # type: List[Tuple[str, str]]
            if req._filename is not None:
                info.append(("filename", req._filename))
            errs = req._err_headers_out._pairs()
            info.append(("err_headers", str(len(errs))))
            return (apache.DECLINED, info, errs + req._headers_out._pairs())
        # An error status drops what was held back; what was already sent
        # stays, and httpd appends its error text to it. A status httpd has
        # no status line for, or a result that is no status at all, is a 500
        # (ap_invoke_handler, ap_index_of_response).
        del ex.hold[:]
        if result not in KNOWN_STATUSES:
            result = apache.HTTP_INTERNAL_SERVER_ERROR
        return (result, [], req._error_headers(result))

    def _run_cleanups(self, req: mp_request) -> None:
        """Runs req.register_cleanup callables, last registered first; errors
        are logged as python_cleanup does, in the request's log while it has
        not ended."""
        ex = req._exchange
        cleanups = req._cleanups
        while cleanups:
            handler, data = cleanups.pop()
            try:
                handler(data)
            except BaseException as e:  # noqa: B902
                _log_cleanup_error(ex.log if not ex.ended else self.log, handler, e)


class _Fatal(Exception):
    """The daemon broke the protocol or went away during a request."""


def _log_cleanup_error(log: Any, handler: Any, e: BaseException) -> None:
    """Logs a failed cleanup as mod_python.c python_cleanup does."""
    # mod_python.c python_cleanup
    log(apache.APLOG_ERR, "python_cleanup: Error calling cleanup object %s" % (handler,))
    log(apache.APLOG_ERR, "    %s: %s" % (type(e), e))


def _stderr(message: str) -> None:
    """Writes a line to the real stderr (the daemon's log pipe)."""
    stream = sys.__stderr__
    if stream is not None:
        stream.write(message + "\n")
        stream.flush()


_worker = None  # type: Optional[Worker]


def call(method: str, **args: str) -> Dict[str, str]:
    """Asks the daemon, in the middle of the running request, to perform
    method with args (str values) and returns its results. The runtime's own
    modules use it for what only the daemon has (session locks, the module
    graph, pages). Raises request.CallError when there is no running request
    or the daemon answers with an error."""
    ex = _worker.exchange if _worker is not None else None
    if ex is None:
        raise CallError("%s: no request is running" % method)
    return dict(ex.call(method, list(args.items())))


def main() -> int:
    """Runs the worker on fd 3; returns the exit code."""
    global _worker
    interpreter = os.environ.get("MPGATE_INTERPRETER", "main_interpreter")
    worker_id = os.environ.get("MPGATE_WORKER_ID", "")
    # Not for the site's code (os.environ) nor its children.
    expect_init = os.environ.pop("MPGATE_WORKER_INIT", "") == "1"
    try:
        sock = socket.socket(fileno=PROTOCOL_FD)
    except OSError as e:
        _stderr("mpgate worker %s: protocol socket on fd %d: %s" % (worker_id, PROTOCOL_FD, e))
        return EXIT_BOOT_ERROR
    sock.setblocking(True)
    # Processes a handler starts must not hold the protocol socket: the
    # daemon learns of this worker's death by the socket closing.
    sock.set_inheritable(False)
    # Before any site code runs: `import` in site modules and pickling of
    # their classes go through mpgate's importer.
    importer.install_import_hooks()
    sitepickle.install()
    worker = Worker(Channel(sock), interpreter, worker_id, expect_init)
    _worker = worker
    out = _LogStream(worker, apache.APLOG_WARNING, sys.__stdout__, "<stdout>")
    err = _LogStream(worker, apache.APLOG_ERR, sys.__stderr__, "<stderr>")
    worker.streams = [out, err]
    sys.stdout = out
    sys.stderr = err
    return worker.serve()
