"""The request object handlers see (mp_request), with its connection, server,
handler-list and per-request I/O, emulating mod_python 3.5's C objects
(grisha/mod_python: src/requestobject.c, connobject.c, serverobject.c,
hlistobject.c) on top of the worker wire (mpgate.proto).

mpgate.worker builds one Exchange and one mp_request per REQUEST frame, runs
the phases, then sends END.

REQUEST meta keys read here (all optional; absent = None): uri, filename,
canonical_filename, path_info, unparsed_uri, args, hostname, the_request,
method, protocol, request_time, document_root, server_port, local_ip,
local_port, remote_ip, remote_port, https ("1"), user, ap_auth_type, and
content_type: the type httpd's mod_mime gave the URL before the handler ran
(r->content_type, e.g. text/x-python for .py), which mod_python sends when
the handler sets none. Params: HTTP_* and CONTENT_TYPE/CONTENT_LENGTH make
req.headers_in; the CGI variables are held back from req.subprocess_env
until add_common_vars/add_cgi_vars, as in mod_python; the request body is
read only when CONTENT_LENGTH is present.

An Exchange turns the request's output into frames: HEADERS is sent lazily (at the first flush point, as
httpd's header filter would), body bytes written with flush=0 are held back
like httpd's output buffer (8 KB), and the body is pulled with READ frames.
"""

import base64
import json
import os
import socket
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import _apache
from mod_python import apache

from . import proto

# READ_CHUNK is the most a READ frame asks for; WRITE_CHUNK the most one
# WRITE frame carries.
READ_CHUNK = 65536
WRITE_CHUNK = 65536

# HOLD_BYTES is how much body written with flush=0 is held back before it is
# sent (httpd's ap_rwrite buffers AP_IOBUFSIZE bytes): until then a handler
# may still change the status and headers.
HOLD_BYTES = 8192

APLOG_ERR = apache.APLOG_ERR
APLOG_WARNING = apache.APLOG_WARNING

# Request phases a handler may add handlers to (requestobject.c valid_phase).
_VALID_PHASES = frozenset((
    "PythonHandler", "PythonAuthenHandler", "PythonPostReadRequestHandler",
    "PythonTransHandler", "PythonHeaderParserHandler", "PythonAccessHandler",
    "PythonAuthzHandler", "PythonTypeHandler", "PythonFixupHandler",
    "PythonLogHandler", "PythonInitHandler"))

# The phases an AUTHORIZER request runs for Apache's authentication.
_AUTH_PHASES = frozenset(("PythonAuthenHandler", "PythonAuthzHandler"))

# httpd's method numbers (M_*), by name; HEAD counts as GET.
_METHOD_NUMBERS = {
    "GET": 0, "HEAD": 0, "PUT": 1, "POST": 2, "DELETE": 3, "CONNECT": 4, "OPTIONS": 5,
    "TRACE": 6, "PATCH": 7, "PROPFIND": 8, "PROPPATCH": 9, "MKCOL": 10, "COPY": 11,
    "MOVE": 12, "LOCK": 13, "UNLOCK": 14, "VERSION-CONTROL": 15, "CHECKOUT": 16,
    "UNCHECKOUT": 17, "CHECKIN": 18, "UPDATE": 19, "LABEL": 20, "REPORT": 21,
    "MKWORKSPACE": 22, "MKACTIVITY": 23, "BASELINE-CONTROL": 24, "MERGE": 25,
}
_METHOD_NAMES = {}  # type: Dict[int, List[str]]
for _name, _num in _METHOD_NUMBERS.items():
    _METHOD_NAMES.setdefault(_num, []).append(_name)
del _name, _num
_METHOD_NAMES[0] = ["GET", "HEAD"]

# Variables httpd's ap_add_common_vars and mod_python's add_cgi_vars put into
# subprocess_env. FastCGI passes them all as params; mod_python shows them in
# req.subprocess_env only once a handler calls add_common_vars/add_cgi_vars.
_COMMON_VARS = frozenset((
    "PATH", "SERVER_SIGNATURE", "SERVER_SOFTWARE", "SERVER_NAME", "SERVER_ADDR",
    "SERVER_PORT", "REMOTE_HOST", "REMOTE_ADDR", "DOCUMENT_ROOT", "REQUEST_SCHEME",
    "CONTEXT_PREFIX", "CONTEXT_DOCUMENT_ROOT", "SERVER_ADMIN", "SCRIPT_FILENAME",
    "REMOTE_PORT", "REMOTE_USER", "AUTH_TYPE", "REMOTE_IDENT", "REDIRECT_QUERY_STRING",
    "REDIRECT_URL", "CONTENT_TYPE", "CONTENT_LENGTH"))
_CGI_VARS = frozenset((
    "GATEWAY_INTERFACE", "SERVER_PROTOCOL", "REQUEST_METHOD", "QUERY_STRING",
    "REQUEST_URI", "SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED"))
_FCGI_VARS = frozenset(("FCGI_ROLE", "FCGI_APACHE_ROLE"))

# Environment variables the rewritten Apache configuration sets for mpgate
# itself (SetEnv in the rewritten sections): the daemon reads them, the
# site never set them, so handlers do not see them in subprocess_env.
_MPGATE_ENV = frozenset(("ap_trust_cgilike_cl",))


def _is_mpgate_param(name: str) -> bool:
    """Reports whether a FastCGI param is mpgate's own (MPGATE_VHOST, ...)."""
    return name.startswith("MPGATE_") or name in _MPGATE_ENV


# The statuses httpd 2.4 has a status line for (http_protocol.c
# status_lines, as Debian's httpd answers them): httpd sends any other
# status as "500 Internal Server Error", with the 500 error document.
KNOWN_STATUSES = frozenset(
    list(range(100, 104)) + list(range(200, 209)) + [226] + [300, 301, 302, 303, 304, 305, 307, 308]
    + list(range(400, 418)) + [421, 422, 423, 424, 426, 428, 429, 431, 451]
    + list(range(500, 509)) + [510, 511])


def _type_name(value: Any) -> str:
    """The type name CPython's argument parser shows for value."""
    return "None" if value is None else type(value).__name__


def _arg_str(pos: int, value: Any, none_ok: bool = False) -> Optional[str]:
    """Checks an argument as PyArg_ParseTuple's "s" (or "z" with none_ok)
    does, with the same messages (mod_python names no function)."""
    if value is None and none_ok:
        return None
    if not isinstance(value, str):
        raise TypeError("argument %d must be str%s, not %s" % (pos, " or None" if none_ok else "", _type_name(value)))
    if "\0" in value:
        raise ValueError("embedded null character")
    return value


def _arg_int(value: Any) -> int:
    """Checks an argument as PyArg_ParseTuple's "i" and "l" do."""
    if isinstance(value, int):
        return int(value)
    if hasattr(type(value), "__index__"):
        return int(value.__index__())
    raise TypeError("'%s' object cannot be interpreted as an integer" % type(value).__name__)


def _arg_float(value: Any) -> float:
    """Checks an argument as PyArg_ParseTuple's "d" does."""
    if isinstance(value, float):
        return value
    if hasattr(type(value), "__float__") or hasattr(type(value), "__index__"):
        return float(value)
    raise TypeError("must be real number, not %s" % type(value).__name__)


def _arg_write(value: Any) -> bytes:
    """Converts req.write's argument as PyArg_ParseTuple's "s#" does: str is
    UTF-8 encoded, bytes are taken as they are, a bytes-like object that
    can be released (memoryview, bytearray, array) is refused, anything
    else is not bytes-like."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return bytes(value)
    try:
        memoryview(value).release()
    except TypeError:
        raise TypeError("a bytes-like object is required, not '%s'" % type(value).__name__) from None
    raise TypeError("argument 1 must be read-only bytes-like object, not %s" % type(value).__name__)


class ExchangeError(IOError):
    """The daemon went away or broke the protocol during a request; the
    worker must exit after the request unwinds."""


class Exchange:
    """The frames of one request: output buffering, lazy HEADERS, body
    reads, logging and END.

    channel provides queue(type, id, payload), flush() and read_frame(); it
    is shared by every request of the worker and guards its own buffer.
    """

    def __init__(self, channel: Any, req_id: int, content_length: Optional[int]) -> None:
        self.channel = channel
        self.id = req_id
        self.headers_sent = False
        self.ended = False
        # Set once the response is complete (the log and cleanup phases):
        # what handlers write then is dropped.
        self.sealed = False
        self.broken = None  # type: Optional[BaseException]
        self.hold = bytearray()
        self.body_remaining = content_length if content_length is not None else 0
        self.body_known = content_length is not None
        self.body_eof = False
        self.body_read = 0

    # -- output ---------------------------------------------------------------

    def log(self, level: int, message: str) -> None:
        """Sends message as LOG frames, one per line; after END they are
        worker-level (request id 0)."""
        rid = 0 if self.ended else self.id
        _log_lines(self.channel, rid, level, message)

    def _check(self) -> None:
        """Raises ExchangeError once the request is broken or ended."""
        if self.broken is not None:
            raise ExchangeError("Write failed, client closed connection.")
        if self.ended:
            raise ExchangeError("Write failed, request already ended.")

    def _send(self, fn: Callable[[], None]) -> None:
        """Runs a socket operation; a failure breaks the exchange."""
        try:
            fn()
        except (OSError, proto.ProtoError) as e:
            self.broken = e
            raise ExchangeError("Write failed, client closed connection.") from None

    def send_head(self, req: "mp_request") -> None:
        """Queues HEADERS if not yet sent."""
        if self.headers_sent:
            return
        self.headers_sent = True
        status, reason, headers = req._response_head()
        payload = proto.append_headers(bytearray(), proto.HeadersFrame(status, reason, headers))
        self._send(lambda: self.channel.queue(proto.FRAME_HEADERS, self.id, payload))
        req._sent_bodyct = 1

    def write(self, req: "mp_request", data: bytes, flush: bool) -> None:
        """Adds body bytes; sends them (and HEADERS) now if flush or if more
        than HOLD_BYTES are held."""
        self._check()
        if self.sealed:
            return
        self.hold += data
        if flush:
            self.push(req, True)
        elif len(self.hold) >= HOLD_BYTES:
            self.push(req, False)

    def push(self, req: "mp_request", flush: bool) -> None:
        """Sends HEADERS and the held body; with flush a FLUSH frame and the
        socket write follow."""
        self._check()
        if self.sealed:
            return
        self.send_head(req)
        if self.hold:
            data = bytes(self.hold)
            del self.hold[:]
            self._queue_body(req, data)
        if flush:
            def do() -> None:
                self.channel.queue(proto.FRAME_FLUSH, self.id, b"")
                self.channel.flush()
            self._send(do)

    def _queue_body(self, req: "mp_request", data: bytes) -> None:
        """Queues data as WRITE frames of at most WRITE_CHUNK bytes."""
        view = memoryview(data)
        for i in range(0, len(data), WRITE_CHUNK):
            chunk = bytes(view[i:i + WRITE_CHUNK])
            self._send(lambda: self.channel.queue(proto.FRAME_WRITE, self.id, chunk))
        req._bytes_sent += len(data)

    def sendfile(self, req: "mp_request", f: Any, length: int) -> int:
        """Streams up to length bytes of file f as WRITE frames."""
        if self.sealed:
            return 0
        self.push(req, False)
        sent = 0
        while sent < length:
            chunk = f.read(min(WRITE_CHUNK, length - sent))
            if not chunk:
                break
            self._send(lambda: self.channel.queue(proto.FRAME_WRITE, self.id, chunk))
            sent += len(chunk)
        req._bytes_sent += sent
        return sent

    def end(self, result: int, info: List[Tuple[str, str]], headers: List[Tuple[Any, Any]]) -> None:
        """Queues END and writes everything out; the request id is closed."""
        if self.ended:
            return
        payload = proto.append_end(bytearray(), proto.EndFrame(result, info, headers))

        def do() -> None:
            self.channel.queue(proto.FRAME_END, self.id, payload)
            self.channel.flush()
        self.ended = True
        try:
            do()
        except (OSError, proto.ProtoError) as e:
            self.broken = e

    # -- input ----------------------------------------------------------------

    def read_body(self, want: int, count: bool = True) -> bytes:
        """Asks the daemon for up to want (> 0) body bytes; returns b"" at the
        end of the body. A body shorter than its Content-Length raises
        IOError as httpd's read timeout does in mod_python. Bytes read with
        count false are not added to body_read (req.read_length)."""
        if self.broken is not None:
            raise ExchangeError("Client read error (Timeout?)")
        if self.body_eof or (self.body_known and self.body_remaining <= 0):
            return b""
        want = min(want, READ_CHUNK)
        if self.body_known:
            want = min(want, self.body_remaining)
        payload = proto.append_read(bytearray(), want)
        try:
            self.channel.queue(proto.FRAME_READ, self.id, bytes(payload))
            self.channel.flush()
            while True:
                frame = self.channel.read_frame()
                if frame.type == proto.FRAME_BODY and frame.id == self.id:
                    break
                raise proto.ProtoError("unexpected %s frame for request %d while reading the body of request %d"
                                       % (proto.frame_type_name(frame.type), frame.id, self.id), frame.type)
            if len(frame.payload) > want:
                raise proto.ProtoError("BODY of %d bytes for a READ of %d" % (len(frame.payload), want), proto.FRAME_BODY)
        except (OSError, EOFError, proto.ProtoError) as e:
            self.broken = e
            raise ExchangeError("Client read error (Timeout?)") from None
        data = frame.payload
        if not data:
            self.body_eof = True
            if self.body_known and self.body_remaining > 0:
                raise IOError("Client read error (Timeout?)")
            return b""
        if count:
            self.body_read += len(data)
        if self.body_known:
            self.body_remaining -= len(data)
        return data


    # -- calls to the daemon -----------------------------------------------

    def call(self, method: str, args: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
        """Sends CALL(method, args) to the daemon and returns the REPLY's
        results. A REPLY with a non-zero status raises CallError with the
        daemon's message. Only valid while the request runs."""
        if self.ended:
            raise CallError("%s: the request has ended" % method)
        if self.broken is not None:
            raise CallError("%s: the connection to the daemon is broken" % method)
        payload = proto.append_call(bytearray(), proto.CallFrame(method, list(args)))
        try:
            self.channel.queue(proto.FRAME_CALL, self.id, bytes(payload))
            self.channel.flush()
            frame = self.channel.read_frame()
            if frame.type != proto.FRAME_REPLY or frame.id != self.id:
                raise proto.ProtoError("unexpected %s frame for request %d while waiting for the REPLY of %s"
                                       % (proto.frame_type_name(frame.type), frame.id, method), frame.type)
            reply = proto.parse_reply(frame.payload)
        except (OSError, EOFError, proto.ProtoError) as e:
            self.broken = e
            raise CallError("%s: %s" % (method, e)) from None
        if reply.status != 0:
            message = dict(reply.results).get("error", "error %d" % reply.status)
            raise CallError("%s: %s" % (method, message))
        return reply.results


class CallError(RuntimeError):
    """A CALL to the daemon failed; the message says why."""


def _log_lines(channel: Any, rid: int, level: int, message: str) -> None:
    """Queues one LOG frame per line of message; writes the buffer out when
    it has grown large."""
    level &= 7
    lines = message.split("\n") if "\n" in message else [message]
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    for line in lines:
        if line.endswith("\r"):
            line = line[:-1]
        channel.queue(proto.FRAME_LOG, rid, bytes(proto.append_log(bytearray(), level, line)))
    channel.maybe_flush()


# ---------------------------------------------------------------------------
# Configuration, as sent by the daemon once per config id.


class ServerState:
    """The worker-lifetime state of one virtual server: its directive and
    option tables (live: writes persist, as in mod_python)."""

    def __init__(self, conf: Dict[str, Any]) -> None:
        self.conf = conf
        self.config = _apache.table(conf.get("directives") or [])
        self.options = _apache.table(_pairs_table(conf.get("options") or []))


def _pairs_table(pairs: List[Any]) -> List[Tuple[str, str]]:
    """Returns config pairs as (str, str) tuples."""
    return [(str(k), str(v)) for k, v in pairs]


_servers = {}  # type: Dict[Tuple[Any, ...], ServerState]


# The servers of the configuration by index (worker.init's "server"
# descriptions: the main server is 0), for server.next.
_server_list = {}  # type: Dict[int, Dict[str, Any]]


def set_servers(descs: List[Dict[str, Any]]) -> None:
    """Records the configuration's server descriptions (worker.init), which
    server.next follows by their "index" and "next"."""
    _server_list.clear()
    for d in descs:
        _server_list[d["index"]] = d


def server_state(conf: Optional[Dict[str, Any]]) -> Optional[ServerState]:
    """Returns the ServerState for a server description, creating it the
    first time that server is seen by this worker."""
    if not conf:
        return None
    key = (conf.get("defn_name"), conf.get("defn_line_number"), conf.get("server_hostname"),
           conf.get("is_virtual"), conf.get("port"))
    st = _servers.get(key)
    if st is None:
        st = ServerState(conf)
        _servers[key] = st
    return st


class SiteConfig:
    """One parsed configuration (the merged per-directory config of
    mod_python.md §1.4 plus the server facts), from the JSON of a REQUEST::

        {"handlers": {"PythonHandler": [{"handler": "hello", "directory": "/srv/www/",
                                         "is_location": false, "silent": false}],
                      "PythonHandler.py": [...], "PythonFixupHandler": [...]},
         "directives": [["PythonDebug", "1"], ...],   # req.get_config(), in order
         "options": [["key", "value"], ...],          # merged PythonOption, empty values kept
         "session_options": [["timeout", "600"], ...], # optional: merged PythonSessionOptions, empty values kept
         "handler": "mod_python" | null,              # req.handler
         "addhandler_exts": ".py .psp",
         "auth_type": null | "Basic", "auth_name": null | "realm",
         "cgi_pass_auth": false,                      # CGIPassAuth On in the site's configuration
         "auth_required": false,                      # a Require line needs a user: the auth phases run
         "log_level": 4,                              # optional: the LogLevel in effect (filters log_error)
         "is_location": false, "config_dir": "/srv/www/" | null,
         "pythonpath": ..., "debug": ..., "autoreload": ...,   # ignored: read from "directives"
         "server": {"server_hostname": ..., "server_admin": ..., "defn_name": ...,
                    "defn_line_number": 3, "is_virtual": 1, "names": [], "wild_names": [],
                    "port": 0, "timeout": 300.0, "keep_alive_timeout": 5.0, "keep_alive_max": 100,
                    "keep_alive": 1, "error_fname": ..., "loglevel": 4, "limit_req_line": 8190,
                    "limit_req_fieldsize": 8190, "limit_req_fields": 100, "path": "",
                    "directives": [[k, v], ...], "options": [[k, v], ...],
                    "index": 1,                    # optional: place in worker.init's servers (main: 0)
                    "next": 0 | null},             # optional: index of server_rec.next
         "main_server": {same shape},
         "base_server": {same shape}}                 # optional: conn.base_server (default: main_server)

    A server description may carry "log_level" (the server's LogLevel, when
    the daemon knows it) besides "loglevel" (what server.loglevel shows).

    As in mod_python, PythonPath, PythonDebug and PythonAutoReload are read
    from "directives" (req.get_config()).
    """

    def __init__(self, raw: Dict[str, Any]) -> None:
        if not isinstance(raw, dict):
            raise ValueError("config is not a JSON object")
        self.handlers = raw.get("handlers") or {}  # type: Dict[str, List[Dict[str, Any]]]
        self.directives = [(str(k), str(v)) for k, v in raw.get("directives") or []]
        self.options = _pairs_table(raw.get("options") or [])
        # PythonSessionOptions, keys without the mod_python.session. prefix
        # (req.get_session_options()).
        self.session_options = _pairs_table(raw.get("session_options") or [])
        self.handler = raw.get("handler")  # type: Optional[str]
        self.addhandler_exts = raw.get("addhandler_exts") or ""
        self.auth_type = raw.get("auth_type")  # type: Optional[str]
        self.auth_name = raw.get("auth_name")  # type: Optional[str]
        self.config_dir = raw.get("config_dir")  # type: Optional[str]
        # Whether Apache runs the authentication phases for the request: a
        # Require line in effect needs a user (config.Merged.AuthRequired).
        self.auth_required = bool(raw.get("auth_required"))
        # The phases with a handler list, plain or qualified with an
        # extension: a phase outside it is skipped with no further work.
        self.phases = frozenset(k.split(".", 1)[0] for k in self.handlers)
        # Whether PythonLogHandler or PythonCleanupHandler will run after the
        # response: the response then goes out before them.
        self.after_phases = "PythonLogHandler" in self.phases or "PythonCleanupHandler" in self.phases
        # CGIPassAuth On in the site's own configuration: only then does
        # add_common_vars copy Authorization (the rewritten sections always
        # pass it to mpgate, so its presence among the params tells nothing).
        self.cgi_pass_auth = bool(raw.get("cgi_pass_auth"))
        # The LogLevel in effect for the request when the daemon knows it
        # (None: every log_error line is written).
        self.log_level = None if raw.get("log_level") is None else int(raw["log_level"])  # type: Optional[int]
        self.is_location = bool(raw.get("is_location"))
        self.server = server_state(raw.get("server"))
        self.main_server = server_state(raw.get("main_server")) or self.server
        # The server the connection arrived at (conn.base_server): the
        # default virtual host of the address, or the main server.
        self.base_server = server_state(raw.get("base_server"))

    def handler_list(self, phase: str, filename: Optional[str]) -> Tuple[List[Dict[str, Any]], Optional[str]]:
        """Returns the configured handlers for phase and the extension that
        selected them (mod_python.c python_handler): the list under
        phase + extension of filename if any, else the plain list."""
        ext = None  # type: Optional[str]
        if filename:
            base = filename.rsplit("/", 1)[-1]
            _, dot, rest = base.partition(".")
            ext = "." + rest if rest else ""
        entries = None
        if ext:
            entries = self.handlers.get(phase + ext)
        if entries is None:
            entries = self.handlers.get(phase)
            if ext:
                ext = None
        return list(entries or []), ext


# ---------------------------------------------------------------------------
# Objects.


class mp_hlist(object):
    """The handler list being dispatched (hlistobject.c): attributes of the
    current entry; every attribute is None past the end."""

    __slots__ = ("_entries", "_pos")

    def __init__(self, entries: List[Dict[str, Any]]) -> None:
        self._entries = entries
        self._pos = 0

    def _cur(self) -> Optional[Dict[str, Any]]:
        if self._pos < len(self._entries):
            return self._entries[self._pos]
        return None

    def next(self) -> None:
        """Advances to the next handler."""
        self._pos += 1

    @property
    def handler(self) -> Optional[str]:
        e = self._cur()
        return None if e is None else e.get("handler")

    @property
    def directory(self) -> Optional[str]:
        e = self._cur()
        return None if e is None else e.get("directory")

    @property
    def is_location(self) -> Optional[int]:
        e = self._cur()
        return None if e is None else int(bool(e.get("is_location")))

    @property
    def silent(self) -> Optional[int]:
        e = self._cur()
        return None if e is None else int(bool(e.get("silent")))

    def _append(self, entry: Dict[str, Any]) -> None:
        self._entries.append(entry)

    def __repr__(self) -> str:
        e = self._cur() or {}
        s = "{"
        if e.get("handler") is not None:
            s += "'handler':%r" % e["handler"]
        if e.get("directory") is not None:
            s += ",'directory':%r" % e["directory"]
        s += ",'is_location':%s" % ("True" if e.get("is_location") else "False")
        s += ",'silent':%s}" % ("1" if e.get("silent") else "0")
        return s


mp_hlist.__module__ = "builtins"


class mp_server(object):
    """A virtual server (serverobject.c). A new object per request, with a
    __dict__; its get_config()/get_options() tables live as long as the
    worker."""

    def __init__(self, state: ServerState, log: Callable[[int, str, Any], None]) -> None:
        self._state = state
        self._log = log

    def get_config(self) -> _apache.table:
        """Returns the server-scope directive table."""
        return self._state.config

    def get_options(self) -> _apache.table:
        """Returns the server-scope PythonOption table (empty values kept)."""
        return self._state.options

    def log_error(self, message: Optional[str], level: int = 0) -> None:
        """Writes message to this server's error log."""
        message = _arg_str(1, message, none_ok=True)
        level = _arg_int(level)
        if message is None:
            return
        level = level or APLOG_ERR
        if _apache._logged(level, self._log_threshold()):
            self._log(level, message, self)

    def _log_threshold(self) -> Optional[int]:
        """The LogLevel of this server when the daemon knows it ("log_level"),
        else None (everything is written)."""
        v = self._state.conf.get("log_level")
        return None if v is None else int(v)

    def register_cleanup(self, req: Any, handler: Callable[[Any], Any], data: Any = None) -> None:
        """Registers handler(data) to run when the worker shuts down."""
        if not isinstance(req, mp_request):
            raise ValueError("first argument must be a request object")
        if not callable(handler):
            raise ValueError("second argument must be a callable object")
        with _apache._cleanups_lock:
            _apache._cleanups.append((handler, data))

    def _get(self, name: str, default: Any = None) -> Any:
        return self._state.conf.get(name, default)

    @property
    def next(self) -> "Optional[mp_server]":
        """The next server of Apache's list (server_rec.next): the main
        server is followed by the last <VirtualHost>, each <VirtualHost> by
        the one before it; None after the first."""
        desc = _server_list.get(self._get("next"))  # type: ignore[arg-type]
        if desc is None:
            return None
        return mp_server(server_state(desc), self._log)  # type: ignore[arg-type]

    defn_name = property(lambda self: self._get("defn_name"))
    defn_line_number = property(lambda self: int(self._get("defn_line_number", 0) or 0))
    server_admin = property(lambda self: self._get("server_admin"))
    server_hostname = property(lambda self: self._get("server_hostname"))
    port = property(lambda self: int(self._get("port", 0) or 0))
    # server_rec->error_fname is NULL for a virtual host without ErrorLog.
    error_fname = property(lambda self: self._get("error_fname") or None)
    loglevel = property(lambda self: int(self._get("loglevel", 0) or 0))
    is_virtual = property(lambda self: int(self._get("is_virtual", 0) or 0))
    timeout = property(lambda self: float(self._get("timeout", 0.0) or 0.0))
    keep_alive_timeout = property(lambda self: float(self._get("keep_alive_timeout", 0.0) or 0.0))
    keep_alive_max = property(lambda self: int(self._get("keep_alive_max", 0) or 0))
    keep_alive = property(lambda self: int(self._get("keep_alive", 0) or 0))
    path = property(lambda self: self._get("path"))
    pathlen = property(lambda self: len(self._get("path") or ""))
    names = property(lambda self: tuple(self._get("names") or ()))
    wild_names = property(lambda self: tuple(self._get("wild_names") or ()))
    limit_req_line = property(lambda self: int(self._get("limit_req_line", 0) or 0))
    limit_req_fieldsize = property(lambda self: int(self._get("limit_req_fieldsize", 0) or 0))
    limit_req_fields = property(lambda self: int(self._get("limit_req_fields", 0) or 0))
    my_generation = property(lambda self: 0)
    restart_time = property(lambda self: _WORKER_START)


mp_server.__module__ = "builtins"
_apache._server_types = (mp_server,)
_WORKER_START = time.time()


class mp_conn(object):
    """The client connection (connobject.c), as far as FastCGI tells it."""

    __slots__ = ("_req", "_notes")

    def __init__(self, req: "mp_request") -> None:
        self._req = req
        self._notes = _apache.table()

    def log_error(self, message: Optional[str], level: int = 0) -> None:
        """Writes message to the error log for this connection."""
        message = _arg_str(1, message, none_ok=True)
        level = _arg_int(level)
        if message is None:
            return
        level = level or APLOG_ERR
        # ap_log_cerror: the LogLevel of the server the connection came to.
        srv = self._req._base_server_obj()
        if _apache._logged(level, srv._log_threshold() if srv is not None else None):
            self._req._log(level, message)

    def read(self, *args: Any) -> Any:
        """Only for connection handlers, which mpgate does not run."""
        raise NotImplementedError("conn.read() is only available to PythonConnectionHandler, which mpgate does not support")

    readline = read
    write = read

    base_server = property(lambda self: self._req._base_server_obj())
    local_addr = property(lambda self: (self._req._local_ip, self._req._local_port))
    local_ip = property(lambda self: self._req._local_ip)
    local_host = property(lambda self: None)
    client_addr = property(lambda self: (self._req._remote_ip, self._req._remote_port))
    client_ip = property(lambda self: self._req._remote_ip)

    @property
    def remote_addr(self) -> Tuple[Optional[str], int]:
        self._req._log(APLOG_WARNING, "mod_python: conn.remote_addr deprecated in 2.4, "
                       "use req.useragent_addr or conn.client_addr")
        return self.client_addr

    @property
    def remote_ip(self) -> Optional[str]:
        self._req._log(APLOG_WARNING, "mod_python: conn.remote_ip deprecated in 2.4, "
                       "use req.useragent_ip or conn.client_ip")
        return self.client_ip

    remote_host = property(lambda self: self._req._remote_host)
    remote_logname = property(lambda self: self._req._param("REMOTE_IDENT"))
    aborted = property(lambda self: 0)
    keepalive = property(lambda self: _apache.AP_CONN_UNKNOWN)
    double_reverse = property(lambda self: self._req._double_reverse)
    keepalives = property(lambda self: 0)
    id = property(lambda self: 0)
    notes = property(lambda self: self._notes)
    hlist = property(lambda self: None)


mp_conn.__module__ = "builtins"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _http_date(t: float) -> str:
    """Formats t as an HTTP date (apr_rfc822_date)."""
    g = time.gmtime(t)
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        _WEEKDAYS[g.tm_wday], g.tm_mday, _MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec)


def _header_name(var: str) -> str:
    """HTTP_ACCEPT_LANGUAGE -> Accept-Language."""
    return "-".join(w.capitalize() for w in var[5:].split("_"))


def _http2env(name: str) -> str:
    """Content-Type -> HTTP_CONTENT_TYPE (httpd's http2env)."""
    return "HTTP_" + "".join(c.upper() if c.isalnum() and c.isascii() else "_" for c in name)


def _find_path_info(uri: str, path_info: str) -> int:
    """httpd's ap_find_path_info: where path_info starts in uri."""
    lu = len(uri)
    lp = len(path_info)
    while True:
        lu -= 1
        if lu < 0:
            break
        lp -= 1
        if lp < 0 or uri[lu] != path_info[lp]:
            break
        if path_info[lp] == "/":
            while lu and uri[lu - 1] == "/":
                lu -= 1
    if lu == -1:
        lu = 0
    while lu < len(uri) and uri[lu] != "/":
        lu += 1
    return lu


def _check_str(name: str, value: Any, none_ok: bool = False) -> Any:
    """Validates a value for a string request_rec field; returns what reads
    back (UTF-8 decoded), or None."""
    if value is None:
        if none_ok:
            return None
        raise TypeError("not an ISO-8859-1 string")
    return _apache._to_c(value)


def _check_int(name: str, value: Any) -> int:
    """Validates a value for an int request_rec field as PyMember_SetOne's
    T_INT does (PyLong_AsLong)."""
    return _arg_int(value)


def _str_field(name: str, none_ok: bool = False, doc: str = "") -> property:
    """Returns a read-write property for a string request_rec field."""
    attr = "_" + name

    def get(self: "mp_request") -> Any:
        v = getattr(self, attr)
        if type(v) is str and not v.isascii():
            # A value from the wire that is not UTF-8 (a URI with %FF): as
            # mod_python, reading it raises UnicodeDecodeError.
            v = _apache._from_wire(v)
        return _apache._from_c(v)

    def set(self: "mp_request", value: Any) -> None:
        setattr(self, attr, _check_str(name, value, none_ok))
    return property(get, set, doc=doc)


def _int_field(name: str, doc: str = "") -> property:
    """Returns a read-write property for an int request_rec field."""
    attr = "_" + name

    def get(self: "mp_request") -> int:
        return getattr(self, attr)

    def set(self: "mp_request", value: Any) -> None:
        setattr(self, attr, _check_int(name, value))
    return property(get, set, doc=doc)


def _ro(name: str, doc: str = "") -> property:
    """Returns a read-only property for a request_rec field."""
    attr = "_" + name
    return property(lambda self: getattr(self, attr), doc=doc)


# requestobject.c request_getsets without a setter, and request_members
# (READONLY): CPython's messages for assigning them differ.
_REQUEST_READONLY = frozenset((
    "interpreter", "connection", "server", "next", "prev", "main", "the_request", "header_only",
    "protocol", "proto_num", "hostname", "request_time", "method", "method_number", "allowed",
    "allowed_xmethods", "allowed_methods", "sent_bodyct", "bytes_sent", "mtime", "range", "clength",
    "remaining", "read_length", "read_body", "read_chunked", "expecting_100", "content_encoding",
    "content_languages", "vlist_validator", "unparsed_uri", "parsed_uri", "headers_in", "headers_out",
    "err_headers_out", "subprocess_env", "notes", "eos_sent", "_bytes_queued", "_request_rec",
    "useragent_addr", "useragent_ip"))
_REQUEST_READONLY_MEMBERS = frozenset(("_content_type_set", "phase", "extension", "hlist"))


class mp_request(object):
    """The request object (requestobject.c) for one request of the worker.

    Attributes mod_python makes read-only are properties without setters;
    anything else may be added to the object and lives for the request.
    Assigning a read-only one fails with mod_python's own messages.
    """

    def __init__(self, exchange: Exchange, config: SiteConfig, params: List[Tuple[str, str]],
                 meta: Dict[str, str], interpreter: str,
                 log: Callable[[int, str, Any], None]) -> None:
        self._exchange = exchange
        self._site = config
        self._params = params
        self._param_map = {}  # type: Dict[str, str]
        for k, v in params:
            self._param_map.setdefault(k, v)
        self._meta = meta
        self._interpreter = interpreter
        self._server_log = log

        m = meta.get
        self._uri = m("uri")
        self._filename = m("filename")
        self._canonical_filename = m("canonical_filename")
        self._path_info = m("path_info")
        self._unparsed_uri = m("unparsed_uri")
        self._args = m("args")
        # httpd lowercases the host name it takes from the request
        # (vhost.c fix_hostname).
        self._hostname = m("hostname").lower() if m("hostname") else m("hostname")
        self._the_request = m("the_request")
        self._method = m("method") or "GET"
        self._protocol = m("protocol") or "HTTP/1.1"
        try:
            self._request_time = float(m("request_time") or time.time())
        except ValueError:
            self._request_time = time.time()
        self._user = m("user")
        self._ap_auth_type = m("ap_auth_type")
        self._content_type = m("content_type")
        self._handler = config.handler
        self._document_root = m("document_root")
        self._local_ip = m("local_ip")
        self._local_port = _int_or(m("local_port"), 0)
        self._remote_ip = m("remote_ip")
        self._remote_port = _int_or(m("remote_port"), 0)
        self._https = m("https") == "1"

        self._method_number = _METHOD_NUMBERS.get(self._method, apache.M_INVALID)
        self._proto_num = _proto_num(self._protocol)
        self._header_only = 1 if self._method == "HEAD" else 0
        self._status = 200
        self._status_line = None  # type: Optional[str]
        self._assbackwards = 0
        self._proxyreq = 0
        self._no_cache = 0
        self._no_local_copy = 0
        self._used_path_info = 2
        self._chunked = 0
        self._ctype_set = 0
        self._mtime_usec = 0
        self._clength = 0
        self._allowed_mask = 0
        self._allowed_list = []  # type: List[str]
        self._sent_bodyct = 0
        self._bytes_sent = 0
        self._queued = 0
        self._read_started = False
        self._rbuf = b""
        self._finfo = None  # type: Optional[_apache.mp_finfo]

        self._headers_in = _apache.table()
        self._subprocess_env = _apache.table()
        self._http_params = []  # type: List[Tuple[str, str]]
        # mod_fcgid forces HTTP_CONNECTION=close and sends CONTENT_LENGTH=0
        # for a request without a body (mod_fcgid.c): the client's own
        # headers come as MPGATE_HTTP_CONNECTION and MPGATE_CONTENT_LENGTH
        # when the rewritten section copies them (SetEnvIf), else a forced
        # value is taken as absent.
        fcgid = meta.get("transport") == "fcgid"
        client_te = self._param("MPGATE_TRANSFER_ENCODING")
        for k, v in params:
            if k.startswith("HTTP_"):
                self._http_params.append((k, v))
                if k == "HTTP_CONNECTION" and fcgid:
                    v = self._param("MPGATE_HTTP_CONNECTION")
                    if v is None:
                        continue
                if k != "HTTP_PROXY":
                    self._headers_in._add_stored(_header_name(k), _apache._from_wire(v))
            elif k == "CONTENT_TYPE":
                self._headers_in._add_stored("Content-Type", _apache._from_wire(v))
            elif k == "CONTENT_LENGTH":
                if (fcgid and v == "0") or client_te is not None:
                    # Made up by the gateway (mod_fcgid's 0, a de-chunked
                    # body's length): the client's own, if it sent one.
                    v = self._param("MPGATE_CONTENT_LENGTH")
                    if v is None:
                        continue
                self._headers_in._add_stored("Content-Length", _apache._from_wire(v))
            elif k not in _COMMON_VARS and k not in _CGI_VARS and k not in _FCGI_VARS and not _is_mpgate_param(k):
                self._subprocess_env._add_stored(_apache._from_wire(k), _apache._from_wire(v))
        if client_te is not None and "Transfer-Encoding" not in self._headers_in:
            self._headers_in._add_stored("Transfer-Encoding", _apache._from_wire(client_te))
        self._headers_out = _apache.table()
        self._err_headers_out = _apache.table()
        self._notes = _apache.table()
        # mod_python's post-read-request hook marks every request it sees
        # (mod_python.c PythonPostReadRequestHandler).
        self._notes["python_init_ran"] = "1"
        # conn->remote_host and conn->double_reverse (httpd's
        # ap_get_remote_host): a name httpd looked up itself (HostnameLookups)
        # comes as REMOTE_HOST; None means not looked up yet, "" a failed
        # lookup.
        self._remote_host = self._param("REMOTE_HOST")  # type: Optional[str]
        self._double_reverse = 0

        self._phase = None  # type: Optional[str]
        self._hlist = None  # type: Optional[mp_hlist]
        self._extension = None  # type: Optional[str]
        self._dynamic = {}  # type: Dict[str, List[Dict[str, Any]]]
        # The phases an authorizer (FastCGI AUTHORIZER request) already ran,
        # which the worker skips; whether any phase dispatched to Python
        # (PythonCleanupHandler runs only then, as in mod_python).
        self._phases_done = frozenset()  # type: frozenset
        self._dispatched = False
        self._config_table = None  # type: Optional[_apache.table]
        self._options_table = None  # type: Optional[_apache.table]
        self._server_obj = None  # type: Optional[mp_server]
        self._conn_obj = None  # type: Optional[mp_conn]
        self._cleanups = []  # type: List[Tuple[Callable[[Any], Any], Any]]
        # The sessions constructed during this request, registered by
        # mod_python.Session: req.get_session() and a second Session(req)
        # for the same session return one of them instead of deadlocking.
        # This list is the request's session state: internal_redirect
        # (issue 5) hands it to the redirected request, so that the target's
        # handler continues the same session object.
        self._sessions = []  # type: List[Any]
        # internal_redirect: the requests before and after this one, and
        # the END the redirected request left for the worker to send.
        self._prev = None  # type: Optional[mp_request]
        self._next = None  # type: Optional[mp_request]
        self._redirect_end = None  # type: Optional[Tuple[int, List[Tuple[str, str]], List[Tuple[Any, Any]]]]

    # -- helpers for the worker and the other objects ---------------------------

    def _param(self, name: str) -> Optional[str]:
        return self._param_map.get(name)

    def _log(self, level: int, message: str) -> None:
        self._exchange.log(level, message)

    def _base_server_obj(self) -> Optional[mp_server]:
        if self._site.base_server is not None:
            return mp_server(self._site.base_server, self._server_log)
        return apache.main_server

    def _response_head(self) -> Tuple[int, str, List[Tuple[Any, Any]]]:
        """Returns the status, reason and headers httpd's header filter would
        send: Content-Type from content_type (which replaces any in the
        tables), then err_headers_out, then headers_out, then Expires for
        no_cache."""
        headers = []  # type: List[Tuple[Any, Any]]
        ct = self._content_type
        if ct is not None:
            headers.append(("Content-Type", ct))
        for k, v in self._err_headers_out._pairs() + self._headers_out._pairs():
            if ct is not None and _apache._fold(k) == "content-type":
                continue
            headers.append((k, v))
        folded = set(_apache._fold(k) for k, _ in headers)
        expires = None  # type: Optional[str]
        if self._no_cache and "expires" not in folded:
            expires = _http_date(self._request_time)
            headers.append(("Expires", expires))
        if self._will_chunk(folded):
            self._chunked = 1
        self._header_filter(expires)
        status = self._status
        reason = _reason(status, self._status_line) if 100 <= status <= 999 else ""
        if not reason and status not in KNOWN_STATUSES:
            # httpd sends "500 Internal Server Error" for a status it has no
            # status line for, unless the handler gave one
            # (ap_index_of_response, validate_status_line).
            return 500, "", headers
        return status, reason, headers

    def _will_chunk(self, folded: Any) -> bool:
        """Whether httpd sends the response chunked (ap_set_keepalive): an
        HTTP/1.1 response of unknown length on a connection kept open. The
        client's "Connection: close" is known only through mod_proxy_fcgi
        (mod_fcgid always says close)."""
        if self._status in (204, 304) or self._header_only or self._proto_num < 1001:
            return False
        if "content-length" in folded or "transfer-encoding" in folded:
            return False
        if self.expecting_100:
            return False
        conn = self._param("HTTP_CONNECTION")
        if conn and self._meta.get("transport") != "fcgid" and "close" in conn.lower().split(","):
            return False
        return True

    def _header_filter(self, expires: Optional[str]) -> None:
        """Leaves the tables as httpd's header filter (ap_http_header_filter)
        does once the head went out: err_headers_out merged in front of
        headers_out and emptied; Transfer-Encoding (Content-Length dropped)
        for a chunked response; Content-Type and Expires set."""
        out, err = self._headers_out, self._err_headers_out
        if err._e:
            out._e[:] = [list(e) for e in err._e] + out._e
            del err._e[:]
        if self._status in (204, 304):
            for k in ("Transfer-Encoding", "Content-Length"):
                if k in out:
                    del out[k]
        elif self._chunked:
            te = out.get("Transfer-Encoding")
            out._set_stored("Transfer-Encoding", te + ", chunked" if te else "chunked")
            if "Content-Length" in out:
                del out["Content-Length"]
        if self._content_type is not None:
            out._set_stored("Content-Type", self._content_type)
        if expires is not None:
            out._add_stored("Expires", expires)

    def _set_final_length(self, length: int) -> None:
        """Sets Content-Length to the length of a body that ends before any
        of it was sent, as httpd's content-length filter does (it keeps a
        Content-Length already set for a bodiless HEAD, 204 or 304)."""
        if (length == 0 and (self._header_only or self._status in (204, 304))
                and "Content-Length" in self._headers_out):
            return
        self._headers_out["Content-Length"] = str(length)

    def _error_headers(self, result: int) -> List[Tuple[Any, Any]]:
        """Returns the headers httpd keeps for an error response:
        err_headers_out, the Location of headers_out for redirects and 201
        (http_protocol.c ap_send_error_response), plus Allow for 405 and
        501."""
        headers = list(self._err_headers_out._pairs())
        if 300 <= result < 400 or result == apache.HTTP_CREATED:
            location = self._headers_out.get("Location")
            if location:
                headers = [(k, v) for k, v in headers if str(k).lower() != "location"]
                headers.append(("Location", location))
        if result in (apache.HTTP_METHOD_NOT_ALLOWED, apache.HTTP_NOT_IMPLEMENTED):
            headers.append(("Allow", self._make_allow()))
        return headers

    def _make_allow(self) -> str:
        """httpd's make_allow: the allowed methods known to httpd, then
        TRACE."""
        names = []  # type: List[str]
        for num in sorted(_METHOD_NAMES):
            if self._allowed_mask & (1 << num):
                names.extend(_METHOD_NAMES[num])
        names.append("TRACE")
        return ",".join(names)

    def _host_port(self) -> Optional[int]:
        """Returns the port of the Host header, or None."""
        host = self._headers_in.get("Host")
        if host and not host.endswith("]") and ":" in host:
            port = host.rsplit(":", 1)[1]
            if port.isdigit():
                return int(port)
        return None

    def _server_port(self) -> int:
        """httpd's ap_get_server_port: what the daemon computed, else the
        port of the Host header, else the scheme's default."""
        port = _int_or(self._meta.get("server_port"), 0)
        if port:
            return port
        port = self._host_port()
        if port is not None:
            return port
        return 443 if self._https else 80

    def _start_reading(self) -> bool:
        """ap_setup_client_block + ap_should_client_block: raises
        SERVER_RETURN for a chunked body (REQUEST_CHUNKED_ERROR); returns
        whether there is a body to read."""
        if not self._read_started:
            # The client's Transfer-Encoding: mod_proxy_fcgi passes it when
            # it streams a chunked body; a body the gateway de-chunked comes
            # with a Content-Length instead, and its Transfer-Encoding only as
            # MPGATE_TRANSFER_ENCODING when the rewritten section copies it.
            te = self._headers_in.get("Transfer-Encoding")
            if te is not None:
                if te.strip().lower() != "chunked":
                    raise apache.SERVER_RETURN(apache.HTTP_NOT_IMPLEMENTED)
                if "Content-Length" in self._headers_in:
                    raise apache.SERVER_RETURN(apache.HTTP_BAD_REQUEST)
                raise apache.SERVER_RETURN(apache.HTTP_LENGTH_REQUIRED)
            self._read_started = True
        return self._exchange.body_known and (self._exchange.body_remaining > 0 or bool(self._rbuf))

    # -- methods ----------------------------------------------------------------

    def write(self, data: Any, flush: int = 1) -> None:
        """Writes body bytes (str is UTF-8 encoded); the first write that is
        sent also sends the headers. Flushes unless flush is 0."""
        if type(flush) is int and flush == 0 and self._next is None:
            # The fast path of a held write (PSP pages and the publisher
            # write many small str pieces with flush=0): no argument
            # conversion calls for the common types.
            t = type(data)
            b = data.encode("utf-8") if t is str else data if t is bytes else _arg_write(data)
            if b:
                self._exchange.write(self, b, False)
            self._queued += len(b)
            return
        b = _arg_write(data)
        flush = _arg_int(flush)
        if self._next is not None:
            # Apache hands this request's output filters to the new one
            # (internal_internal_redirect): while it runs, this request's
            # output is its output; once it has ended, Apache drops it.
            if self._redirect_end is None:
                self._next.write(b, flush)
            return
        if b:
            self._exchange.write(self, b, bool(flush))
        self._queued += len(b)

    def flush(self) -> None:
        """Sends the headers and everything written so far to the client."""
        if self._next is not None:
            if self._redirect_end is None:
                self._next.flush()
            return
        try:
            self._exchange.push(self, True)
        except ExchangeError:
            raise IOError("Flush failed, client closed connection.") from None

    def read(self, length: int = -1) -> bytes:
        """Reads the request body: all that is left, or at most length bytes."""
        length = _arg_int(length)
        if length == 0:
            return b""
        if not self._start_reading():
            return b""
        ex = self._exchange
        if length < 0:
            length = ex.body_remaining + len(self._rbuf)
        out = [self._rbuf[:length]]
        got = len(out[0])
        self._rbuf = self._rbuf[got:]
        while got < length:
            chunk = ex.read_body(length - got)
            if not chunk:
                break
            out.append(chunk)
            got += len(chunk)
        return b"".join(out)

    def readline(self, length: int = -1) -> bytes:
        """Reads one line of the request body (up to and including b"\\n"),
        or at most length bytes."""
        length = _arg_int(length)
        if length == 0:
            return b""
        if not self._start_reading():
            return b""
        ex = self._exchange
        if length < 0:
            length = ex.body_remaining + len(self._rbuf)
        buf = self._rbuf
        scanned = 0
        while True:
            i = buf.find(b"\n", scanned, length)
            if i >= 0:
                line, self._rbuf = buf[:i + 1], buf[i + 1:]
                return line
            if len(buf) >= length:
                line, self._rbuf = buf[:length], buf[length:]
                return line
            scanned = len(buf)
            chunk = ex.read_body(min(READ_CHUNK, length - len(buf)))
            if not chunk:
                self._rbuf = b""
                return buf
            buf += chunk

    def readlines(self, sizehint: int = -1) -> List[bytes]:
        """Reads the body as lines; with sizehint, stops once the lines read
        total at least sizehint bytes. As in mod_python, every line after the
        first is read with readline(sizehint)."""
        sizehint = _arg_int(sizehint)
        result = []
        size = 0
        line = self.readline()
        while line:
            result.append(line)
            size += len(line)
            if sizehint != -1 and size >= sizehint:
                break
            line = self.readline(sizehint)
        return result

    def discard_request_body(self) -> int:
        """Reads and drops the rest of the request body; returns apache.OK.
        As httpd's ap_discard_request_body, it does not count what it drops
        in read_length."""
        if self._start_reading():
            self._rbuf = b""
            while self._exchange.read_body(READ_CHUNK, count=False):
                pass
        return apache.OK

    def sendfile(self, path: str, offset: int = 0, length: int = -1) -> int:
        """Sends length bytes (all by default) of file path from offset;
        returns the number of bytes sent."""
        path = _arg_str(1, path)
        offset = _arg_int(offset)
        length = _arg_int(length)
        try:
            size = os.stat(path).st_size
        except OSError:
            raise IOError("Could not stat file for reading") from None
        try:
            f = open(path, "rb")
        except OSError:
            raise IOError("Could not open file for reading") from None
        with f:
            if length == -1:
                length = size
            if offset + length > size:
                # httpd's ap_send_fd fails on a file bucket that runs past
                # the end of the file (sendfile(path, offset) without a
                # length does: mod_python asks for the whole size).
                raise IOError("Write failed, client closed connection.")
            try:
                f.seek(offset)
                sent = self._exchange.sendfile(self, f, length)
            except (ExchangeError, OSError):
                raise IOError("Write failed, client closed connection.") from None
        self._queued += length
        return sent

    def set_content_length(self, length: int) -> None:
        """Sets clength and the Content-Length header."""
        length = _arg_int(length)
        self._clength = length
        self._headers_out["Content-Length"] = str(length)

    def log_error(self, message: Optional[str], level: int = 0) -> None:
        """Writes message to the error log for this request; level 0 means
        APLOG_ERR."""
        message = _arg_str(1, message, none_ok=True)
        level = _arg_int(level)
        if message is None:
            return
        level = level or APLOG_ERR
        if _apache._logged(level, self._site.log_level):
            self._log(level, message)

    def get_config(self) -> _apache.table:
        """Returns the table of Python* directives in effect (one object per
        request)."""
        if self._config_table is None:
            self._config_table = _apache.table(self._site.directives)
        return self._config_table

    def get_options(self) -> _apache.table:
        """Returns the PythonOption table in effect, without the entries an
        empty value masks (MODPYTHON-6)."""
        if self._options_table is None:
            t = _apache.table()
            for k, v in self._site.options:
                t[k] = v
            self._options_table = t
        t = self._options_table
        # requestobject.c req_get_options unsets empty-valued keys while it
        # walks the table and steps past the entry that moved into the
        # removed one's place, so of two masked keys in a row only the first
        # goes on each call. The table is the request's, so a second call
        # removes more.
        pairs = t._pairs()
        i = 0
        while i < len(pairs):
            if pairs[i][1] == "":
                del t[pairs[i][0]]
                pairs = t._pairs()
            i += 1
        return t

    def get_session_options(self) -> Dict[str, str]:
        """Returns the session options in effect as a new dict, keyed by the
        suffixes of mod_python's mod_python.session.* options (session_type,
        cookie_name, application_domain, application_path,
        database_directory, timeout, lock, secret, cookie_secure,
        cookie_httponly, cookie_samesite), only those configured:
        PythonSessionOptions over PythonOption mod_python.session.* over
        mod_python 3.2's option names (mod_python.Session.merge_options). An
        empty value masks a key. Does not touch the req.get_options() table."""
        from mod_python import Session
        if self._options_table is not None:
            # what the handler may have changed in it
            python_options = _apache.table(self._options_table._pairs())
        else:
            python_options = _apache.table(self._site.options)
        return Session.merge_options(python_options, self._site.session_options)

    def get_session(self) -> Any:
        """Returns the request's session (a mod_python.Session object),
        created on first use as the session options say: one object per
        request, whatever asks for it -- this method, Session(req) or a
        session class -- so that nothing waits for a lock its own request
        holds."""
        from mod_python import Session
        return Session.get_session(self)

    def add_handler(self, phase: str, handler: str, dir: Optional[str] = None) -> None:
        """Adds a handler to phase: to the running list when phase is the one
        running, else to run after the configured ones when phase runs."""
        _arg_str(1, phase)
        _arg_str(2, handler)
        _arg_str(3, dir, none_ok=True)
        if phase not in _VALID_PHASES:
            raise IndexError("Invalid phase: %s" % phase)
        if dir is not None:
            dir = os.path.normpath(os.path.join(os.getcwd(), dir))
            if not dir.endswith("/"):
                dir += "/"
        entry = {"handler": handler, "directory": dir, "is_location": False, "silent": False}
        if phase == self._phase and self._hlist is not None:
            self._hlist._append(entry)
        else:
            self._dynamic.setdefault(phase, []).append(entry)

    def register_cleanup(self, handler: Callable[[Any], Any], data: Any = None) -> None:
        """Registers handler(data) to run once the response is complete."""
        if not callable(handler):
            raise ValueError("first argument must be a callable object")
        self._cleanups.append((handler, data))

    def allow_methods(self, methods: Any, reset: int = 0) -> None:
        """Adds method names to the Allow list (reset=1 replaces it)."""
        reset = _arg_int(reset)
        # PySequence_Check: anything indexable but a dict (a str is a
        # sequence of one-letter method names to mod_python).
        if isinstance(methods, dict) or not hasattr(type(methods), "__getitem__"):
            raise TypeError("First argument must be a sequence")
        for i in range(len(methods)):
            m = _apache._c_string(methods[i]).decode("latin-1")
            if i == 0 and reset == 1:
                self._allowed_mask = 0
                self._allowed_list = []
            num = _METHOD_NUMBERS.get(m)
            if num is not None:
                self._allowed_mask |= 1 << num
            elif m not in self._allowed_list:
                # ap_method_list_add keeps unknown names in a list that
                # make_allow only shows with the M_INVALID bit, which it
                # never sets.
                self._allowed_list.append(m)

    def document_root(self) -> str:
        """Returns the DocumentRoot of the virtual server."""
        return self._document_root or ""

    def get_addhandler_exts(self) -> str:
        """Returns the extensions of "AddHandler mod_python ...", space
        separated."""
        return self._site.addhandler_exts

    def auth_type(self) -> Optional[str]:
        """Returns the AuthType in effect, or None."""
        return self._site.auth_type

    def auth_name(self) -> Optional[str]:
        """Returns the AuthName in effect, or None."""
        return self._site.auth_name

    def get_basic_auth_pw(self) -> Optional[str]:
        """Returns the Basic auth password and sets req.user, as httpd's
        ap_get_basic_auth_pw: None unless AuthType Basic and AuthName are in
        effect and the client sent Basic credentials."""
        auth_type = self._site.auth_type
        if not auth_type or auth_type.lower() != "basic":
            return None
        if not self._site.auth_name:
            self._log(APLOG_ERR, "AH00572: need AuthName: %s" % (self._uri or ""))
            return None
        proxy = self._proxyreq == apache.PROXYREQ_PROXY
        line = self._headers_in.get("Proxy-Authorization" if proxy else "Authorization")
        if not line:
            self._note_auth_failure()
            return None
        scheme, _, creds = line.strip().partition(" ")
        if scheme.lower() != "basic":
            self._log(APLOG_ERR, "AH00573: client used wrong authentication scheme: %s" % (self._uri or ""))
            self._note_auth_failure()
            return None
        try:
            decoded = base64.b64decode(creds.strip() + "===", validate=False).decode("latin-1")
        except (ValueError, TypeError):
            decoded = ""
        user, _, pw = decoded.partition(":")
        self._user = user
        self._ap_auth_type = "Basic"
        self._notes["AP_GET_BASIC_AUTH_PW_NOTE"] = "1"
        return pw

    def _note_auth_failure(self) -> None:
        """Adds the Basic challenge, as httpd's ap_note_auth_failure."""
        name = "Proxy-Authenticate" if self._proxyreq == apache.PROXYREQ_PROXY else "WWW-Authenticate"
        self._err_headers_out[name] = 'Basic realm="%s"' % (self._site.auth_name or "")

    def construct_url(self, uri: str) -> str:
        """Returns scheme://host[:port] + uri for this request."""
        _arg_str(1, uri)
        scheme = "https" if self._https else "http"
        host = self._hostname or (self.server.server_hostname if self._site.server else None) or ""
        if ":" in host and not host.startswith("["):
            host = "[" + host + "]"
        port = self._server_port()
        default = 443 if self._https else 80
        if port and port != default:
            host = "%s:%d" % (host, port)
        return "%s://%s%s" % (scheme, host, uri)

    def get_remote_host(self, type: int = apache.REMOTE_NAME, str_is_ip: Any = None) -> Any:
        """Returns the client's host name or address, as httpd's
        ap_get_remote_host: the name httpd looked up (HostnameLookups passes
        it as REMOTE_HOST), else for REMOTE_DOUBLE_REV a reverse lookup
        confirmed by a forward one, made here and remembered for the rest
        of the request; with str_is_ip not None, (host, is_ip)."""
        type = _arg_int(type)
        if type == apache.REMOTE_DOUBLE_REV:
            if self._remote_host is None:
                self._remote_host = _reverse_lookup(self._remote_ip)
            if self._double_reverse == 0:
                self._double_reverse = _double_reverse(self._remote_host, self._remote_ip)
            if self._double_reverse == -1:
                return None
        is_ip = 0
        if self._remote_host:
            host = self._remote_host  # type: Optional[str]
        elif type in (apache.REMOTE_HOST, apache.REMOTE_DOUBLE_REV):
            host = None
        else:
            host = self._remote_ip
            is_ip = 1
        if host is None:
            return None
        if str_is_ip is not None:
            return (host, is_ip)
        return host

    def is_https(self) -> int:
        """Returns 1 for a request that came over TLS."""
        return 1 if self._https else 0

    def ssl_var_lookup(self, var_name: str) -> Optional[str]:
        """Returns a mod_ssl variable when httpd passed it (SSLOptions
        +StdEnvVars), else None."""
        _arg_str(1, var_name)
        if var_name == "HTTPS":
            return "on" if self._https else "off"
        return self._param(var_name)

    def internal_redirect(self, new_uri: str) -> None:
        """Runs a new request for new_uri (a local URI, with its query
        string) in place of this one, as Apache's ap_internal_redirect does:
        the daemon maps the URI and looks its configuration up; its phases
        (content handler included) run here and now, in this worker, with this request as its
        req.prev, and its response is the response. The redirected request
        takes over this one's session, so that req.get_session() or
        Session(req) there continues it instead of deadlocking. A target
        that is no Python handler's (a static file) is served by the
        daemon; one in another interpreter is an error, logged. The caller
        returns apache.OK afterwards, as with mod_python."""
        from . import importer, worker
        r = worker.call("request.redirect", uri=str(new_uri))
        if r.get("interpreter") != self._interpreter:
            self._log(apache.APLOG_ERR, "internal_redirect to %s: it runs in interpreter %r, not %r; "
                      "mpgate runs a redirect in the same worker only" % (new_uri, r.get("interpreter"), self._interpreter))
            raise apache.SERVER_RETURN(apache.HTTP_INTERNAL_SERVER_ERROR)
        try:
            config = SiteConfig(json.loads(r.get("config_json", "")))
        except (ValueError, TypeError, AttributeError) as e:
            raise RuntimeError("internal_redirect to %s: bad configuration from the daemon: %s" % (new_uri, e)) from None
        params = [(k[2:], v) for k, v in r.items() if k.startswith("p:")]
        meta = {k[2:]: v for k, v in r.items() if k.startswith("m:")}
        new = mp_request(self._exchange, config, params, meta, self._interpreter, self._server_log)
        new._prev, self._next = self, new
        new._sessions = self._sessions
        # Apache's new request shares err_headers_out (http_request.c
        # internal_internal_redirect); headers_out starts empty.
        new._err_headers_out = self._err_headers_out
        # mpgate: cookies set so far (a new session's among them) go along;
        # Apache would drop them with the rest of headers_out.
        for k, v in self._headers_out._pairs():
            if k.lower() in ("set-cookie", "set-cookie2") or (k.lower() == "cache-control" and "set-cookie" in v):
                new._headers_out.add(k, v)
        w = worker._worker
        saved = importer._ctx
        importer.begin_request(new)
        if saved is not None and importer._ctx is not None:
            importer._ctx.cache = saved.cache  # one module per file for the whole request
        try:
            # Apache runs the new request's phases again (post-read
            # included); authentication is skipped once a user is known
            # (request.c skips it when the previous request passed it).
            new._phases_done = self._phases_done
            if new._user is not None:
                new._phases_done = new._phases_done | _AUTH_PHASES
            result = w.run_phases(new)
            self._redirect_end = w.finish(new, result)
        finally:
            importer._ctx = saved
            importer._set_fast_ctx(saved)
            w._run_cleanups(new)

    def add_input_filter(self, name: str) -> None:
        """Not supported: mpgate runs no Apache filters."""
        raise NotImplementedError("req.add_input_filter(): mpgate does not support Apache filters")

    def add_output_filter(self, name: str) -> None:
        """Not supported: mpgate runs no Apache filters."""
        raise NotImplementedError("req.add_output_filter(): mpgate does not support Apache filters")

    def register_input_filter(self, name: str, handler: str, dir: Optional[str] = None) -> None:
        """Not supported: mpgate runs no Apache filters."""
        raise NotImplementedError("req.register_input_filter(): mpgate does not support Apache filters")

    def register_output_filter(self, name: str, handler: str, dir: Optional[str] = None) -> None:
        """Not supported: mpgate runs no Apache filters."""
        raise NotImplementedError("req.register_output_filter(): mpgate does not support Apache filters")

    def _set_wsgi_path_info(self) -> bool:
        """requestobject.c set_wsgi_path_info: sets path_info to the part of
        uri after the WSGI base URI (PythonOption mod_python.wsgi.base_uri,
        else the <Location> of the handler, a trailing "/" removed); returns
        False when uri does not start with the base URI. A base_uri ending
        in "/" raises ValueError."""
        base_uri = None  # type: Optional[str]
        for k, v in self._site.options:
            if _apache._fold(k) == "mod_python.wsgi.base_uri":
                base_uri = v
                break
        if base_uri is None and self._site.is_location:
            base_uri = self._site.config_dir or ""
            if base_uri.endswith("/"):
                base_uri = base_uri[:-1]
        elif base_uri and base_uri.endswith("/"):
            raise ValueError("PythonOption 'mod_python.wsgi.base_uri' ('%s') must not end with '/'" % base_uri)
        uri = self._uri or ""
        if base_uri:
            # the C code compares byte by byte: "/foo" is a prefix of "/foobar"
            if not uri.startswith(base_uri):
                return False
            uri = uri[len(base_uri):]
        self._path_info = uri
        return True

    def build_wsgi_env(self) -> Any:
        """Returns the WSGI environ for this request (requestobject.c
        req_build_wsgi_env, mod_python.md §5.7): path_info set from the base
        URI, the CGI variables (add_cgi_vars), HTTP_AUTHORIZATION, and the
        wsgi.* keys, wsgi.input being the request itself and wsgi.errors
        sys.stderr (the error log). Returns None when uri does not start
        with the base URI (mod_python.wsgi then declines)."""
        if not self._set_wsgi_path_info():
            return None
        self.add_cgi_vars()
        env = {}  # type: Dict[str, Any]
        t = self.subprocess_env
        # PyDict_Merge(env, table, 0): the first of repeated keys wins, and
        # its value is what t[key] gives (a list when repeated).
        for k in t.keys():
            if k not in env:
                env[k] = t[k]
        auth = self._headers_in.get("authorization")
        if auth is not None:
            env["HTTP_AUTHORIZATION"] = auth
        env["wsgi.input"] = self
        env["wsgi.errors"] = sys.stderr
        env["wsgi.version"] = (1, 0)
        env["wsgi.multithread"] = bool(_apache.mpm_query(apache.AP_MPMQ_IS_THREADED))
        env["wsgi.multiprocess"] = bool(_apache.mpm_query(apache.AP_MPMQ_IS_FORKED))
        https = t.get("HTTPS")
        env["wsgi.url_scheme"] = "http" if https is None or str(https).lower() == "off" else "https"
        return env

    def wsgi_start_response(self, *args: Any) -> Any:
        """The WSGI start_response(status, response_headers, exc_info=None)
        (requestobject.c req_wsgi_start_response): checks and adds the
        headers to headers_out, sets status_line and status, and returns
        req.write. Given exc_info, re-raises that exception, as mod_python
        does whether or not the headers went out.

        mpgate: sets req.status too, so that the status is sent; mod_python
        3.5 sets only status_line, which httpd drops for not matching
        status 200 (grisha/mod_python#53). exc_info=None is taken as not
        given (mod_python raises SystemError)."""
        if len(args) < 2 or len(args) > 3:
            if len(args) < 2:
                raise TypeError("wsgi_start_response() takes at least 2 arguments (%d given)" % len(args))
            raise TypeError("wsgi_start_response() takes at most 3 arguments (%d given)" % len(args))
        status_line, headers = args[0], args[1]
        exc_info = args[2] if len(args) == 3 else None
        if not isinstance(status_line, str):
            raise TypeError("wsgi_start_response() argument 1 must be str, not %s" % _type_name(status_line))
        if "\0" in status_line:
            raise ValueError("embedded null character")
        if not isinstance(headers, list):
            raise TypeError("headers argument must be a list, not a '%s'" % type(headers).__name__)
        if exc_info is not None:
            if not isinstance(exc_info, tuple) or len(exc_info) != 3:
                n = len(exc_info) if isinstance(exc_info, tuple) else 0
                if not isinstance(exc_info, tuple):
                    raise SystemError("PyArg_UnpackTuple() argument list is not a tuple")
                raise TypeError("wsgi_start_response expected 3 arguments, got %d" % n)
            exc, value, tb = exc_info
            if value is None:
                value = exc()
            raise value.with_traceback(tb)
        for item in headers:
            if type(item) is not tuple:
                raise TypeError("each header must be a tuple, not a '%s'" % type(item).__name__)
            if len(item) != 2:
                raise TypeError("function takes exactly 2 arguments (%d given)" % len(item))
            key, val = item
            if type(key) not in (str, bytes):
                raise TypeError("header names must be strings, not '%s'" % type(key).__name__)
            if type(val) not in (str, bytes):
                raise TypeError("header values must be strings, not '%s'" % type(val).__name__)
            # MP_ANYSTR_AS_STR: a str must be Latin-1; both are C strings.
            self.headers_out.add(_apache._c_string(key), _apache._c_string(val))
        status = _atoi(status_line)
        if not 100 <= status < 600:
            raise ValueError("Invalid status line: %s" % status_line)
        self._status_line = _apache._to_c(status_line.encode("utf-8", "surrogateescape"))
        self._status = status
        return self.write

    def send_http_header(self) -> None:
        """Does nothing; kept for mod_python 2 code."""

    def add_common_vars(self) -> None:
        """Adds httpd's common CGI variables to subprocess_env, in the order
        of httpd's ap_add_common_vars: the request headers as HTTP_*
        (Authorization only with CGIPassAuth On in the site's own
        configuration), then the server's and the connection's values."""
        new = []  # type: List[Tuple[str, Any]]
        for k, v in self._headers_in._pairs():
            fk = _apache._fold(k)
            if fk == "content-type":
                new.append(("CONTENT_TYPE", v))
            elif fk == "content-length":
                new.append(("CONTENT_LENGTH", v))
            elif fk == "proxy":
                continue
            elif fk in ("authorization", "proxy-authorization") and not self._site.cgi_pass_auth:
                continue
            else:
                new.append((_http2env(k if isinstance(k, str) else k.decode("latin-1")), v))

        def param(name: str) -> Optional[Any]:
            v = self._param(name)
            return None if v is None else _apache._from_wire(v)

        remote_host = self._remote_host or None
        for k, v in (
                ("PATH", param("PATH")),
                ("SERVER_SIGNATURE", param("SERVER_SIGNATURE")),
                ("SERVER_SOFTWARE", param("SERVER_SOFTWARE")),
                ("SERVER_NAME", param("SERVER_NAME")),
                ("SERVER_ADDR", self._local_ip),
                ("SERVER_PORT", str(self._server_port())),
                ("REMOTE_HOST", remote_host),
                ("REMOTE_ADDR", self._remote_ip),
                ("DOCUMENT_ROOT", self._document_root),
                ("REQUEST_SCHEME", param("REQUEST_SCHEME")),
                ("CONTEXT_PREFIX", param("CONTEXT_PREFIX")),
                ("CONTEXT_DOCUMENT_ROOT", param("CONTEXT_DOCUMENT_ROOT")),
                ("SERVER_ADMIN", param("SERVER_ADMIN")),
                ("SCRIPT_FILENAME", self._filename),
                ("REMOTE_PORT", str(self._remote_port) if self._remote_port else param("REMOTE_PORT")),
                ("REMOTE_USER", self._user),
                ("AUTH_TYPE", self._ap_auth_type),
                ("REMOTE_IDENT", param("REMOTE_IDENT")),
                ("REDIRECT_QUERY_STRING", param("REDIRECT_QUERY_STRING")),
                ("REDIRECT_URL", param("REDIRECT_URL"))):
            if v is not None or k == "SCRIPT_FILENAME":  # httpd adds r->filename even when NULL
                new.append((k, v))
        env = self._subprocess_env
        for k, v in new:
            env._set_stored(k, v)

    def add_cgi_vars(self) -> None:
        """Adds the CGI variables mod_python computes (REQUEST_URI is
        req.uri, no PATH_TRANSLATED), then the common ones."""
        env = self._subprocess_env
        env["GATEWAY_INTERFACE"] = "CGI/1.1"
        env["SERVER_PROTOCOL"] = self._protocol
        env["REQUEST_METHOD"] = self._method
        env["QUERY_STRING"] = self._args if self._args is not None else ""
        uri = self._uri or ""
        env["REQUEST_URI"] = uri
        if not self._path_info:
            env["SCRIPT_NAME"] = uri
        else:
            env["SCRIPT_NAME"] = uri[:_find_path_info(uri, self._path_info)]
            env["PATH_INFO"] = self._path_info
        self.add_common_vars()

    def update_mtime(self, dependency_mtime: float) -> None:
        """Sets mtime to dependency_mtime if that is later."""
        # apr_time_from_sec() casts the seconds to an integer first.
        usec = int(_arg_float(dependency_mtime)) * 1000000
        if self._mtime_usec < usec:
            self._mtime_usec = usec

    def set_last_modified(self) -> None:
        """Sets Last-Modified from mtime (no later than the request time)."""
        if self._assbackwards:
            return
        req_usec = int(self._request_time * 1000000)
        if self._mtime_usec > req_usec:
            self._mtime_usec = req_usec
        self._headers_out["Last-Modified"] = _http_date(self._mtime_usec / 1000000.0)

    def set_etag(self) -> None:
        """Sets ETag as httpd's ap_make_etag with FileETag MTime Size."""
        req_usec = int(self._request_time * 1000000)
        weak = "" if req_usec - self._mtime_usec > 1000000 else "W/"
        fi = self.finfo
        if fi.filetype != _apache.APR_NOFILE and fi.size is not None:
            etag = '%s"%x-%x"' % (weak, fi.size, self._mtime_usec)
        else:
            etag = '%s"%x"' % (weak, self._mtime_usec)
        self._headers_out["ETag"] = etag

    def meets_conditions(self) -> int:
        """Evaluates the conditional request headers against ETag and mtime
        (a subset of httpd's ap_meets_conditions): apache.OK,
        HTTP_NOT_MODIFIED or HTTP_PRECONDITION_FAILED."""
        if not (200 <= self._status < 300) or self._no_local_copy:
            return apache.OK
        etag = self._headers_out.get("ETag")
        mtime = self._mtime_usec / 1000000.0 if self._mtime_usec else self._request_time
        h = self._headers_in.get
        if_match = h("If-Match")
        if if_match:
            if if_match.strip() != "*" and (etag is None or etag.startswith("W/")
                                           or etag not in [t.strip() for t in if_match.split(",")]):
                return apache.HTTP_PRECONDITION_FAILED
        else:
            ius = _parse_http_date(h("If-Unmodified-Since"))
            if ius is not None and mtime > ius:
                return apache.HTTP_PRECONDITION_FAILED
        inm = h("If-None-Match")
        if inm:
            tags = [t.strip() for t in inm.split(",")]
            match = inm.strip() == "*" or (etag is not None and (
                etag in tags or etag.replace("W/", "", 1) in [t.replace("W/", "", 1) for t in tags]))
            if match:
                if self._method in ("GET", "HEAD"):
                    return apache.HTTP_NOT_MODIFIED
                return apache.HTTP_PRECONDITION_FAILED
        elif self._method in ("GET", "HEAD"):
            ims = _parse_http_date(h("If-Modified-Since"))
            if ims is not None and mtime <= ims <= self._request_time:
                return apache.HTTP_NOT_MODIFIED
        return apache.OK

    # -- attributes -------------------------------------------------------------

    uri = _str_field("uri", doc="The path portion of the URI (decoded).")
    filename = _str_field("filename", doc="The file the request maps to.")
    canonical_filename = _str_field("canonical_filename")
    path_info = _str_field("path_info")
    args = _str_field("args", none_ok=True, doc="The query string, or None.")
    handler = _str_field("handler", none_ok=True, doc="The content handler name.")
    ap_auth_type = _str_field("ap_auth_type")
    status_line = _str_field("status_line")

    status = _int_field("status", doc="The response status.")
    assbackwards = _int_field("assbackwards")
    proxyreq = _int_field("proxyreq")
    no_cache = _int_field("no_cache")
    no_local_copy = _int_field("no_local_copy")
    used_path_info = _int_field("used_path_info")

    @property
    def user(self) -> Optional[str]:
        """The authenticated user (Latin-1)."""
        return self._user

    @user.setter
    def user(self, value: Any) -> None:
        self._user = _apache._c_string(value).decode("latin-1")

    @property
    def content_type(self) -> Optional[str]:
        """The response Content-Type; setting it sets _content_type_set."""
        return _apache._from_c(self._content_type)

    @content_type.setter
    def content_type(self, value: Any) -> None:
        self._content_type = _check_str("content_type", value)
        self._ctype_set = 1

    @property
    def chunked(self) -> int:
        """1 when the response is sent with chunked transfer-coding."""
        return self._chunked

    @chunked.setter
    def chunked(self, value: Any) -> None:
        if not isinstance(value, int):
            raise TypeError("chunked must be a integer")
        self._chunked = int(value)

    @property
    def finfo(self) -> _apache.mp_finfo:
        """The file information of filename."""
        if self._finfo is None:
            self._finfo = _stat_filename(self._filename)
        return self._finfo

    @finfo.setter
    def finfo(self, value: Any) -> None:
        if not isinstance(value, _apache.mp_finfo):
            raise TypeError("finfo must be a finfoobject")
        self._finfo = value

    @property
    def headers_in(self) -> _apache.table:
        """The request headers."""
        return self._headers_in

    @property
    def headers_out(self) -> _apache.table:
        """The response headers."""
        return self._headers_out

    @property
    def err_headers_out(self) -> _apache.table:
        """Response headers that are kept for error responses too."""
        return self._err_headers_out

    @property
    def subprocess_env(self) -> _apache.table:
        """The environment table (SetEnv and friends; CGI variables after
        add_common_vars/add_cgi_vars)."""
        return self._subprocess_env

    @property
    def notes(self) -> _apache.table:
        """Notes for the life of the request."""
        return self._notes

    @property
    def connection(self) -> mp_conn:
        """The client connection."""
        if self._conn_obj is None:
            self._conn_obj = mp_conn(self)
        return self._conn_obj

    @property
    def server(self) -> Optional[mp_server]:
        """The virtual server serving the request."""
        if self._server_obj is None and self._site.server is not None:
            self._server_obj = mp_server(self._site.server, self._server_log)
        return self._server_obj

    @property
    def interpreter(self) -> str:
        """The Python interpreter name (mod_python.md §1.8)."""
        return self._interpreter

    @property
    def request_time(self) -> float:
        """When the request started, seconds since the epoch."""
        return self._request_time

    @property
    def mtime(self) -> float:
        """The resource's modification time (0.0 until update_mtime)."""
        return self._mtime_usec / 1000000.0

    @property
    def allowed(self) -> int:
        """httpd's r->allowed bit mask (allow_methods does not change it)."""
        return 0

    @property
    def allowed_methods(self) -> Tuple[str, ...]:
        """The method names given to allow_methods that httpd does not know."""
        return tuple(self._allowed_list)

    @property
    def bytes_sent(self) -> int:
        """Body bytes sent so far."""
        return self._bytes_sent

    @property
    def sent_bodyct(self) -> int:
        """1 once the response head has been sent."""
        return self._sent_bodyct

    @property
    def remaining(self) -> int:
        """Request body bytes not yet received (0 until the body is first
        read: httpd sets it in ap_setup_client_block)."""
        return self._exchange.body_remaining if self._read_started else 0

    @property
    def read_length(self) -> int:
        """Request body bytes received so far."""
        return self._exchange.body_read

    @property
    def read_body(self) -> int:
        """REQUEST_CHUNKED_ERROR once the body is being read, else 0."""
        return apache.REQUEST_CHUNKED_ERROR if self._read_started else 0

    @property
    def expecting_100(self) -> int:
        """1 when the client sent Expect: 100-continue (HTTP/1.1)."""
        e = self._headers_in.get("Expect")
        return 1 if e and e.lower() == "100-continue" and self._proto_num >= 1001 else 0

    @property
    def range(self) -> Optional[str]:
        """The Range header."""
        return self._headers_in.get("Range")

    @property
    def parsed_uri(self) -> Tuple[Any, ...]:
        """(scheme, hostinfo, user, password, hostname, port, path, query,
        fragment), indexed with apache.URI_*."""
        raw = self._unparsed_uri or ""
        scheme = hostinfo = user = password = hostname = fragment = None
        rest = raw
        if raw[:1] not in ("/", "*", "") and "://" in raw:
            scheme, _, rest = raw.partition("://")
            hostinfo, slash, rest = rest.partition("/")
            rest = slash + rest
            hostname = hostinfo.rsplit("@", 1)[-1].rsplit(":", 1)[0]
        path, q, query = rest.partition("?")
        if "#" in (query if q else path):
            if q:
                query, _, fragment = query.partition("#")
            else:
                path, _, fragment = path.partition("#")
        if path and not scheme:
            # httpd decodes and normalises parsed_uri.path in place; r->uri
            # is that same string until a handler assigns req.uri.
            uri = self._meta.get("uri")
            if uri is not None:
                path = _apache._from_c(_apache._from_wire(uri))
        return (scheme, hostinfo, user, password, hostname, self._host_port(), path or None,
                query if q else None, fragment)

    @property
    def useragent_ip(self) -> Optional[str]:
        """The client's address."""
        return self._remote_ip

    @property
    def useragent_addr(self) -> Tuple[Optional[str], int]:
        """(client address, port)."""
        return (self._remote_ip, self._remote_port)

    @property
    def _bytes_queued(self) -> int:
        """Bytes given to write() and sendfile()."""
        return self._queued

    @property
    def _content_type_set(self) -> int:
        """1 once a handler set content_type."""
        return self._ctype_set

    @property
    def phase(self) -> Optional[str]:
        """The phase being run, e.g. "PythonHandler"."""
        return self._phase

    @property
    def hlist(self) -> Optional[mp_hlist]:
        """The handler list being run."""
        return self._hlist

    @property
    def extension(self) -> Optional[str]:
        """The "| .ext" that selected the handler list (mod_python.md §2.3)."""
        return self._extension

    the_request = _ro("the_request")
    method = _ro("method")
    method_number = _ro("method_number")
    protocol = _ro("protocol")
    proto_num = _ro("proto_num")
    hostname = _ro("hostname")
    header_only = _ro("header_only")
    unparsed_uri = _ro("unparsed_uri")
    clength = _ro("clength")
    content_encoding = property(lambda self: None)
    content_languages = property(lambda self: ())
    allowed_xmethods = property(lambda self: ())
    vlist_validator = property(lambda self: None)
    read_chunked = property(lambda self: 0)
    eos_sent = property(lambda self: 0)
    next = property(lambda self: self._next, doc="the request internal_redirect() ran, or None")
    prev = property(lambda self: self._prev, doc="the request that internal_redirect()ed to this one, or None")
    main = property(lambda self: None)


mp_request.__module__ = "builtins"


class _ReadOnly(property):
    """A read-only request attribute that refuses assignment and deletion
    with CPython's message for a C getset without setter, or for a READONLY
    member."""

    def __init__(self, prop: property, message: str) -> None:
        super().__init__(prop.fget, None, None, prop.__doc__)
        self._message = message

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(self._message)

    def __delete__(self, obj: Any) -> None:
        raise AttributeError(self._message)


for _name in _REQUEST_READONLY | _REQUEST_READONLY_MEMBERS:
    _prop = mp_request.__dict__.get(_name)
    if isinstance(_prop, property):
        _msg = ("readonly attribute" if _name in _REQUEST_READONLY_MEMBERS
                else "attribute '%s' of 'mp_request' objects is not writable" % _name)
        setattr(mp_request, _name, _ReadOnly(_prop, _msg))
del _name, _prop, _msg


def _reverse_lookup(ip: Optional[str]) -> str:
    """apr_getnameinfo for the client's address: its host name in lower
    case, or "" when it has none."""
    if not ip:
        return ""
    try:
        name = socket.getnameinfo((ip, 0), socket.NI_NAMEREQD)[0]
    except (OSError, UnicodeError):
        return ""
    return name.lower()


def _double_reverse(name: Optional[str], ip: Optional[str]) -> int:
    """httpd's do_double_reverse: 1 when name resolves back to ip, else -1."""
    if not name or not ip:
        return -1
    try:
        infos = socket.getaddrinfo(name, None)
    except (OSError, UnicodeError):
        return -1
    for info in infos:
        if info[4][0] == ip:
            return 1
    return -1


def _int_or(s: Optional[str], default: int) -> int:
    """Returns int(s), or default when s is empty or not a number."""
    try:
        return int(s) if s else default
    except ValueError:
        return default


def _proto_num(protocol: str) -> int:
    """Returns httpd's proto_num for a protocol string: HTTP/1.1 -> 1001."""
    if protocol.startswith("HTTP/"):
        major, _, minor = protocol[5:].partition(".")
        if major.isdigit() and minor.isdigit():
            return int(major) * 1000 + int(minor)
    return 1000


def _atoi(s: str) -> int:
    """C's atoi: optional white space and sign, then the leading digits (0
    when there are none)."""
    i, n = 0, len(s)
    while i < n and s[i] in _C_WHITE:
        i += 1
    sign = 1
    if i < n and s[i] in "+-":
        sign = -1 if s[i] == "-" else 1
        i += 1
    j = i
    while j < n and "0" <= s[j] <= "9":
        j += 1
    return sign * int(s[i:j]) if j > i else 0


_C_WHITE = " \t\n\v\f\r"


def _reason(status: int, status_line: Optional[str]) -> str:
    """Returns the reason phrase of status_line when httpd would use it
    (its code must equal status: validate_status_line), else ""."""
    if status_line is None:
        return ""
    s = _apache._from_c(status_line) if not isinstance(status_line, str) else status_line
    if len(s) < 3 or not s[:3].isdigit() or int(s[:3]) != status:
        return ""
    if len(s) >= 4 and not s[3].isspace():
        return ""
    return s[4:]


def _parse_http_date(s: Optional[str]) -> Optional[float]:
    """Parses an HTTP date into seconds since the epoch, or None."""
    if not s:
        return None
    import email.utils
    try:
        t = email.utils.parsedate_tz(s)
        return None if t is None else float(email.utils.mktime_tz(t))
    except (TypeError, ValueError, OverflowError):
        return None


def _stat_filename(filename: Optional[str]) -> _apache.mp_finfo:
    """Returns req.finfo for filename: an mp_finfo with APR_NOFILE if missing."""
    if not filename:
        return _apache.mp_finfo(None, None)
    try:
        st = os.stat(filename)
    except OSError:
        return _apache.mp_finfo(filename, None)
    return _apache.mp_finfo(filename, st)
