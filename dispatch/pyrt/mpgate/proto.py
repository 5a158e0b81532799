"""Frames and payload primitives of the worker wire, seen from the Python worker.

This module mirrors dispatch/proto.go function for function (Go name -> Python
name: AppendFrame -> append_frame, ParseRequest -> parse_request, ...); both are
tested against the golden frames in dispatch/testdata/proto/*.hex. It holds
only encoding, decoding and limits: the worker loop (mpgate.worker) owns the
socket.

Transport
---------
The worker is a child process of the daemon. The protocol runs over a unix
stream socketpair handed to the worker as file descriptor 3. The worker's
stdout and stderr are a pipe to the daemon, logged line by line; a handler's
output to sys.stdout/sys.stderr during a request is sent as LOG frames instead,
so that it reaches Apache's error log for that request.

Frame
-----
::

    | magic "MG" (2) | version (1) | type (1) | request id (4) | payload length (4) | payload ... |

All integers are big-endian. The payload is at most MAX_PAYLOAD bytes; a
longer one is a protocol error and the worker is killed. Request id 0 means
"not about a request" (HELLO, worker-level LOG, CONTROL, SHUTDOWN).

Payload primitives::

    u32   4 bytes, unsigned
    i32   4 bytes, two's complement (mod_python results: OK 0, DECLINED -1, DONE -2, or an HTTP status)
    str   u32 length + bytes (no terminator, any bytes)
    kv    u32 count + count x (str key, str value); order and duplicates are kept

Message flow (one request; the worker serves one request at a time)
-------------------------------------------------------------------
::

    worker                               daemon
    HELLO(kv)                  ───────►                       once, at start
                               ◄───────  REQUEST(id, ...)
    READ(id, max)              ───────►                       req.read() needs body
                               ◄───────  BODY(id, bytes)      1..max bytes; empty = end of body
    CALL(id, method, kv)       ───────►                       e.g. session lock (later issues)
                               ◄───────  REPLY(id, ok, kv)
    LOG(id, level, line)       ───────►                       any time
    HEADERS(id, status, kv)    ───────►                       first write/flush, or at the end
    WRITE(id, bytes)           ───────►                       body bytes, any number
    FLUSH(id)                  ───────►                       push what was written to Apache
    END(id, result, kv, kv)    ───────►                       worker is free again
                               ◄───────  CONTROL(0, cmd, kv)  between requests only
                               ◄───────  SHUTDOWN(0)          finish, run cleanups, exit 0

Body back-pressure is pull-based: the daemon sends a BODY frame only in answer
to a READ, so at most one chunk per request is ever in flight.

Types and payloads
------------------
::

    HELLO    (w→d) kv: protocol (decimal PROTOCOL_VERSION), pid, python (version), interpreter
    REQUEST  (d→w) u32 config id | str config JSON ("" when this worker already has that id) | kv params (the FastCGI params, in Apache's order) | kv meta (values the daemon computed)
    BODY     (d→w) raw body bytes; an empty payload means end of body
    READ     (w→d) u32 maximum number of bytes wanted (> 0)
    HEADERS  (w→d) u32 status | str reason ("" = standard phrase) | kv headers, in order, duplicates kept (Content-Type included)
    WRITE    (w→d) raw body bytes
    FLUSH    (w→d) empty
    LOG      (w→d) u32 level (apache.APLOG_*) | str message (one line, no trailing newline)
    END      (w→d) i32 result | kv info | kv headers (see below)
    CALL     (w→d) str method | kv arguments
    REPLY    (d→w) u32 status (0 ok, else error) | kv results (on error: "error" → message)
    CONTROL  (d→w) str command | kv arguments
    SHUTDOWN (d→w) empty

END's result tells the daemon what is left to do (mod_python.md §2.5)::

    OK (0), DONE (-2)    the response is complete; HEADERS was already sent
    DECLINED (-1)        content handler declined: if no HEADERS was sent, the
                         daemon serves info["filename"] as Apache's default handler would
    100..599             an HTTP error: if no HEADERS was sent, the daemon sends this
                         status with END's headers (err_headers_out, Allow, ...) and
                         Apache's error document; otherwise it appends the error text
    anything else        treated as 500

Python representation: a Go ``string`` (str primitive, kv keys and values) is a
Python ``str`` decoded from UTF-8 with the ``surrogateescape`` error handler, so
that any bytes survive decode -> encode unchanged; encoders also accept
``bytes``. Raw payloads (BODY, WRITE) and REQUEST's config JSON are ``bytes``.
"""

import struct
from typing import BinaryIO, List, NamedTuple, Optional, Tuple, Union

# PROTOCOL_VERSION is carried in every frame header and in HELLO; it is bumped
# on any incompatible change of proto.go (and of this file).
PROTOCOL_VERSION = 1

# MAX_PAYLOAD bounds one frame's payload. Body chunks are far smaller; the
# bound exists for REQUEST frames with large configurations.
MAX_PAYLOAD = 16 << 20

FRAME_HEADER_LEN = 12

# Frame types. Numbers are part of the wire format.
FRAME_HELLO = 1
FRAME_REQUEST = 2
FRAME_BODY = 3
FRAME_READ = 4
FRAME_HEADERS = 5
FRAME_WRITE = 6
FRAME_FLUSH = 7
FRAME_LOG = 8
FRAME_END = 9
FRAME_CALL = 10
FRAME_REPLY = 11
FRAME_CONTROL = 12
FRAME_SHUTDOWN = 13

FRAME_NAMES = {
    FRAME_HELLO: "HELLO", FRAME_REQUEST: "REQUEST", FRAME_BODY: "BODY", FRAME_READ: "READ",
    FRAME_HEADERS: "HEADERS", FRAME_WRITE: "WRITE", FRAME_FLUSH: "FLUSH", FRAME_LOG: "LOG",
    FRAME_END: "END", FRAME_CALL: "CALL", FRAME_REPLY: "REPLY", FRAME_CONTROL: "CONTROL",
    FRAME_SHUTDOWN: "SHUTDOWN",
}

# mod_python result codes carried by END (apache.OK, DECLINED, DONE).
RESULT_OK = 0
RESULT_DECLINED = -1
RESULT_DONE = -2

_MAGIC = b"MG"
_HEADER = struct.Struct(">2sBBII")
_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")

KV = Tuple[str, str]
StrLike = Union[str, bytes]


def frame_type_name(t: int) -> str:
    """Returns the protocol's name of frame type t (Go: FrameType.String)."""
    name = FRAME_NAMES.get(t)
    if name:
        return name
    return "FrameType(%d)" % t


class Frame(NamedTuple):
    """One decoded frame. payload is a bytes object owned by the caller."""

    type: int
    id: int
    payload: bytes


class ProtoError(Exception):
    """Reports a malformed frame or payload from the daemon or a worker.

    type is the frame type the problem was found in, or 0 when it was found
    before the type was known.
    """

    def __init__(self, err: str, type: int = 0) -> None:
        super().__init__(err, type)
        self.type = type
        self.err = err

    def __str__(self) -> str:
        if self.type == 0:
            return "worker protocol: " + self.err
        return "worker protocol: %s: %s" % (frame_type_name(self.type), self.err)


# SHORT_PAYLOAD is part of the message of decoding errors when a payload ends
# early (Go: ErrShortPayload).
SHORT_PAYLOAD = "payload ends early"


def _as_bytes(s: StrLike) -> bytes:
    """Returns the wire bytes of a str primitive."""
    if isinstance(s, str):
        try:
            return s.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            # a surrogate that no decode produced (e.g. "\ud800")
            return s.encode("utf-8", "backslashreplace")
    return bytes(s)


def _as_str(b: bytes) -> str:
    """Returns the str of wire bytes (UTF-8, surrogateescape)."""
    return b.decode("utf-8", "surrogateescape")


def append_frame(b: bytearray, t: int, id: int, payload: bytes) -> bytearray:
    """Appends a frame header and payload to b and returns b."""
    _append_frame_header(b, t, id, len(payload))
    b += payload
    return b


def _append_frame_header(b: bytearray, t: int, id: int, n: int) -> bytearray:
    """Appends a frame header for a payload of n bytes."""
    b += _HEADER.pack(_MAGIC, PROTOCOL_VERSION, t, id, n)
    return b


def _read_full(r: BinaryIO, n: int) -> bytes:
    """Reads exactly n bytes unless the stream ends first (then fewer)."""
    data = r.read(n)
    if data is None:
        data = b""
    if len(data) == n:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        more = r.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class FrameReader:
    """Reads frames from a binary stream (a buffered socket file).

    read_frame raises EOFError when the stream ends cleanly between frames
    (Go: io.EOF) and ProtoError for a malformed or truncated frame.
    """

    def __init__(self, r: BinaryIO) -> None:
        self._r = r

    def read_frame(self) -> Frame:
        """Reads the next frame. The header is checked (magic, version,
        type, length) before the payload is read."""
        h = _read_full(self._r, FRAME_HEADER_LEN)
        if not h:
            raise EOFError("worker protocol: end of stream")
        if len(h) < FRAME_HEADER_LEN:
            raise ProtoError("truncated frame header")
        magic, version, t, id, n = _HEADER.unpack(h)
        if magic != _MAGIC:
            raise ProtoError("bad magic %r" % magic)
        if version != PROTOCOL_VERSION:
            raise ProtoError("version %d, want %d" % (version, PROTOCOL_VERSION))
        if t < FRAME_HELLO or t > FRAME_SHUTDOWN:
            raise ProtoError("unknown frame type %d" % t)
        if n > MAX_PAYLOAD:
            raise ProtoError("payload of %d bytes exceeds %d" % (n, MAX_PAYLOAD), t)
        payload = _read_full(self._r, n) if n else b""
        if len(payload) < n:
            raise ProtoError("truncated payload", t)
        return Frame(t, id, payload)


def _append_str(b: bytearray, s: StrLike) -> bytearray:
    """Appends a str primitive."""
    data = _as_bytes(s)
    b += _U32.pack(len(data))
    b += data
    return b


def _append_bytes(b: bytearray, s: bytes) -> bytearray:
    """Appends a str primitive holding raw bytes."""
    b += _U32.pack(len(s))
    b += s
    return b


def _append_kv(b: bytearray, kvs: List[Tuple[StrLike, StrLike]]) -> bytearray:
    """Appends a kv primitive."""
    b += _U32.pack(len(kvs))
    for k, v in kvs:
        _append_str(b, k)
        _append_str(b, v)
    return b


class _PayloadReader:
    """Decodes primitives from a payload with a sticky error."""

    __slots__ = ("t", "b", "pos", "err")

    def __init__(self, t: int, b: bytes) -> None:
        self.t = t
        self.b = b
        self.pos = 0
        self.err = None  # type: Optional[ProtoError]

    def fail(self, what: str) -> None:
        if self.err is None:
            self.err = ProtoError(what + ": " + SHORT_PAYLOAD, self.t)

    def u32(self, what: str) -> int:
        if self.err is not None:
            return 0
        if len(self.b) - self.pos < 4:
            self.fail(what)
            return 0
        (v,) = _U32.unpack_from(self.b, self.pos)
        self.pos += 4
        return v

    def bytes_(self, what: str) -> bytes:
        n = self.u32(what)
        if self.err is not None:
            return b""
        if n > len(self.b) - self.pos:
            self.fail(what)
            return b""
        s = self.b[self.pos:self.pos + n]
        self.pos += n
        return bytes(s)

    def str_(self, what: str) -> str:
        return _as_str(self.bytes_(what))

    def kv(self, what: str) -> List[KV]:
        n = self.u32(what)
        if self.err is not None:
            return []
        b = self.b
        pos = self.pos
        end = len(b)
        # Each pair needs at least 8 bytes: refuse counts the payload cannot
        # hold before allocating for them.
        if n * 8 > end - pos:
            self.fail(what)
            return []
        unpack = _U32.unpack_from
        kvs = []
        for _ in range(n):
            if end - pos < 4:
                break
            (kl,) = unpack(b, pos)
            pos += 4
            if kl > end - pos:
                break
            k = str(b[pos:pos + kl], "utf-8", "surrogateescape")
            pos += kl
            if end - pos < 4:
                break
            (vl,) = unpack(b, pos)
            pos += 4
            if vl > end - pos:
                break
            kvs.append((k, str(b[pos:pos + vl], "utf-8", "surrogateescape")))
            pos += vl
        else:
            self.pos = pos
            return kvs
        self.fail(what)
        return []

    def done(self) -> None:
        """Raises the sticky error, or a ProtoError for trailing bytes."""
        if self.err is None and self.pos != len(self.b):
            self.err = ProtoError("%d trailing bytes" % (len(self.b) - self.pos), self.t)
        if self.err is not None:
            raise self.err


def get(kvs: List[KV], key: str) -> str:
    """Returns the value of the first pair named key in kvs, or ""."""
    for k, v in kvs:
        if k == key:
            return v
    return ""


def append_hello(b: bytearray, fields: List[KV]) -> bytearray:
    """Encodes a HELLO payload."""
    return _append_kv(b, fields)


def parse_hello(payload: bytes) -> List[KV]:
    """Decodes a HELLO payload."""
    p = _PayloadReader(FRAME_HELLO, payload)
    kvs = p.kv("fields")
    p.done()
    return kvs


class RequestFrame(NamedTuple):
    """The REQUEST payload. config_json is b"" when the worker already has
    config_id."""

    config_id: int
    config_json: bytes
    params: List[KV]
    meta: List[KV]


def append_request(b: bytearray, r: RequestFrame) -> bytearray:
    """Encodes a REQUEST payload."""
    b += _U32.pack(r.config_id)
    _append_bytes(b, r.config_json)
    _append_kv(b, r.params)
    return _append_kv(b, r.meta)


def parse_request(payload: bytes) -> RequestFrame:
    """Decodes a REQUEST payload."""
    p = _PayloadReader(FRAME_REQUEST, payload)
    config_id = p.u32("config id")
    config_json = p.bytes_("config")
    params = p.kv("params")
    meta = p.kv("meta")
    p.done()
    return RequestFrame(config_id, config_json, params, meta)


def parse_read(payload: bytes) -> int:
    """Decodes a READ payload: the number of bytes wanted."""
    p = _PayloadReader(FRAME_READ, payload)
    n = p.u32("max")
    p.done()
    if n == 0:
        raise ProtoError("zero bytes wanted", FRAME_READ)
    return n


def append_read(b: bytearray, n: int) -> bytearray:
    """Encodes a READ payload."""
    b += _U32.pack(n)
    return b


class HeadersFrame(NamedTuple):
    """The HEADERS payload: the response head."""

    status: int
    reason: str
    headers: List[KV]


def append_headers(b: bytearray, h: HeadersFrame) -> bytearray:
    """Encodes a HEADERS payload."""
    b += _U32.pack(h.status & 0xFFFFFFFF)
    _append_str(b, h.reason)
    return _append_kv(b, h.headers)


def parse_headers(payload: bytes) -> HeadersFrame:
    """Decodes a HEADERS payload."""
    p = _PayloadReader(FRAME_HEADERS, payload)
    status = p.u32("status")
    reason = p.str_("reason")
    headers = p.kv("headers")
    p.done()
    if status < 100 or status > 999:
        raise ProtoError("status %d out of range" % status, FRAME_HEADERS)
    return HeadersFrame(status, reason, headers)


class LogFrame(NamedTuple):
    """The LOG payload."""

    level: int
    message: str


def append_log(b: bytearray, level: int, msg: StrLike) -> bytearray:
    """Encodes a LOG payload."""
    b += _U32.pack(level & 0xFFFFFFFF)
    return _append_str(b, msg)


def parse_log(payload: bytes) -> LogFrame:
    """Decodes a LOG payload."""
    p = _PayloadReader(FRAME_LOG, payload)
    level = p.u32("level")
    message = p.str_("message")
    p.done()
    return LogFrame(level, message)


class EndFrame(NamedTuple):
    """The END payload.

    result is the mod_python result (see the module docstring); info carries
    "filename" for DECLINED and "error" with a one-line cause when the worker
    failed the request itself; headers are, for an HTTP error result when no
    HEADERS was sent, err_headers_out and friends.
    """

    result: int
    info: List[KV]
    headers: List[KV]


def append_end(b: bytearray, e: EndFrame) -> bytearray:
    """Encodes an END payload."""
    b += _U32.pack(e.result & 0xFFFFFFFF)
    _append_kv(b, e.info)
    return _append_kv(b, e.headers)


def parse_end(payload: bytes) -> EndFrame:
    """Decodes an END payload."""
    p = _PayloadReader(FRAME_END, payload)
    result = p.u32("result")
    info = p.kv("info")
    headers = p.kv("headers")
    p.done()
    (result,) = _I32.unpack(_U32.pack(result))
    return EndFrame(result, info, headers)


class CallFrame(NamedTuple):
    """The CALL payload (the worker asks the daemon)."""

    method: str
    args: List[KV]


def append_call(b: bytearray, c: CallFrame) -> bytearray:
    """Encodes a CALL payload."""
    _append_str(b, c.method)
    return _append_kv(b, c.args)


def parse_call(payload: bytes) -> CallFrame:
    """Decodes a CALL payload."""
    p = _PayloadReader(FRAME_CALL, payload)
    method = p.str_("method")
    args = p.kv("args")
    p.done()
    return CallFrame(method, args)


class ReplyFrame(NamedTuple):
    """The REPLY payload; status 0 is ok."""

    status: int
    results: List[KV]


def append_reply(b: bytearray, r: ReplyFrame) -> bytearray:
    """Encodes a REPLY payload."""
    b += _U32.pack(r.status)
    return _append_kv(b, r.results)


def parse_reply(payload: bytes) -> ReplyFrame:
    """Decodes a REPLY payload."""
    p = _PayloadReader(FRAME_REPLY, payload)
    status = p.u32("status")
    results = p.kv("results")
    p.done()
    return ReplyFrame(status, results)


class ControlFrame(NamedTuple):
    """The CONTROL payload."""

    command: str
    args: List[KV]


def append_control(b: bytearray, c: ControlFrame) -> bytearray:
    """Encodes a CONTROL payload."""
    _append_str(b, c.command)
    return _append_kv(b, c.args)


def parse_control(payload: bytes) -> ControlFrame:
    """Decodes a CONTROL payload."""
    p = _PayloadReader(FRAME_CONTROL, payload)
    command = p.str_("command")
    args = p.kv("args")
    p.done()
    return ControlFrame(command, args)
