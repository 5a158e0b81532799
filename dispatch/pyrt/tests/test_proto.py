"""Tests of mpgate.proto: the golden frames of dispatch/testdata/proto (the
same files dispatch/proto_test.go reads), round trips, and malformed
frames read through whole, one-byte and half-size reads."""

import io
import json
import os
import re
import struct
import unittest

from mpgate import proto

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "testdata", "proto")

CONFIG_JSON = (b'{"handlers":{"PythonHandler":[{"handler":"hello","directory":"/srv/www/",'
               b'"is_location":false,"silent":false}]},"directives":[["PythonDebug","1"]],'
               b'"options":[["key","value"]],"handler":"mod_python"}')

# name -> (type, request id, decoded payload as the parse function returns it)
GOLDEN = {
    "hello": (proto.FRAME_HELLO, 0, [("protocol", "1"), ("pid", "4242"), ("python", "3.11.2"),
                                      ("interpreter", "www.example.com")]),
    "request": (proto.FRAME_REQUEST, 7, proto.RequestFrame(
        3, CONFIG_JSON, [("HTTP_HOST", "www.example.com"), ("CONTENT_LENGTH", "5")],
        [("uri", "/hello"), ("method", "POST")])),
    "request_cached": (proto.FRAME_REQUEST, 8, proto.RequestFrame(
        3, b"", [("HTTP_HOST", "www.example.com")], [("uri", "/hello")])),
    "body": (proto.FRAME_BODY, 7, b"hello"),
    "body_eof": (proto.FRAME_BODY, 7, b""),
    "read": (proto.FRAME_READ, 7, 65536),
    "headers": (proto.FRAME_HEADERS, 7, proto.HeadersFrame(
        200, "", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])),
    "write": (proto.FRAME_WRITE, 7, b"Hello world\n"),
    "flush": (proto.FRAME_FLUSH, 7, b""),
    "log": (proto.FRAME_LOG, 7, proto.LogFrame(3, "PythonHandler hello: Traceback (most recent call last):")),
    "end_ok": (proto.FRAME_END, 7, proto.EndFrame(0, [], [])),
    "end_declined": (proto.FRAME_END, 7, proto.EndFrame(-1, [("filename", "/srv/www/index.html")], [])),
    "end_error_404": (proto.FRAME_END, 7, proto.EndFrame(404, [], [("Set-Cookie", "s=1"), ("X-Reason", "gone")])),
    "call": (proto.FRAME_CALL, 7, proto.CallFrame("session.lock", [("sid", "abc")])),
    "reply": (proto.FRAME_REPLY, 7, proto.ReplyFrame(0, [("locked", "1")])),
    "control": (proto.FRAME_CONTROL, 0, proto.ControlFrame("reload", [("generation", "2")])),
    "shutdown": (proto.FRAME_SHUTDOWN, 0, b""),
}


def read_hex(path: str) -> bytes:
    """Reads a golden file: hex digits, white space and # comments."""
    text = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            text.append(line.split("#", 1)[0])
    digits = re.sub(r"\s+", "", "".join(text))
    return bytes.fromhex(digits)


def parse_payload(t: int, payload: bytes):
    """Decodes a payload with the parse function of its type."""
    if t == proto.FRAME_HELLO:
        return proto.parse_hello(payload)
    if t == proto.FRAME_REQUEST:
        return proto.parse_request(payload)
    if t == proto.FRAME_READ:
        return proto.parse_read(payload)
    if t == proto.FRAME_HEADERS:
        return proto.parse_headers(payload)
    if t == proto.FRAME_LOG:
        return proto.parse_log(payload)
    if t == proto.FRAME_END:
        return proto.parse_end(payload)
    if t == proto.FRAME_CALL:
        return proto.parse_call(payload)
    if t == proto.FRAME_REPLY:
        return proto.parse_reply(payload)
    if t == proto.FRAME_CONTROL:
        return proto.parse_control(payload)
    return payload  # BODY, WRITE, FLUSH, SHUTDOWN: raw


def encode_payload(t: int, value) -> bytes:
    """Encodes a decoded payload with the append function of its type."""
    b = bytearray()
    if t == proto.FRAME_HELLO:
        proto.append_hello(b, value)
    elif t == proto.FRAME_REQUEST:
        proto.append_request(b, value)
    elif t == proto.FRAME_READ:
        proto.append_read(b, value)
    elif t == proto.FRAME_HEADERS:
        proto.append_headers(b, value)
    elif t == proto.FRAME_LOG:
        proto.append_log(b, value.level, value.message)
    elif t == proto.FRAME_END:
        proto.append_end(b, value)
    elif t == proto.FRAME_CALL:
        proto.append_call(b, value)
    elif t == proto.FRAME_REPLY:
        proto.append_reply(b, value)
    elif t == proto.FRAME_CONTROL:
        proto.append_control(b, value)
    else:
        b += value
    return bytes(b)


class OneByteReader(io.RawIOBase):
    """Returns at most one byte per read (Go: iotest.OneByteReader)."""

    def __init__(self, data: bytes) -> None:
        self._r = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._r.read(1 if n != 0 else 0)


class HalfReader(io.RawIOBase):
    """Returns half of what is asked, rounded up (Go: iotest.HalfReader)."""

    def __init__(self, data: bytes) -> None:
        self._r = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._r.read((n + 1) // 2 if n > 0 else n)


READERS = {
    "whole": io.BytesIO,
    "one-byte": OneByteReader,
    "half": HalfReader,
}


class GoldenTest(unittest.TestCase):

    def test_every_type_has_a_golden_file(self):
        types = set(t for t, _, _ in GOLDEN.values())
        self.assertEqual(types, set(proto.FRAME_NAMES), "frame types without a golden file")
        files = sorted(f[:-4] for f in os.listdir(GOLDEN_DIR) if f.endswith(".hex"))
        self.assertEqual(files, sorted(GOLDEN), "golden files vs table")

    def test_decode_and_reencode(self):
        for name, (want_type, want_id, want_value) in sorted(GOLDEN.items()):
            data = read_hex(os.path.join(GOLDEN_DIR, name + ".hex"))
            for rname, reader in READERS.items():
                with self.subTest(name=name, reader=rname):
                    fr = proto.FrameReader(reader(data))
                    f = fr.read_frame()
                    self.assertEqual((f.type, f.id), (want_type, want_id),
                                     "%s: read_frame type/id" % name)
                    got = parse_payload(f.type, f.payload)
                    self.assertEqual(got, want_value, "%s: decoded payload" % name)
                    again = bytes(proto.append_frame(bytearray(), f.type, f.id, encode_payload(f.type, got)))
                    self.assertEqual(again, data, "%s: re-encoded frame differs from the golden bytes" % name)
                    with self.assertRaises(EOFError, msg="%s: no second frame" % name):
                        fr.read_frame()

    def test_config_json_in_request_is_json(self):
        data = read_hex(os.path.join(GOLDEN_DIR, "request.hex"))
        f = proto.FrameReader(io.BytesIO(data)).read_frame()
        r = proto.parse_request(f.payload)
        self.assertEqual(json.loads(r.config_json)["handler"], "mod_python")


class RoundTripTest(unittest.TestCase):

    def test_any_bytes_survive_str_and_kv(self):
        raw = bytes(range(256))
        kv = [(raw, raw), ("é", "\x00"), ("", "")]
        b = proto.append_hello(bytearray(), kv)
        got = proto.parse_hello(bytes(b))
        self.assertEqual([(k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape")) for k, v in got],
                         [(raw, raw), ("é".encode(), b"\x00"), (b"", b"")])
        self.assertEqual(bytes(proto.append_hello(bytearray(), got)), bytes(b))

    def test_end_negative_results(self):
        for result in (0, -1, -2, 404, 500, -2147483648, 2147483647):
            with self.subTest(result=result):
                b = proto.append_end(bytearray(), proto.EndFrame(result, [("a", "b")], []))
                self.assertEqual(proto.parse_end(bytes(b)).result, result)

    def test_frame_header_layout(self):
        b = proto.append_frame(bytearray(), proto.FRAME_WRITE, 0x01020304, b"xyz")
        self.assertEqual(bytes(b), b"MG\x01\x06\x01\x02\x03\x04\x00\x00\x00\x03xyz")

    def test_frame_type_name(self):
        self.assertEqual(proto.frame_type_name(proto.FRAME_END), "END")
        self.assertEqual(proto.frame_type_name(99), "FrameType(99)")

    def test_get(self):
        kvs = [("a", "1"), ("b", "2"), ("a", "3")]
        self.assertEqual(proto.get(kvs, "a"), "1")
        self.assertEqual(proto.get(kvs, "c"), "")

    def test_several_frames_in_one_stream(self):
        b = bytearray()
        proto.append_frame(b, proto.FRAME_BODY, 1, b"abc")
        proto.append_frame(b, proto.FRAME_BODY, 1, b"")
        proto.append_frame(b, proto.FRAME_SHUTDOWN, 0, b"")
        for rname, reader in READERS.items():
            with self.subTest(reader=rname):
                fr = proto.FrameReader(reader(bytes(b)))
                self.assertEqual(fr.read_frame(), proto.Frame(proto.FRAME_BODY, 1, b"abc"))
                self.assertEqual(fr.read_frame(), proto.Frame(proto.FRAME_BODY, 1, b""))
                self.assertEqual(fr.read_frame(), proto.Frame(proto.FRAME_SHUTDOWN, 0, b""))
                with self.assertRaises(EOFError):
                    fr.read_frame()


def header(magic: bytes = b"MG", version: int = 1, t: int = proto.FRAME_BODY, id: int = 1, n: int = 0) -> bytes:
    return magic + struct.pack(">BBII", version, t, id, n)


class MalformedTest(unittest.TestCase):

    def assert_frame_error(self, data: bytes, want: str) -> None:
        for rname, reader in READERS.items():
            with self.subTest(reader=rname, want=want):
                with self.assertRaises(proto.ProtoError) as cm:
                    proto.FrameReader(reader(data)).read_frame()
                self.assertIn(want, str(cm.exception))

    def test_bad_magic(self):
        self.assert_frame_error(header(magic=b"XG"), "bad magic")

    def test_bad_version(self):
        self.assert_frame_error(header(version=2), "version 2, want 1")

    def test_unknown_type(self):
        self.assert_frame_error(header(t=0), "unknown frame type 0")
        self.assert_frame_error(header(t=14), "unknown frame type 14")

    def test_payload_too_large(self):
        self.assert_frame_error(header(n=proto.MAX_PAYLOAD + 1), "exceeds")

    def test_truncated_header(self):
        self.assert_frame_error(header()[:7], "truncated frame header")

    def test_truncated_payload(self):
        self.assert_frame_error(header(n=10) + b"12345", "BODY: truncated payload")

    def test_payload_errors(self):
        cases = [
            ("kv count past the end", proto.parse_hello, struct.pack(">I", 1000), "fields: payload ends early"),
            ("str length past the end", proto.parse_hello,
             struct.pack(">II", 1, 50) + b"abc", "fields: payload ends early"),
            ("trailing bytes", proto.parse_hello, struct.pack(">I", 0) + b"x", "1 trailing bytes"),
            ("short u32", proto.parse_read, b"\x00\x01", "max: payload ends early"),
            ("zero read", proto.parse_read, struct.pack(">I", 0), "zero bytes wanted"),
            ("status out of range", proto.parse_headers, struct.pack(">III", 99, 0, 0), "status 99 out of range"),
            ("status too large", proto.parse_headers, struct.pack(">III", 1000, 0, 0), "status 1000 out of range"),
            ("request without meta", proto.parse_request, struct.pack(">III", 1, 0, 0), "meta: payload ends early"),
            ("config past the end", proto.parse_request, struct.pack(">II", 1, 9) + b"{}", "config: payload ends early"),
            ("end without headers", proto.parse_end, struct.pack(">iI", 0, 0), "headers: payload ends early"),
            ("log message past the end", proto.parse_log, struct.pack(">II", 3, 5) + b"ab", "message: payload ends early"),
            ("reply short", proto.parse_reply, b"", "status: payload ends early"),
            ("call short", proto.parse_call, struct.pack(">I", 4) + b"ab", "method: payload ends early"),
            ("control count past the end", proto.parse_control,
             struct.pack(">I", 0) + struct.pack(">I", 2) + struct.pack(">II", 0, 0), "args: payload ends early"),
        ]
        for name, parse, payload, want in cases:
            with self.subTest(name=name):
                with self.assertRaises(proto.ProtoError) as cm:
                    parse(payload)
                self.assertIn(want, str(cm.exception))

    def test_error_message_names_the_type(self):
        try:
            proto.parse_log(b"")
        except proto.ProtoError as e:
            self.assertEqual(str(e), "worker protocol: LOG: level: payload ends early")
        else:
            self.fail("parse_log(b'') did not fail")


if __name__ == "__main__":
    unittest.main()
