"""Tests of the request API details that the differential suite
(cmd/mpgate/coreapi_test.go) found differing from mod_python 3.5, each
checked here against the real worker process: what mod_python (Debian's
libapache2-mod-python) was observed to do."""

import os
import textwrap
import unittest

from mpgate import proto
from tests import harness as h

HANDLERS = textwrap.dedent('''
    import sys
    from mod_python import apache
    from mod_python.python22 import *  # noqa: F401,F403  (as mod_python's own test handlers)

    def show(req, pairs):
        req.content_type = "text/plain"
        for k, v in pairs:
            req.write("%s=%r\\n" % (k, v), 0)
        return apache.OK

    def attempt(fn):
        try:
            return fn()
        except Exception as e:
            return "%s: %s" % (type(e).__name__, e)

    def messages(req):
        return show(req, [
            ("write int", attempt(lambda: req.write(42))),
            ("write memoryview", attempt(lambda: req.write(memoryview(b"x")))),
            ("write bytearray", attempt(lambda: req.write(bytearray(b"x")))),
            ("add_handler", attempt(lambda: req.add_handler("PythonHandler", len))),
            ("log_error", attempt(lambda: req.log_error(3))),
            ("construct_url", attempt(lambda: req.construct_url(b"/x"))),
            ("update_mtime", attempt(lambda: req.update_mtime("x"))),
            ("allow_methods str", attempt(lambda: req.allow_methods("GET"))),
            ("allow_methods dict", attempt(lambda: req.allow_methods({"GET": 1}))),
            ("set method", attempt(lambda: setattr(req, "method", "PUT"))),
            ("set phase", attempt(lambda: setattr(req, "phase", "x"))),
            ("set _content_type_set", attempt(lambda: setattr(req, "_content_type_set", 0))),
            ("set status str", attempt(lambda: setattr(req, "status", "200"))),
            ("set status_line None", attempt(lambda: setattr(req, "status_line", None))),
            ("apache.log_error int", attempt(lambda: apache.log_error(3))),
        ])

    def options(req):
        first = sorted(req.get_options().items())
        second = sorted(req.get_options().items())
        return show(req, [("first", first), ("second", second)])

    def members(req):
        req.update_mtime(1000000000.75)
        return show(req, [
            ("notes", list(req.notes.items())),
            ("hostname", req.hostname),
            ("env", sorted(req.subprocess_env.keys())),
            ("mtime", req.mtime),
            ("remaining", req.remaining),
            ("parsed_uri path", req.parsed_uri[apache.URI_PATH]),
            ("headers_in", sorted(req.headers_in.keys())),
        ])

    def body(req):
        before = req.remaining
        first = req.read(3)
        status = req.discard_request_body()
        return show(req, [("before", before), ("first", first), ("status", status),
                          ("read_length", req.read_length), ("rest", req.read())])

    def chunked(req):
        return show(req, [("read", req.read())])

    def common_vars(req):
        req.add_common_vars()
        env = req.subprocess_env
        return show(req, [(k, env.get(k)) for k in ("HTTP_AUTHORIZATION", "REMOTE_HOST", "SCRIPT_FILENAME")])

    def remote_host(req):
        return show(req, [
            ("REMOTE_HOST", req.get_remote_host(apache.REMOTE_HOST)),
            ("DOUBLE_REV", req.get_remote_host(apache.REMOTE_DOUBLE_REV)),
            ("conn.remote_host", req.connection.remote_host),
            ("conn.double_reverse", req.connection.double_reverse),
            ("NAME", req.get_remote_host(apache.REMOTE_NAME, 1)),
        ])

    def status_unknown(req):
        req.status = 418
        req.write("teapot")
        return apache.OK

    def returns(req):
        req.err_headers_out["X-Err"] = "e"
        req.headers_out["X-Out"] = "o"
        return int(req.args)

    def held(req):
        req.write("twelve bytes", 0)
        return apache.OK

    def after_head(req):
        req.err_headers_out["X-Err"] = "e"
        req.no_cache = 1
        req.content_type = "text/plain"
        req.write("x\\n")
        return show(req, [("headers_out", sorted(k for k, _ in req.headers_out.items())),
                          ("err_headers_out", list(req.err_headers_out.items())),
                          ("chunked", req.chunked)])

    def basic(req):
        pw = req.get_basic_auth_pw()
        return show(req, [("pw", pw), ("user", req.user), ("ap_auth_type", req.ap_auth_type),
                          ("note", req.notes.get("AP_GET_BASIC_AUTH_PW_NOTE"))])

    def sendfile_past_end(req):
        return show(req, [("sendfile", attempt(lambda: req.sendfile(__file__, 10)))])

    def unicode_error(req):
        return show(req, [("uri", req.uri)])

    def log_levels(req):
        for level in range(8):
            req.log_error("req-%d" % level, level)
            req.server.log_error("server-%d" % level, level)
            apache.log_error("noserver-%d" % level, level)
        req.write("ok")
        return apache.OK

    def base(req):
        return show(req, [("base_server", req.connection.base_server.server_hostname)])

    def python22(req):
        return show(req, [("imported", "mod_python.python22" in sys.modules)])
''')


def entry(handler, directory):
    return {"handler": handler, "directory": directory, "is_location": False, "silent": False}


class CoreAPITest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.site = h.make_site("mpgate-coreapi-test-", {"core.py": HANDLERS})
        cls.worker = h.WorkerProcess()
        cls.next_id = 1

    @classmethod
    def tearDownClass(cls):
        h.finish_worker(cls.worker, cls.tmp)

    def run_handler(self, name, params=None, meta=None, body=b"", **kw):
        conf = h.config(handlers={"PythonHandler": [entry("core::" + name, self.site)]},
                        directives=kw.pop("directives", [["PythonDebug", "1"]]), **kw)
        cls = type(self)
        rid = cls.next_id
        cls.next_id += 1
        if meta is None:
            meta = h.meta("/core", os.path.join(self.site, "core"))
        return self.worker.request(rid, conf, conf_id=rid, params_=params, meta_=meta, body=body)

    def values(self, r):
        out = {}
        for line in r.body.decode("utf-8").splitlines():
            k, _, v = line.partition("=")
            out[k] = v
        return out

    def test_argument_and_attribute_messages(self):
        # mod_python's C methods parse arguments with PyArg_ParseTuple (no
        # function name) and its attributes are getsets or members.
        v = self.values(self.run_handler("messages"))
        self.assertEqual(v["write int"], repr("TypeError: a bytes-like object is required, not 'int'"))
        self.assertEqual(v["write memoryview"],
                         repr("TypeError: argument 1 must be read-only bytes-like object, not memoryview"))
        self.assertEqual(v["write bytearray"],
                         repr("TypeError: argument 1 must be read-only bytes-like object, not bytearray"))
        self.assertEqual(v["add_handler"], repr("TypeError: argument 2 must be str, not builtin_function_or_method"))
        self.assertEqual(v["log_error"], repr("TypeError: argument 1 must be str or None, not int"))
        self.assertEqual(v["construct_url"], repr("TypeError: argument 1 must be str, not bytes"))
        self.assertEqual(v["update_mtime"], repr("TypeError: must be real number, not str"))
        self.assertEqual(v["allow_methods str"], "None")  # a str is a sequence of method names
        self.assertEqual(v["allow_methods dict"], repr("TypeError: First argument must be a sequence"))
        self.assertEqual(v["set method"],
                         repr("AttributeError: attribute 'method' of 'mp_request' objects is not writable"))
        self.assertEqual(v["set phase"], repr("AttributeError: readonly attribute"))
        self.assertEqual(v["set _content_type_set"], repr("AttributeError: readonly attribute"))
        self.assertEqual(v["set status str"], repr("TypeError: 'str' object cannot be interpreted as an integer"))
        self.assertEqual(v["set status_line None"], repr("TypeError: not an ISO-8859-1 string"))
        self.assertEqual(v["apache.log_error int"], repr("TypeError: argument 1 must be str or None, not int"))

    def test_get_options_removes_one_masked_key_of_two_in_a_row(self):
        # requestobject.c req_get_options steps past the entry that moves
        # into a removed one's place.
        r = self.run_handler("options", options=[["a", ""], ["b", ""], ["c", "3"]])
        v = self.values(r)
        self.assertEqual(v["first"], repr([("b", ""), ("c", "3")]))
        self.assertEqual(v["second"], repr([("c", "3")]))

    def test_request_members(self):
        params = h.params([("HTTP_X_ONE", "1")]) + [("MPGATE_VHOST", "site.conf:3"), ("ap_trust_cgilike_cl", "1"),
                                                     ("CONTENT_LENGTH", "4")]
        meta = h.meta("/caf\xc3\xa9".encode("latin-1").decode("utf-8"), os.path.join(self.site, "core"),
                      hostname="WWW.Example.COM", unparsed_uri="/caf%C3%A9")
        v = self.values(self.run_handler("members", params=params, meta=meta, body=b"abcd"))
        self.assertEqual(v["notes"], repr([("python_init_ran", "1")]))
        self.assertEqual(v["hostname"], repr("www.example.com"))
        self.assertEqual(v["env"], repr(["UNIQUE_ID"]), "mpgate's own params are hidden")
        self.assertEqual(v["mtime"], repr(1000000000.0), "update_mtime keeps whole seconds")
        self.assertEqual(v["remaining"], "0", "remaining is 0 until the body is read")
        self.assertEqual(v["parsed_uri path"], repr("/caf\xe9"))
        self.assertEqual(v["headers_in"], repr(["Content-Length", "Host", "User-Agent", "X-One"]))

    def test_discard_does_not_count_as_read(self):
        v = self.values(self.run_handler("body", body=b"0123456789"))
        self.assertEqual((v["before"], v["first"], v["status"], v["read_length"], v["rest"]),
                         ("0", repr(b"012"), "0", "3", repr(b"")))

    def test_fcgid_made_up_headers_are_not_the_clients(self):
        params = h.params([("HTTP_CONNECTION", "close")]) + [("CONTENT_LENGTH", "0")]
        meta = h.meta("/core", os.path.join(self.site, "core"), transport="fcgid")
        v = self.values(self.run_handler("members", params=params, meta=meta))
        self.assertEqual(v["headers_in"], repr(["Host", "User-Agent"]))
        params = h.params([("HTTP_CONNECTION", "close")]) + [
            ("CONTENT_LENGTH", "0"), ("MPGATE_HTTP_CONNECTION", "keep-alive"), ("MPGATE_CONTENT_LENGTH", "0")]
        v = self.values(self.run_handler("members", params=params, meta=meta))
        self.assertEqual(v["headers_in"], repr(["Connection", "Content-Length", "Host", "User-Agent"]))

    def test_chunked_body_is_refused(self):
        # A body the gateway de-chunked, whose Transfer-Encoding the
        # rewritten section passed on: ap_setup_client_block refuses it.
        params = h.params() + [("CONTENT_LENGTH", "5"), ("MPGATE_TRANSFER_ENCODING", "chunked")]
        r = self.run_handler("chunked", params=params, body=b"hello")
        self.assertEqual(r.end.result, 411)

    def test_common_vars(self):
        params = h.params([("HTTP_AUTHORIZATION", "Basic eDp5")])
        v = self.values(self.run_handler("common_vars", params=params))
        self.assertEqual(v["HTTP_AUTHORIZATION"], "None", "only with CGIPassAuth On in the site")
        self.assertEqual(v["REMOTE_HOST"], "None")
        v = self.values(self.run_handler("common_vars", params=params, cgi_pass_auth=True))
        self.assertEqual(v["HTTP_AUTHORIZATION"], repr("Basic eDp5"))
        meta = h.meta("/loc", None)
        v = self.values(self.run_handler("common_vars", meta=meta))
        self.assertEqual(v["SCRIPT_FILENAME"], "None")

    def test_remote_host_double_reverse(self):
        meta = h.meta("/core", os.path.join(self.site, "core"), remote_ip="127.0.0.1")
        params = [(k, v) for k, v in h.params() if k != "REMOTE_ADDR"] + [("REMOTE_ADDR", "127.0.0.1")]
        v = self.values(self.run_handler("remote_host", params=params, meta=meta))
        self.assertEqual(v["REMOTE_HOST"], "None")
        self.assertEqual(v["DOUBLE_REV"], repr("localhost"))
        self.assertEqual(v["conn.remote_host"], repr("localhost"))
        self.assertEqual(v["conn.double_reverse"], "1")
        self.assertEqual(v["NAME"], repr(("localhost", 0)))

    def test_status_without_status_line_is_500(self):
        r = self.run_handler("status_unknown")
        self.assertEqual((r.status, r.body), (500, b"teapot"))

    def test_results(self):
        r = self.run_handler("returns", meta=h.meta("/core", os.path.join(self.site, "core"), args="418"))
        self.assertEqual((r.end.result, r.end.headers), (500, [("X-Err", "e")]))
        r = self.run_handler("returns", meta=h.meta("/core", os.path.join(self.site, "core"), args="-1"))
        self.assertEqual(r.end.result, -1)
        self.assertEqual(r.end.info, [("filename", os.path.join(self.site, "core")), ("err_headers", "1")])
        self.assertEqual(r.end.headers, [("X-Err", "e"), ("X-Out", "o")])

    def test_held_body_gets_a_content_length(self):
        r = self.run_handler("held")
        self.assertEqual(r.header("Content-Length"), "12")
        self.assertEqual(r.body, b"twelve bytes")

    def test_tables_after_the_head_went_out(self):
        # ap_http_header_filter merges err_headers_out into headers_out.
        v = self.values(self.run_handler("after_head"))
        self.assertEqual(v["headers_out"], repr(["Content-Type", "Expires", "Transfer-Encoding", "X-Err"]))
        self.assertEqual(v["err_headers_out"], "[]")
        self.assertEqual(v["chunked"], "1")

    def test_basic_auth_sets_ap_auth_type(self):
        params = h.params([("HTTP_AUTHORIZATION", "Basic dXNlcjpwdw==")])
        v = self.values(self.run_handler("basic", params=params, auth_type="Basic", auth_name="realm"))
        self.assertEqual((v["pw"], v["user"], v["ap_auth_type"], v["note"]),
                         (repr("pw"), repr("user"), repr("Basic"), repr("1")))

    def test_sendfile_past_the_end(self):
        v = self.values(self.run_handler("sendfile_past_end"))
        self.assertEqual(v["sendfile"], repr("OSError: Write failed, client closed connection."))

    def test_invalid_utf8_uri_and_traceback_without_runtime_frames(self):
        meta = h.meta("/caf\udcff", os.path.join(self.site, "core"))
        r = self.run_handler("unicode_error", meta=meta)
        self.assertEqual(r.status, 500)
        page = r.body.decode("utf-8")
        self.assertIn("UnicodeDecodeError", page)
        self.assertIn("core.py", page)
        self.assertNotIn("request.py", page, "frames of mpgate's stand-ins for C code are left out")
        self.assertNotIn("_apache.py", page)

    def test_log_levels(self):
        # apache.log_error without a server: httpd's compile-time level
        # (WARNING; NOTICE always). Others: unfiltered until the daemon
        # sends the LogLevel ("log_level"), then filtered by it.
        r = self.run_handler("log_levels")
        logged = [m for _, m in r.logs]
        self.assertEqual([m for m in logged if m.startswith("noserver-")],
                         ["noserver-0", "noserver-1", "noserver-2", "noserver-3", "noserver-4", "noserver-5"])
        self.assertEqual(len([m for m in logged if m.startswith("req-")]), 8)
        conf = h.config(handlers={"PythonHandler": [entry("core::log_levels", self.site)]}, log_level=3)
        conf["server"] = dict(conf["server"], log_level=4, defn_line_number=99)
        r = self.worker.request(900, conf, conf_id=900)
        logged = [m for _, m in r.logs]
        self.assertEqual([m for m in logged if m.startswith("req-")], ["req-0", "req-1", "req-2", "req-3", "req-5"])
        self.assertEqual([m for m in logged if m.startswith("server-")],
                         ["server-0", "server-1", "server-2", "server-3", "server-4", "server-5"])

    def test_base_server(self):
        v = self.values(self.run_handler("base"))
        self.assertEqual(v["base_server"], repr("main.example.com"))
        conf = h.config(handlers={"PythonHandler": [entry("core::base", self.site)]})
        conf["base_server"] = dict(conf["server"], server_hostname="default.example.com")
        v = self.values(self.worker.request(901, conf, conf_id=901))
        self.assertEqual(v["base_server"], repr("default.example.com"))

    def test_python22(self):
        self.assertEqual(self.values(self.run_handler("python22"))["imported"], "True")


if __name__ == "__main__":
    unittest.main()
