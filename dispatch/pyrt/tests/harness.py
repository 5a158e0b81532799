"""Test harness that plays the daemon: it starts the real worker
(``/usr/bin/python3 -s bootstrap.py``) with a socketpair as fd 3 and speaks
the worker wire to it with mpgate.proto; SessionStore answers the worker's
session.* CALLs as the daemon's session store does."""

import json
import os
import re
import shutil
import tempfile
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

PYRT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if PYRT_DIR not in sys.path:
    sys.path.insert(0, PYRT_DIR)

from mpgate import proto  # noqa: E402

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
BOOTSTRAP = os.path.join(PYRT_DIR, "bootstrap.py")

# Seconds a test waits for the worker before failing (a bound, never a way
# to synchronise).
TIMEOUT = 10.0


def config(handlers: Optional[Dict[str, List[Dict[str, Any]]]] = None,
           directives: Optional[List[List[str]]] = None,
           options: Optional[List[List[str]]] = None,
           handler: Optional[str] = "mod_python",
           **extra: Any) -> Dict[str, Any]:
    """Returns a config JSON object as the daemon sends it."""
    server = {
        "server_hostname": "www.example.com", "server_admin": "webmaster@example.com",
        "defn_name": "/etc/apache2/sites-enabled/example.conf", "defn_line_number": 3,
        "is_virtual": 1, "names": [], "wild_names": [], "port": 0, "timeout": 300.0,
        "keep_alive_timeout": 5.0, "keep_alive_max": 100, "keep_alive": 1,
        "error_fname": "/var/log/apache2/error.log", "loglevel": 4,
        "limit_req_line": 8190, "limit_req_fieldsize": 8190, "limit_req_fields": 100,
        "path": "", "directives": [["PythonDebug", "0"]], "options": [["srv", "1"], ["empty", ""]],
    }
    c = {
        "handlers": handlers or {},
        "directives": directives or [],
        "options": options or [],
        "handler": handler,
        "addhandler_exts": "",
        "pythonpath": None,
        "debug": False,
        "autoreload": True,
        "is_location": False,
        "config_dir": None,
        "auth_type": None,
        "auth_name": None,
        "server": server,
        "main_server": dict(server, server_hostname="main.example.com", is_virtual=0,
                            defn_name=None, defn_line_number=0),
    }
    c.update(extra)
    return c


def meta(uri: str = "/hello", filename: Optional[str] = None, **extra: str) -> List[Tuple[str, str]]:
    """Returns REQUEST meta pairs for a GET of uri."""
    m = {
        "uri": uri,
        "unparsed_uri": uri,
        "hostname": "www.example.com",
        "the_request": "GET %s HTTP/1.1" % uri,
        "method": "GET",
        "protocol": "HTTP/1.1",
        "request_time": "%.6f" % time.time(),
        "interpreter": "www.example.com",
        "transport": "proxy",
        "role": "RESPONDER",
        "document_root": "/srv/www",
        "server_port": "80",
        "local_ip": "127.0.0.1",
        "local_port": "80",
        "remote_ip": "192.0.2.7",
        "remote_port": "54321",
        "request_id": "t-1",
        "path_info": "",
    }
    if filename is not None:
        m["filename"] = filename
        m["canonical_filename"] = filename
    m.update(extra)
    return [(k, v) for k, v in m.items() if v is not None]


def params(headers: Optional[List[Tuple[str, str]]] = None, **extra: str) -> List[Tuple[str, str]]:
    """Returns FastCGI params as Apache orders them: HTTP_* first."""
    p = [("HTTP_HOST", "www.example.com"), ("HTTP_USER_AGENT", "harness/1")]
    for k, v in headers or []:
        p.append((k, v))
    p += [("PATH", "/usr/bin:/bin"), ("SERVER_SOFTWARE", "Apache/2.4.71 (Debian)"),
          ("SERVER_NAME", "www.example.com"), ("SERVER_ADDR", "127.0.0.1"), ("SERVER_PORT", "80"),
          ("REMOTE_ADDR", "192.0.2.7"), ("DOCUMENT_ROOT", "/srv/www"), ("REQUEST_SCHEME", "http"),
          ("SERVER_ADMIN", "webmaster@example.com"), ("SCRIPT_FILENAME", "proxy:fcgi://localhost/"),
          ("REMOTE_PORT", "54321"), ("GATEWAY_INTERFACE", "CGI/1.1"), ("SERVER_PROTOCOL", "HTTP/1.1"),
          ("REQUEST_METHOD", "GET"), ("QUERY_STRING", ""), ("REQUEST_URI", "/hello"),
          ("SCRIPT_NAME", "/hello"), ("UNIQUE_ID", "abc123")]
    for k, v in extra.items():
        p.append((k, v))
    return p


class SessionStore:
    """The daemon's session store as the worker sees it, in memory: answers
    the session.* CALLs (lock, unlock, load, save, delete, cleanup; the
    daemon's are in Go, session/ and dispatch/) with the same semantics --
    records expire at accessed + timeout, ids must be
    32 lowercase hex digits, a lock is owned by a request, re-entrant for
    it (one unlock releases), waited for while another request holds it, up
    to lock_wait seconds (then an error REPLY), and released when its
    request ends. Safe for use by several WorkerProcess threads.

    Besides, test.wait {name} blocks the calling request until
    signal(name), so that a test can hold a request in the middle of its
    handler; calls records every CALL as (owner, method, args)."""

    def __init__(self, lock_wait: float = TIMEOUT, now: Callable[[], float] = time.time) -> None:
        self.lock_wait = lock_wait
        self.now = now
        self.records = {}  # type: Dict[str, Dict[str, Any]]  # id -> data, created, accessed, timeout
        self.locks = {}  # type: Dict[str, Any]  # id -> owner
        self.waiting = {}  # type: Dict[str, int]  # id -> requests waiting for its lock
        self.signals = set()  # type: set
        self.calls = []  # type: List[Tuple[Any, str, Dict[str, str]]]
        self.cond = threading.Condition()  # guards every field above

    def call(self, owner: Any, method: str, args: Dict[str, str]) -> Tuple[int, List[Tuple[str, str]]]:
        """Answers one CALL of owner (a request); returns (REPLY status,
        results)."""
        with self.cond:
            self.calls.append((owner, method, dict(args)))
            self.cond.notify_all()
            try:
                return 0, self._call(owner, method, args)
            except _CallFailed as e:
                return 1, [("error", str(e))]

    def _call(self, owner: Any, method: str, args: Dict[str, str]) -> List[Tuple[str, str]]:
        if method == "test.wait":
            name = args["name"]
            if not self.cond.wait_for(lambda: name in self.signals, TIMEOUT):
                raise _CallFailed("test.wait %s: not signalled within %gs" % (name, TIMEOUT))
            return []
        if method == "session.cleanup":
            now = self.now()
            old = [sid for sid, r in self.records.items() if r["accessed"] + r["timeout"] < now]
            for sid in old:
                del self.records[sid]
            return [("purged", str(len(old)))]
        if not method.startswith("session."):
            raise _CallFailed("unknown method %s" % method)
        sid = args.get("id", "")
        if not _SID.match(sid):
            raise _CallFailed("%s: malformed session id %r" % (method, sid))
        if method == "session.lock" or (method == "session.load" and args.get("lock") == "1"):
            self.waiting[sid] = self.waiting.get(sid, 0) + 1
            self.cond.notify_all()
            try:
                ok = self.cond.wait_for(lambda: self.locks.get(sid, owner) == owner, self.lock_wait)
            finally:
                self.waiting[sid] -= 1
            if not ok:
                raise _CallFailed("session %s: lock not acquired within %gs" % (sid, self.lock_wait))
            self.locks[sid] = owner
            if method == "session.lock":
                return []
        if method == "session.unlock":
            if self.locks.get(sid) == owner:
                del self.locks[sid]
                self.cond.notify_all()
            return []
        if method == "session.load":
            r = self.records.get(sid)
            if r is None or r["accessed"] + r["timeout"] < self.now():
                return [("found", "0")]
            return [("found", "1"), ("data", r["data"]), ("created", repr(r["created"])),
                    ("accessed", repr(r["accessed"])), ("timeout", str(r["timeout"]))]
        if method == "session.save":
            try:
                rec = {"data": args["data"], "created": float(args["created"]),
                       "accessed": float(args["accessed"]), "timeout": int(args["timeout"])}
            except (KeyError, ValueError) as e:
                raise _CallFailed("session.save: %s" % e)
            self.records[sid] = rec
            return []
        if method == "session.delete":
            self.records.pop(sid, None)
            return []
        raise _CallFailed("unknown method %s" % method)

    def release(self, owner: Any) -> None:
        """Releases every lock owner holds: its request has ended."""
        with self.cond:
            for sid in [k for k, v in self.locks.items() if v == owner]:
                del self.locks[sid]
            self.cond.notify_all()

    def signal(self, name: str) -> None:
        """Lets the requests waiting in test.wait name go on."""
        with self.cond:
            self.signals.add(name)
            self.cond.notify_all()

    def wait_for_waiter(self, sid: str) -> None:
        """Returns once a request waits for the lock of sid."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.waiting.get(sid, 0) > 0, TIMEOUT):
                raise AssertionError("no request waits for the lock of %s" % sid)

    def wait_for_lock(self, sid: str) -> None:
        """Returns once a request holds the lock of sid."""
        with self.cond:
            if not self.cond.wait_for(lambda: sid in self.locks, TIMEOUT):
                raise AssertionError("no request holds the lock of %s" % sid)

    def wait_for_call(self, method: str, after: int = 0) -> None:
        """Returns once a CALL of method has come, after the first after
        calls."""
        with self.cond:
            if not self.cond.wait_for(lambda: any(m == method for _, m, _ in self.calls[after:]), TIMEOUT):
                raise AssertionError("no CALL %s" % method)

    def put(self, sid: str, data: bytes, created: float, accessed: float, timeout: int) -> None:
        """Stores a record as session.save would (data: the pickle)."""
        with self.cond:
            self.records[sid] = {"data": data.decode("utf-8", "surrogateescape"), "created": created,
                                 "accessed": accessed, "timeout": timeout}

    def data(self, sid: str) -> bytes:
        """Returns the stored pickle of sid."""
        with self.cond:
            return self.records[sid]["data"].encode("utf-8", "surrogateescape")

    def methods(self, sid: Optional[str] = None) -> List[str]:
        """Returns the methods called so far, only those about sid when
        given; a load that also takes the lock is "session.load(lock)"."""
        with self.cond:
            return [m + "(lock)" if a.get("lock") == "1" else m
                    for _, m, a in self.calls if sid is None or a.get("id") == sid]


class _CallFailed(Exception):
    """A CALL is answered with an error REPLY."""


_SID = re.compile(r"^[0-9a-f]{32}\Z")


class Response:
    """Everything a worker sent for one request."""

    def __init__(self) -> None:
        self.frames = []  # type: List[proto.Frame]
        self.status = None  # type: Optional[int]
        self.reason = None  # type: Optional[str]
        self.headers = []  # type: List[Tuple[str, str]]
        self.body = b""
        self.logs = []  # type: List[Tuple[int, str]]
        self.worker_logs = []  # type: List[Tuple[int, str]]
        self.reads = []  # type: List[int]
        self.flushes = 0
        self.end = None  # type: Optional[proto.EndFrame]

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def log_text(self) -> str:
        return "\n".join(m for _, m in self.logs)

    def modules(self) -> List[Dict[str, Any]]:
        """Returns END's ("module", JSON) info entries, decoded."""
        assert self.end is not None
        return [json.loads(v) for k, v in self.end.info if k == "module"]


class WorkerProcess:
    """A running worker and the daemon's end of its socket."""

    def __init__(self, env: Optional[Dict[str, str]] = None, cwd: str = "/",
                 store: Optional[SessionStore] = None) -> None:
        # store answers the worker's CALLs (none: every CALL fails).
        self.store = store
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock = parent
        fd = child.fileno()
        e = {"MPGATE_INTERPRETER": "www.example.com", "MPGATE_WORKER_ID": "w1",
             "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        e.update(env or {})

        def to_fd3() -> None:
            os.dup2(fd, 3)

        self.proc = subprocess.Popen([PYTHON, "-s", BOOTSTRAP], cwd=cwd, env=e, pass_fds=(3, fd),
                                     preexec_fn=to_fd3, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        child.close()
        self.sock.settimeout(TIMEOUT)
        self.reader = proto.FrameReader(self.sock.makefile("rb"))
        self.sent_configs = set()  # type: set
        hello = self.read()
        assert hello.type == proto.FRAME_HELLO, hello
        self.hello = dict(proto.parse_hello(hello.payload))

    def read(self) -> proto.Frame:
        return self.reader.read_frame()

    def send(self, t: int, id: int, payload: bytes) -> None:
        self.sock.sendall(bytes(proto.append_frame(bytearray(), t, id, payload)))

    def request(self, id: int, conf: Dict[str, Any], conf_id: int = 1,
                params_: Optional[List[Tuple[str, str]]] = None,
                meta_: Optional[List[Tuple[str, str]]] = None,
                body: bytes = b"", body_chunk: Optional[int] = None,
                resend_config: bool = False, body_eof_early: bool = False) -> Response:
        """Sends a REQUEST and serves READs from body until END."""
        raw = b""
        if conf_id not in self.sent_configs or resend_config:
            raw = json.dumps(conf).encode("utf-8")
            self.sent_configs.add(conf_id)
        p = params_ if params_ is not None else params()
        if body and not any(k == "CONTENT_LENGTH" for k, _ in p):
            p = p + [("CONTENT_LENGTH", str(len(body)))]
        r = proto.RequestFrame(conf_id, raw, p, meta_ if meta_ is not None else meta())
        self.send(proto.FRAME_REQUEST, id, bytes(proto.append_request(bytearray(), r)))
        try:
            return self._serve(id, body, body_chunk, body_eof_early)
        finally:
            # The daemon releases a request's session locks when it ends.
            if self.store is not None:
                self.store.release((self, id))

    def _serve(self, id: int, body: bytes, body_chunk: Optional[int], body_eof_early: bool) -> Response:
        """Serves the frames of request id until its END."""
        resp = Response()
        pos = 0
        while True:
            f = self.read()
            resp.frames.append(f)
            if f.type == proto.FRAME_LOG:
                lf = proto.parse_log(f.payload)
                (resp.logs if f.id == id else resp.worker_logs).append((lf.level, lf.message))
                continue
            if f.id != id:
                raise AssertionError("frame %s for id %d during request %d" % (proto.frame_type_name(f.type), f.id, id))
            if f.type == proto.FRAME_HEADERS:
                h = proto.parse_headers(f.payload)
                assert resp.status is None, "second HEADERS"
                resp.status, resp.reason, resp.headers = h.status, h.reason, h.headers
            elif f.type == proto.FRAME_WRITE:
                assert resp.status is not None, "WRITE before HEADERS"
                resp.body += f.payload
            elif f.type == proto.FRAME_FLUSH:
                resp.flushes += 1
            elif f.type == proto.FRAME_READ:
                n = proto.parse_read(f.payload)
                resp.reads.append(n)
                if body_chunk:
                    n = min(n, body_chunk)
                chunk = body[pos:pos + n]
                if body_eof_early and pos + n >= len(body) - 1:
                    chunk = b""
                pos += len(chunk)
                self.send(proto.FRAME_BODY, id, chunk)
            elif f.type == proto.FRAME_CALL:
                c = proto.parse_call(f.payload)
                if self.store is None:
                    status, results = 1, [("error", "no session store in this test")]
                else:
                    status, results = self.store.call((self, id), c.method, dict(c.args))
                self.send(proto.FRAME_REPLY, id, bytes(proto.append_reply(bytearray(), proto.ReplyFrame(status, results))))
            elif f.type == proto.FRAME_END:
                resp.end = proto.parse_end(f.payload)
                return resp
            else:
                raise AssertionError("unexpected frame %s" % proto.frame_type_name(f.type))

    def invalidate(self, changed: Optional[List[str]] = None, dependent: Optional[List[str]] = None,
                   rescan: bool = False) -> None:
        """Sends CONTROL modules.invalidate, as the daemon does before the
        next REQUEST (the worker answers nothing)."""
        args = [("changed", f) for f in changed or []] + [("dependent", f) for f in dependent or []]
        if rescan:
            args.append(("rescan", "1"))
        c = proto.ControlFrame("modules.invalidate", args)
        self.send(proto.FRAME_CONTROL, 0, bytes(proto.append_control(bytearray(), c)))

    def drain_logs(self) -> List[Tuple[int, int, str]]:
        """Reads LOG frames already sent (e.g. by cleanups) until a frame
        that is not a LOG; used after sending a CONTROL that is answered by
        a LOG line."""
        out = []
        while True:
            f = self.read()
            if f.type != proto.FRAME_LOG:
                raise AssertionError("unexpected frame %s" % proto.frame_type_name(f.type))
            lf = proto.parse_log(f.payload)
            out.append((f.id, lf.level, lf.message))
            if lf.message.startswith("mpgate worker: unknown CONTROL command 'sync'"):
                return out

    def sync_logs(self) -> List[Tuple[int, int, str]]:
        """Returns the worker-level LOG lines sent since the last request,
        using an unknown CONTROL command as a marker."""
        self.send(proto.FRAME_CONTROL, 0, bytes(proto.append_control(bytearray(), proto.ControlFrame("sync", []))))
        return self.drain_logs()

    def shutdown(self) -> Tuple[int, bytes, bytes]:
        """Sends SHUTDOWN and waits for the exit code."""
        try:
            self.send(proto.FRAME_SHUTDOWN, 0, b"")
        except OSError:
            pass
        return self.wait()

    def wait(self) -> Tuple[int, bytes, bytes]:
        out, err = self.proc.communicate(timeout=TIMEOUT)
        self.sock.close()
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=TIMEOUT)
        self.sock.close()


def make_site(prefix: str, files: Dict[str, str]) -> Tuple[str, str]:
    """Creates a temporary directory holding site/ with files (relative
    path -> content); returns (the directory, the site path with a trailing
    slash, as hlist.directory has it)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    site = os.path.join(tmp, "site") + "/"
    os.makedirs(site)
    for name, text in files.items():
        path = os.path.join(site, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return tmp, site


def finish_worker(worker: "WorkerProcess", tmp: str) -> None:
    """Shuts worker down, removes tmp, and fails unless the worker exited 0."""
    code, out, err = worker.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    if code != 0:
        raise AssertionError("worker exited %d: %s" % (code, err.decode(errors="replace")))
