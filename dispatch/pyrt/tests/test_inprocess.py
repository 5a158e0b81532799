"""Tests that run the worker's request path inside the test process, to see
what a subprocess hides: how many socket writes a request costs."""

import os
import shutil
import socket
import sys
import tempfile
import textwrap
import unittest

import _apache
from mod_python import apache
from mpgate import proto, worker
from tests import harness as h


class CountingSocket:
    """A socket whose sendall calls are counted."""

    def __init__(self, sock):
        self._sock = sock
        self.sendalls = 0

    def sendall(self, data):
        self.sendalls += 1
        return self._sock.sendall(data)

    def makefile(self, mode):
        return self._sock.makefile(mode)


class SendallTest(unittest.TestCase):

    def setUp(self):
        self.saved = (list(sys.path), list(sys.argv), _apache._log_sink, apache.main_server, apache.interpreter)
        self.tmp = tempfile.mkdtemp(prefix="mpgate-inprocess-test-")
        with open(os.path.join(self.tmp, "inproc_hello.py"), "w") as f:
            f.write(textwrap.dedent('''
                from mod_python import apache
                def handler(req):
                    req.content_type = "text/plain"
                    req.write("Hello world\\n")
                    return apache.OK
                def unflushed(req):
                    req.write("Hello ", 0)
                    req.write("world\\n", 0)
                    return apache.OK
            '''))
        self.daemon, w = socket.socketpair()
        self.sock = CountingSocket(w)
        self.worker = worker.Worker(worker.Channel(self.sock), "www.example.com")
        self.reader = proto.FrameReader(self.daemon.makefile("rb"))

    def tearDown(self):
        sys.path[:], sys.argv[:] = self.saved[0], self.saved[1]
        _apache._log_sink, apache.main_server, apache.interpreter = self.saved[2:]
        self.daemon.close()
        self.sock._sock.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve(self, rid, handler):
        conf = h.config(handlers={"PythonHandler": [
            {"handler": handler, "directory": self.tmp + "/", "is_location": False, "silent": False}]})
        import json
        r = proto.RequestFrame(rid, json.dumps(conf).encode(), h.params(), h.meta("/x", self.tmp + "/x"))
        frame = proto.Frame(proto.FRAME_REQUEST, rid, bytes(proto.append_request(bytearray(), r)))
        before = self.sock.sendalls
        self.worker.handle_request(frame)
        sent = self.sock.sendalls - before
        frames = []
        while True:
            f = self.reader.read_frame()
            frames.append(f)
            if f.type == proto.FRAME_END:
                return sent, frames

    def test_hello_costs_two_sendalls(self):
        self.serve(1, "inproc_hello")  # first request imports the module
        sent, frames = self.serve(2, "inproc_hello")
        self.assertEqual([proto.frame_type_name(f.type) for f in frames], ["HEADERS", "WRITE", "FLUSH", "END"])
        self.assertLessEqual(sent, 2, "sendall calls for a hello request")

    def test_unflushed_response_costs_one_sendall(self):
        sent, frames = self.serve(3, "inproc_hello::unflushed")
        self.assertEqual([proto.frame_type_name(f.type) for f in frames if f.type != proto.FRAME_LOG],
                         ["HEADERS", "WRITE", "END"])
        self.assertEqual(sent, 1)
        self.assertEqual(frames[-2].payload if frames[-2].type == proto.FRAME_WRITE else None, b"Hello world\n")


if __name__ == "__main__":
    unittest.main()
