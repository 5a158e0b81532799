"""End-to-end tests of the worker: the real worker process
(``python3 -s bootstrap.py``) driven over its fd-3 socket by a harness that
plays the daemon (tests/harness.py)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import unittest

from mpgate import proto
from tests import harness as h

HANDLERS = textwrap.dedent('''
    import os
    import sys
    from mod_python import apache

    def handler(req):
        req.content_type = "text/plain"
        req.write("Hello world\\n")
        return apache.OK

    def declined(req):
        return apache.DECLINED

    def returns_none(req):
        return None

    def returns_true(req):
        return True

    def returns_str(req):
        return "OK"

    def forbidden(req):
        raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)

    def server_return_ok(req):
        req.write("first ")
        raise apache.SERVER_RETURN(apache.OK)

    def second(req):
        req.write("second")
        return apache.OK

    def created(req):
        raise apache.SERVER_RETURN(apache.DONE, apache.HTTP_CREATED)

    def boom(req):
        req.write("before ")
        raise ValueError("boom <b>")

    def status_ok(req):
        req.status = apache.HTTP_NOT_FOUND
        req.write("custom 404")
        return apache.OK

    class Page:
        def __init__(self, req):
            self.greeting = "page for " + req.uri

        def render(self, req):
            req.write(self.greeting)
            return apache.OK

    def echo(req):
        req.write(req.read())
        return apache.OK

    def echo_odd(req):
        out = []
        n = 1
        while True:
            s = req.read(n)
            if not s:
                break
            out.append(s)
            n = n * 3 + 1
        req.write(b"".join(out))
        return apache.OK

    def echo_lines(req):
        s = req.readline()
        while s:
            req.write(s)
            s = req.readline()
        return apache.OK

    def echo_readlines(req):
        if "SizeHint" in req.headers_in:
            lines = req.readlines(int(req.headers_in["SizeHint"]))
        else:
            lines = req.readlines()
        req.write(b"".join(lines))
        return apache.OK

    def mixed_reads(req):
        a = req.readline(5)
        b = req.read(3)
        c = req.readline()
        d = req.read()
        req.write(repr([a, b, c, d, req.read(), req.readline()]))
        return apache.OK

    def headers(req):
        req.headers_out.add("Set-Cookie", "a=1")
        req.err_headers_out.add("Set-Cookie", "b=2")
        req.headers_out.add("Set-Cookie", "c=3")
        req.headers_out["Content-Type"] = "ignored/when-content_type-is-set"
        req.content_type = "text/html"
        req.write("x")
        return apache.OK

    def options(req):
        req.content_type = "text/plain"
        req.write(repr(sorted(req.get_options().items())) + "\\n")
        req.write(repr(sorted(req.server.get_options().items())) + "\\n")
        req.write(repr(req.get_config().items()))
        return apache.OK

    def stderr(req):
        sys.stderr.write("to stderr\\nsecond line\\npartial")
        print("to stdout")
        req.log_error("multi\\nline", apache.APLOG_WARNING)
        apache.log_error("via apache.log_error")
        req.server.log_error("via server", apache.APLOG_INFO)
        req.connection.log_error("via conn")
        req.write("ok")
        return apache.OK

    def whose_apache(req):
        import mod_python
        import mod_python.apache
        import _apache
        import mod_python._apache
        assert mod_python._apache is _apache and apache.SERVER_RETURN is _apache.SERVER_RETURN
        req.write(mod_python.apache.__file__ + "\\n" + _apache.__file__ + "\\n" + repr(sys.path[:1]))
        return apache.OK

    def allow(req):
        req.allow_methods(["MKWORKSPACE", "GET", "FOO"])
        req.err_headers_out["X-Err"] = "1"
        req.headers_out["X-Dropped"] = "1"
        return apache.HTTP_METHOD_NOT_ALLOWED

    def held(req):
        req.write("held", 0)
        req.status = apache.HTTP_CREATED
        req.headers_out["X-After"] = "1"
        return apache.OK

    def held_then_error(req):
        req.write("held", 0)
        return apache.HTTP_NOT_FOUND

    def cleanup(req):
        def ok(data):
            apache.log_error("cleanup ran with " + data)
        def bad(data):
            raise RuntimeError("cleanup failed")
        req.register_cleanup(ok, "data")
        req.register_cleanup(bad)
        req.write("x")
        return apache.OK

    def add_handler(req):
        req.add_handler("PythonHandler", "mptest::second")
        req.write("first ")
        return apache.OK

    def members(req):
        req.content_type = "text/plain"
        out = []
        for n in ("uri", "filename", "path_info", "unparsed_uri", "args", "method", "method_number",
                  "protocol", "proto_num", "hostname", "the_request", "status", "status_line",
                  "handler", "phase", "extension", "interpreter", "header_only", "used_path_info",
                  "user", "ap_auth_type", "_content_type_set", "content_type"):
            out.append("%s=%r" % (n, getattr(req, n)))
        out.append("headers_in=%r" % (req.headers_in.items(),))
        out.append("hlist=%r" % (req.hlist,))
        out.append("env=%r" % (sorted(req.subprocess_env.keys()),))
        req.add_cgi_vars()
        env = req.subprocess_env
        out.append("cgi=%r" % ([env.get(k) for k in ("REQUEST_URI", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
                                                       "HTTP_X_FOO_BAR", "SCRIPT_FILENAME", "SERVER_PORT")],))
        out.append("interp=%r %r" % (apache.interpreter, req.server.server_hostname))
        out.append("main=%r" % (apache.main_server.server_hostname,))
        out.append("argv=%r" % (sys.argv,))
        out.append("types=%r %r %r" % (type(req), type(req.headers_in), type(req.server)))
        out.append("url=%r" % (req.construct_url("/x"),))
        out.append("docroot=%r" % (req.document_root(),))
        req.write("\\n".join(out) + "\\n")
        return apache.OK

    def readonly(req):
        try:
            req.method = "POST"
        except AttributeError:
            req.write("method is read-only; ")
        try:
            req.status = "200"
        except TypeError:
            req.write("status wants an int; ")
        req.anything = 1
        req.write("anything=%d" % req.anything)
        return apache.OK

    def sendfile(req):
        n = req.sendfile(__file__, 10, 20)
        req.write(" sent=%d" % n)
        return apache.OK

    def set_length(req):
        req.set_content_length(3)
        req.write("abc")
        return apache.OK

    def no_such_object(req):
        return apache.OK

    def sys_exit(req):
        sys.exit(3)

    def modules(req):
        one = apache.import_module("index", path=[req.get_options()["one"]])
        two = apache.import_module("index", path=[req.get_options()["two"]])
        req.write("%s %s %s" % (one.NAME, two.NAME, "index" in sys.modules))
        return apache.OK
''')


def entry(handler, directory, **kw):
    e = {"handler": handler, "directory": directory, "is_location": False, "silent": False}
    e.update(kw)
    return e


class WorkerTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.site = h.make_site("mpgate-worker-test-", {"mptest.py": HANDLERS, "hello.py": HANDLERS})
        for name in ("one", "two"):
            d = os.path.join(cls.tmp, name)
            os.makedirs(d)
            with open(os.path.join(d, "index.py"), "w") as f:
                f.write("NAME = %r\n" % name)
        cls.worker = h.WorkerProcess()
        cls.next_id = 1
        cls.next_conf = 1
        # Load the handler modules once: the END of the request that first
        # imports a site module reports it (info "module"), and the tests
        # below compare whole END frames.
        for name in ("mptest::second", "hello"):
            conf = h.config(handlers={"PythonHandler": [entry(name, cls.site)]})
            cls.worker.request(cls.next_id, conf, conf_id=10000 + cls.next_id, meta_=h.meta("/w", cls.site + "w"))
            cls.next_id += 1

    @classmethod
    def tearDownClass(cls):
        h.finish_worker(cls.worker, cls.tmp)

    def run_handler(self, names, debug=False, body=b"", params=None, meta=None, conf=None,
                    filename=None, **kw):
        """Runs one request whose PythonHandler is names (a handler string
        or a list of them); kw goes to harness.config."""
        names = names if isinstance(names, list) else [names]
        if conf is None:
            kw.setdefault("directives", [["PythonDebug", "1" if debug else "0"]])
            conf = h.config(handlers={"PythonHandler": [entry(n, self.site) for n in names]}, **kw)
        cls = type(self)
        rid = cls.next_id
        cls.next_id += 1
        conf_id = cls.next_conf
        cls.next_conf += 1
        if meta is None:
            meta = h.meta("/mptest", filename if filename is not None else os.path.join(self.site, "mptest"))
        return self.worker.request(rid, conf, conf_id=conf_id, params_=params, meta_=meta, body=body)

    # -- hello and the basics ------------------------------------------------

    def test_hello(self):
        hello = self.worker.hello
        self.assertEqual(hello["protocol"], str(proto.PROTOCOL_VERSION))
        self.assertEqual(hello["interpreter"], "www.example.com")
        self.assertRegex(hello["python"], r"^3\.\d+\.\d+$")
        self.assertEqual(int(hello["pid"]), self.worker.proc.pid)
        self.assertEqual(hello["config_cache"], "64")

    def test_hello_world(self):
        r = self.run_handler("hello")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.reason, "")
        self.assertEqual(r.headers, [("Content-Type", "text/plain")])
        self.assertEqual(r.body, b"Hello world\n")
        self.assertEqual(r.flushes, 1)
        self.assertEqual(r.end, proto.EndFrame(0, [], []))
        types = [proto.frame_type_name(f.type) for f in r.frames if f.type != proto.FRAME_LOG]
        self.assertEqual(types, ["HEADERS", "WRITE", "FLUSH", "END"])

    def test_cached_config(self):
        conf = h.config(handlers={"PythonHandler": [entry("mptest::second", self.site)]})
        r1 = self.worker.request(900, conf, conf_id=900, meta_=h.meta("/a", self.site + "a"))
        r2 = self.worker.request(901, conf, conf_id=900, meta_=h.meta("/a", self.site + "a"))
        self.assertEqual((r1.body, r2.body), (b"second", b"second"))

    def test_unknown_config_id(self):
        self.worker.sent_configs.add(999)  # pretend it was sent: the worker never saw it
        r = self.worker.request(902, {}, conf_id=999)
        self.assertEqual(r.end.result, 500)
        self.assertIn("config 999 is not cached", dict(r.end.info)["error"])

    # -- handler resolution and results ----------------------------------------

    def test_module_function_and_class_method(self):
        r = self.run_handler("mptest::Page.render")
        self.assertEqual(r.body, b"page for /mptest")

    def test_missing_object(self):
        r = self.run_handler("mptest::nothing_here")
        self.assertEqual(r.end.result, 500)
        self.assertIsNone(r.status)
        self.assertIn("AttributeError: module '%smptest.py' contains no 'nothing_here'" % self.site, r.log_text())

    def test_non_int_results(self):
        for name, type_name in (("returns_none", "NoneType"), ("returns_true", "bool"), ("returns_str", "str")):
            with self.subTest(handler=name):
                r = self.run_handler("mptest::" + name)
                self.assertEqual(r.end.result, 500, "no debug: plain 500")
                self.assertIsNone(r.status, "no HEADERS")
                lines = [m for _, m in r.logs]
                prefix = "PythonHandler mptest::%s: " % name
                self.assertTrue(all(m.startswith(prefix) for m in lines if "Importing" not in m), lines)
                self.assertIn(prefix + "AssertionError: Handler has returned result or raised SERVER_RETURN", lines)
                self.assertIn(prefix + "was <class '%s'>, whereas expected <class 'int'>." % type_name, lines)
                self.assertTrue(all(level == 3 for level, m in r.logs if "Traceback" in m))

    def test_server_return_forbidden(self):
        r = self.run_handler("mptest::forbidden")
        self.assertIsNone(r.status)
        self.assertEqual(r.end, proto.EndFrame(403, [], []))

    def test_server_return_ok_continues_stack(self):
        r = self.run_handler(["mptest::server_return_ok", "mptest::second"])
        self.assertEqual(r.body, b"first second")

    def test_server_return_with_status(self):
        r = self.run_handler("mptest::created")
        self.assertEqual((r.status, r.end.result), (201, -2))

    def test_stacked_handlers(self):
        r = self.run_handler(["mptest::handler", "mptest::second"])
        self.assertEqual(r.body, b"Hello world\nsecond")
        # PythonHandler continues on OK only: DECLINED ends the list
        r = self.run_handler(["mptest::declined", "mptest::second"])
        self.assertEqual(r.end.result, -1)
        self.assertEqual(r.body, b"")

    def test_declined(self):
        r = self.run_handler("mptest::declined", filename="/srv/www/index.html")
        self.assertIsNone(r.status)
        self.assertEqual(r.end, proto.EndFrame(-1, [("filename", "/srv/www/index.html"), ("err_headers", "0")], []))

    def test_not_our_handler(self):
        r = self.run_handler("mptest::handler", handler="default-handler")
        self.assertEqual(r.end.result, -1)
        self.assertEqual(r.body, b"")

    def test_python_program_handler(self):
        r = self.run_handler("mptest::second", handler="python-program")
        self.assertEqual(r.body, b"second")

    def test_exception_without_debug(self):
        r = self.run_handler("mptest::boom")
        self.assertEqual(r.end.result, 500)
        self.assertEqual((r.status, r.body), (200, b"before "), "what was sent stays; httpd appends its error text")
        self.assertIn("PythonHandler mptest::boom: ValueError: boom <b>", r.log_text())
        self.assertIn("PythonHandler mptest::boom: Traceback (most recent call last):", r.log_text())

    def test_debug_page(self):
        r = self.run_handler("mptest::boom", debug=True)
        self.assertEqual(r.end.result, -2)
        self.assertEqual(r.status, 200, "status was sent with the first write")
        body = r.body.decode()
        self.assertTrue(body.startswith('before \n<pre>\nMod_python error: "PythonHandler mptest::boom"\n\n'), body)
        self.assertIn("ValueError: boom &lt;b&gt;", body)
        self.assertTrue(body.endswith("</pre>\n"))

    def test_debug_page_status(self):
        r = self.run_handler("mptest::returns_none", debug=True)
        self.assertEqual((r.status, r.end.result), (500, -2))
        self.assertEqual(r.header("Content-Type"), "text/html")
        self.assertIn("was &lt;class &#x27;NoneType&#x27;&gt;, whereas expected", r.body.decode())

    def test_sys_exit_is_reported(self):
        r = self.run_handler("mptest::sys_exit")
        self.assertEqual(r.end.result, 500)
        self.assertIn("SystemExit: 3", r.log_text())

    def test_status_with_ok(self):
        r = self.run_handler("mptest::status_ok")
        self.assertEqual((r.status, r.body, r.end.result), (404, b"custom 404", 0))

    def test_add_handler_same_phase(self):
        r = self.run_handler("mptest::add_handler")
        self.assertEqual(r.body, b"first second")

    # -- body ----------------------------------------------------------------

    def test_body_echo(self):
        body = bytes(range(256)) * 800
        r = self.run_handler("mptest::echo", body=body)
        self.assertEqual(r.body, body)
        self.assertTrue(all(0 < n <= 65536 for n in r.reads), r.reads)

    def test_body_reads_of_odd_sizes(self):
        body = b"1234567890" * 10000
        rid = type(self).next_id
        type(self).next_id += 1
        conf = h.config(handlers={"PythonHandler": [entry("mptest::echo_odd", self.site)]})
        r = self.worker.request(rid, conf, conf_id=5000 + rid, body=body, body_chunk=7777,
                                meta_=h.meta("/x", self.site + "x"))
        self.assertEqual(r.body, body)
        self.assertEqual(r.reads[:4], [1, 4, 13, 40])

    def test_readline(self):
        body = (b"1234567890" * 3000 + b"\n") * 4
        r = self.run_handler("mptest::echo_lines", body=body)
        self.assertEqual(r.body, body)

    def test_readlines(self):
        line = b"1234567890" * 3000 + b"\n"
        body = line * 4
        r = self.run_handler("mptest::echo_readlines", body=body)
        self.assertEqual(r.body, body)
        for hint, want in ((30000, line), (32000, line * 2)):
            with self.subTest(sizehint=hint):
                p = h.params([("HTTP_SIZEHINT", str(hint))])
                r = self.run_handler("mptest::echo_readlines", body=body, params=p)
                self.assertEqual(r.body, want)

    def test_mixed_reads(self):
        r = self.run_handler("mptest::mixed_reads", body=b"ab\ncdefgh\nijk\nlm")
        self.assertEqual(r.body, repr([b"ab\n", b"cde", b"fgh\n", b"ijk\nlm", b"", b""]).encode())

    def test_short_body_is_an_ioerror(self):
        rid = type(self).next_id
        type(self).next_id += 1
        conf = h.config(handlers={"PythonHandler": [entry("mptest::echo", self.site)]},
                        directives=[["PythonDebug", "1"]])
        r = self.worker.request(rid, conf, conf_id=5000 + rid, body=b"123456789", body_eof_early=True,
                                meta_=h.meta("/x", self.site + "x"))
        self.assertEqual(r.end.result, -2)
        self.assertIn(b"OSError: Client read error (Timeout?)", r.body)

    def test_no_body(self):
        r = self.run_handler("mptest::echo")
        self.assertEqual((r.body, r.reads), (b"", []))

    # -- response head -------------------------------------------------------

    def test_headers_out_duplicates_and_order(self):
        r = self.run_handler("mptest::headers")
        self.assertEqual(r.headers, [("Content-Type", "text/html"), ("Set-Cookie", "b=2"),
                                     ("Set-Cookie", "a=1"), ("Set-Cookie", "c=3")])

    def test_held_write_lets_status_change(self):
        r = self.run_handler("mptest::held")
        self.assertEqual((r.status, r.body), (201, b"held"))
        self.assertEqual(r.header("X-After"), "1")
        self.assertEqual(r.flushes, 0)

    def test_held_write_dropped_by_error(self):
        r = self.run_handler("mptest::held_then_error")
        self.assertIsNone(r.status)
        self.assertEqual(r.end.result, 404)

    def test_allow_for_405(self):
        r = self.run_handler("mptest::allow")
        self.assertIsNone(r.status)
        self.assertEqual(r.end, proto.EndFrame(405, [], [("X-Err", "1"), ("Allow", "GET,HEAD,MKWORKSPACE,TRACE")]))

    def test_set_content_length(self):
        r = self.run_handler("mptest::set_length")
        self.assertEqual(r.header("Content-Length"), "3")

    def test_sendfile(self):
        r = self.run_handler("mptest::sendfile")
        self.assertEqual(r.body, HANDLERS.encode()[10:30] + b" sent=20")

    # -- configuration ---------------------------------------------------------

    def test_options_masking(self):
        r = self.run_handler("mptest::options", options=[["a", "1"], ["masked", ""], ["b", "2"]],
                             )
        lines = r.body.decode().split("\n")
        self.assertEqual(lines[0], repr([("a", "1"), ("b", "2")]))
        self.assertEqual(lines[1], repr([("empty", ""), ("srv", "1")]), "server.get_options keeps empty values")
        self.assertEqual(lines[2], repr([("PythonDebug", "0")]))

    def test_request_members(self):
        p = h.params([("HTTP_X_FOO_BAR", "1"), ("CONTENT_TYPE", "text/plain")], SSL_X="y")
        m = h.meta("/mptest/extra", self.site + "mptest.py", path_info="/extra", args="q=1",
                   unparsed_uri="/mptest/extra?q=1")
        conf = h.config(handlers={"PythonHandler.py": [entry("mptest::members", self.site)]},
                        directives=[["PythonDebug", "0"]])
        r = self.run_handler(None, conf=conf, params=p, meta=m)
        text = r.body.decode()
        for want in ("uri='/mptest/extra'", "path_info='/extra'", "args='q=1'", "method_number=0",
                     "proto_num=1001", "status_line=None", "handler='mod_python'", "phase='PythonHandler'",
                     "extension='.py'", "interpreter='www.example.com'", "used_path_info=2",
                     "_content_type_set=1",
                     "headers_in=[('Host', 'www.example.com'), ('User-Agent', 'harness/1'), "
                     "('X-Foo-Bar', '1'), ('Content-Type', 'text/plain')]",
                     "env=['SSL_X', 'UNIQUE_ID']",
                     "cgi=['/mptest/extra', '/mptest', '/extra', 'q=1', '1', '%smptest.py', '80']" % self.site,
                     "interp='www.example.com' 'www.example.com'",
                     "main='main.example.com'", "argv=['mod_python']",
                     "types=<class 'mp_request'> <class 'mp_table'> <class 'mp_server'>",
                     "url='http://www.example.com/x'", "docroot='/srv/www'",
                     "hlist={'handler':'mptest::members','directory':'%s','is_location':False,'silent':0}"
                     % self.site):
            self.assertIn(want, text)

    def test_readonly_attributes(self):
        r = self.run_handler("mptest::readonly")
        self.assertEqual(r.body, b"method is read-only; status wants an int; anything=1")

    def test_debian_mod_python_does_not_shadow(self):
        r = self.run_handler("mptest::whose_apache", directives=[
            ["PythonDebug", "0"], ["PythonPath", "['/usr/lib/python3/dist-packages', %r] + sys.path" % self.site]])
        lines = r.body.decode().split("\n")
        self.assertEqual(lines[0], os.path.join(h.PYRT_DIR, "mod_python", "apache.py"))
        self.assertEqual(lines[1], os.path.join(h.PYRT_DIR, "mod_python", "_apache.py"))
        self.assertEqual(lines[2], repr(["/usr/lib/python3/dist-packages"]))

    def test_site_modules_are_keyed_by_path(self):
        r = self.run_handler("mptest::modules", options=[["one", os.path.join(self.tmp, "one")],
                                                           ["two", os.path.join(self.tmp, "two")]])
        self.assertEqual(r.body, b"one two False")

    # -- logging ---------------------------------------------------------------

    def test_stdout_stderr_and_log_error(self):
        r = self.run_handler("mptest::stderr")
        logs = [(lvl, m) for lvl, m in r.logs if "Importing" not in m]
        self.assertEqual(logs, [
            (3, "to stderr"), (3, "second line"), (4, "to stdout"),
            (4, "multi"), (4, "line"),
            (3, "via apache.log_error"), (6, "via server"), (3, "via conn"),
            (3, "partial"),
        ])

    def test_cleanups_run_before_end(self):
        r = self.run_handler("mptest::cleanup")
        self.assertEqual(r.end.result, 0)
        # The body went out (and was flushed) before the cleanups ran.
        self.assertEqual((r.body, r.flushes), (b"x", 1))
        idx = [proto.frame_type_name(f.type) for f in r.frames]
        self.assertLess(idx.index("WRITE"), idx.index("LOG"))
        # Last registered first; errors as mod_python.c python_cleanup logs
        # them; all in the request's log (they reach Apache's error log, as
        # with mod_python), since END comes after them.
        self.assertEqual([level for level, _ in r.logs], [3, 3, 3])
        self.assertTrue(r.logs[0][1].startswith(
            "python_cleanup: Error calling cleanup object <function cleanup.<locals>.bad at "), r.logs[0][1])
        self.assertEqual([m for _, m in r.logs[1:3]],
                         ["    <class 'RuntimeError'>: cleanup failed", "cleanup ran with data"])
        self.assertEqual(self.worker.sync_logs()[:-1], [])


class WorkerLifecycleTest(unittest.TestCase):

    def test_shutdown_runs_cleanups_and_exits_zero(self):
        tmp = tempfile.mkdtemp(prefix="mpgate-worker-test-")
        try:
            with open(os.path.join(tmp, "reg.py"), "w") as f:
                f.write(textwrap.dedent('''
                    from mod_python import apache
                    def handler(req):
                        apache.register_cleanup(lambda data: print("bye " + data), "now")
                        return apache.OK
                '''))
            w = h.WorkerProcess()
            conf = h.config(handlers={"PythonHandler": [entry("reg", tmp + "/")]})
            r = w.request(1, conf, meta_=h.meta("/reg", tmp + "/reg"))
            self.assertEqual((r.status, r.end.result), (200, 0))
            code, out, err = w.shutdown()
            self.assertEqual(code, 0, err)
            self.assertEqual(out, b"bye now\n", "outside a request print goes to the real stdout")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_eof_exits_zero(self):
        w = h.WorkerProcess()
        w.sock.shutdown(socket.SHUT_WR)
        code, out, err = w.wait()
        self.assertEqual(code, 0, err)

    def test_protocol_error_exits(self):
        w = h.WorkerProcess()
        w.send(proto.FRAME_BODY, 1, b"unexpected")
        code, out, err = w.wait()
        self.assertEqual(code, 4)
        self.assertIn(b"worker protocol: BODY: unexpected frame between requests", err)

    def test_bad_magic_exits(self):
        w = h.WorkerProcess()
        w.sock.sendall(b"XX" + b"\x00" * 10)
        code, out, err = w.wait()
        self.assertEqual(code, 4)
        self.assertIn(b"bad magic", err)


class InitWorker(h.WorkerProcess):
    """A worker started as the daemon starts it (MPGATE_WORKER_INIT=1): the
    CONTROL worker.init frame goes first; the LOG frames before HELLO are
    kept in init_logs."""

    def __init__(self, args, env=None):
        # harness.WorkerProcess reads HELLO at once: start the process the
        # same way, but send worker.init before reading.
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.store = None
        self.sock = parent
        fd = child.fileno()
        e = {"MPGATE_INTERPRETER": "www.example.com", "MPGATE_WORKER_ID": "w1",
             "MPGATE_WORKER_INIT": "1", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        e.update(env or {})

        def to_fd3():
            os.dup2(fd, 3)

        self.proc = subprocess.Popen([h.PYTHON, "-s", h.BOOTSTRAP], cwd="/", env=e, pass_fds=(3, fd),
                                     preexec_fn=to_fd3, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        child.close()
        self.sock.settimeout(h.TIMEOUT)
        self.reader = proto.FrameReader(self.sock.makefile("rb"))
        self.sent_configs = set()
        c = proto.ControlFrame("worker.init", args)
        self.send(proto.FRAME_CONTROL, 0, bytes(proto.append_control(bytearray(), c)))
        self.init_logs = []
        while True:
            f = self.read()
            if f.type == proto.FRAME_HELLO:
                self.hello = dict(proto.parse_hello(f.payload))
                return
            assert f.type == proto.FRAME_LOG and f.id == 0, proto.frame_type_name(f.type)
            lf = proto.parse_log(f.payload)
            self.init_logs.append((lf.level, lf.message))

    def shutdown_logs(self):
        """Sends SHUTDOWN; returns (exit code, LOG lines sent before the exit)."""
        self.send(proto.FRAME_SHUTDOWN, 0, b"")
        logs = []
        while True:
            try:
                f = self.read()
            except EOFError:
                break
            assert f.type == proto.FRAME_LOG and f.id == 0, proto.frame_type_name(f.type)
            logs.append(proto.parse_log(f.payload).message)
        code, _, err = self.wait()
        return code, logs


STARTUP = textwrap.dedent('''
    import os
    from mod_python import apache

    PID = os.getpid()
    CALLS = []
    apache.log_error("startup imported in %s" % apache.interpreter)

    def first():
        CALLS.append("first")

    def second():
        CALLS.append("second")
        apache.main_server.get_options()["startup"] = "ran"

    def boom():
        raise RuntimeError("boom at start-up")

    def leave():
        raise SystemExit(3)
''')

PAGE = textwrap.dedent('''
    import os
    import sys
    from mod_python import apache

    def _cleanup(data):
        apache.log_error("cleanup %s" % data)

    def _failing(data):
        raise KeyError(data)

    def handler(req):
        import startup
        chain = []
        s = req.server
        while s is not None:
            chain.append(s.server_hostname)
            s = s.next
        req.write(repr([startup.PID == os.getpid(), startup.CALLS,
                        apache.main_server.get_options().get("startup"),
                        apache.main_server.server_hostname, chain,
                        apache.exists_config_define("FOO"), apache.exists_config_define("MPGATE"),
                        sys.path[0]]))
        apache.register_cleanup(_cleanup, "one")
        apache.register_cleanup(_failing, "two")
        req.server.register_cleanup(req, _cleanup, "three")
        return apache.OK
''')


def _server(index, name, next_, **kw):
    d = {"server_hostname": name, "server_admin": "", "defn_name": "/etc/site.conf",
         "defn_line_number": index * 10, "is_virtual": int(index > 0), "names": [], "wild_names": [],
         "port": 0, "timeout": 300.0, "keep_alive_timeout": 5.0, "keep_alive_max": 100, "keep_alive": 1,
         "error_fname": None, "loglevel": 4, "log_level": 4, "limit_req_line": 8190,
         "limit_req_fieldsize": 8190, "limit_req_fields": 100, "path": "", "directives": [],
         "options": [], "index": index, "next": next_}
    d.update(kw)
    return d


class WorkerInitTest(unittest.TestCase):
    """worker.init: the servers, the defines and the PythonImports a worker
    gets before its HELLO (dispatch/lifecycle.go)."""

    def setUp(self):
        self.tmp, self.site = h.make_site("mpgate-init-test-", {"startup.py": STARTUP, "page.py": PAGE})
        self.addCleanup(shutil.rmtree, self.tmp, True)
        lib = self.site.rstrip("/")
        main = _server(0, "main.example", 2, directives=[["PythonPath", "[%r] + sys.path" % lib]])
        self.servers = [main, _server(1, "first.example", None), _server(2, "www.example.com", 1)]

    def start(self, imports):
        args = [("server", json.dumps(s)) for s in self.servers]
        args += [("define", "FOO")] + [("import", i) for i in imports]
        w = InitWorker(args)
        self.addCleanup(w.kill)
        return w

    def request(self, w):
        conf = h.config(handlers={"PythonHandler": [entry("page", self.site)]},
                        directives=self.servers[0]["directives"],
                        server=self.servers[2], main_server=self.servers[0])
        return w.request(1, conf, meta_=h.meta("/page", self.site + "page"))

    def test_imports_run_before_hello_in_order(self):
        # The daemon sends them in mod_python's order (the reverse of the
        # file's); each "module::function" calls the function.
        w = self.start(["startup::second", "startup::first", "startup"])
        self.assertEqual(w.init_logs, [(3, "startup imported in www.example.com")])
        r = self.request(w)
        self.assertEqual(r.status, 200, r.log_text())
        lib = self.site.rstrip("/")
        self.assertEqual(r.body.decode(), repr([True, ["second", "first"], "ran", "main.example",
                                                ["www.example.com", "first.example"], True, False, lib]))

    def test_failing_imports_are_logged_and_the_worker_serves(self):
        w = self.start(["nosuchmodule_init", "startup::boom", "startup::leave", "startup::first"])
        messages = [m for _, m in w.init_logs]
        self.assertIn("ModuleNotFoundError: No module named 'nosuchmodule_init'", messages)
        self.assertIn("directive_PythonImport: error importing nosuchmodule_init", messages)
        self.assertIn("RuntimeError: boom at start-up", messages)
        self.assertIn("directive_PythonImport: error importing startup::boom", messages)
        self.assertIn("directive_PythonImport: error importing startup::leave", messages)
        self.assertTrue(all(level == 3 for level, _ in w.init_logs), w.init_logs)
        # Tracebacks show the site's frames and apache.py's, not the worker's.
        self.assertFalse([m for m in messages if "/mpgate/" in m], messages)
        r = self.request(w)
        self.assertEqual(r.status, 200, r.log_text())
        self.assertIn("['first']", r.body.decode())

    def test_cleanups_run_at_shutdown_and_their_lines_come_before_the_exit(self):
        w = self.start([])
        self.assertEqual(self.request(w).status, 200)
        code, logs = w.shutdown_logs()
        self.assertEqual(code, 0)
        self.assertEqual(logs[0], "cleanup three")
        self.assertRegex(logs[1], r"^python_cleanup: Error calling cleanup object <function _failing at 0x")
        self.assertEqual(logs[2:], ["    <class 'KeyError'>: 'two'", "cleanup one"])

    def test_init_is_required_first(self):
        w = InitWorker.__new__(InitWorker)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fd = child.fileno()
        proc = subprocess.Popen([h.PYTHON, "-s", h.BOOTSTRAP], cwd="/", pass_fds=(3, fd),
                                preexec_fn=lambda: os.dup2(fd, 3), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={"MPGATE_WORKER_INIT": "1", "PATH": "/usr/bin:/bin"})
        child.close()
        c = proto.ControlFrame("modules.invalidate", [])
        parent.sendall(bytes(proto.append_frame(bytearray(), proto.FRAME_CONTROL, 0,
                                                bytes(proto.append_control(bytearray(), c)))))
        _, err = proc.communicate(timeout=h.TIMEOUT)
        parent.close()
        self.assertEqual(proc.returncode, 4)
        self.assertIn(b"expected CONTROL worker.init before HELLO, got 'modules.invalidate'", err)


if __name__ == "__main__":
    unittest.main()
