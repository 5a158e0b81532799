"""Tests of the standard handlers mod_python.cgihandler and mod_python.wsgi
(mod_python.md §5.7, §5.8), run by the real worker process over the wire
(tests/harness.py): mod_python 3.5's behaviour where it works on Python 3,
and mpgate's deliberate fixes where it does not (docs/compat.md)."""

import json
import os
import shutil
import tempfile
import textwrap
import unittest

from mpgate import proto
from tests import harness as h

# A plain handler that reports the worker's process state, to compare before
# and after CGI requests.
PROBE = '''
import json, os, sys
from mod_python import apache

def handler(req):
    req.content_type = "text/plain"
    state = {"environ": dict(os.environ), "cwd": os.getcwd(), "argv": list(sys.argv),
             "stdout": repr(sys.stdout), "stdin": repr(sys.stdin),
             "modules": sorted(n for n in ("env", "counter", "fails") if n in sys.modules),
             "json": getattr(sys.modules.get("json"), "__file__", None)}
    req.write(json.dumps(state))
    return apache.OK
'''

CGI_SCRIPTS = {
    "cgitest.py": 'from __future__ import print_function\n\nprint("Content-type: text/plain\\n")\nprint("test ok")\n',
    "env.py": '''
        import os, sys
        print("Content-Type: text/plain")
        print()
        keys = ("GATEWAY_INTERFACE", "REQUEST_METHOD", "QUERY_STRING", "SCRIPT_NAME", "PATH_INFO",
                "HTTP_X_TEST", "HTTP_AUTHORIZATION", "CONTENT_LENGTH", "HTTP_X_LATIN")
        print(repr({k: os.environ.get(k) for k in keys}))
        print("cwd=%s" % os.getcwd())
        print("argv=%r" % sys.argv)
        print("name=%s" % __name__)
        print("keys=%r" % sorted(os.environ))
        if __name__ == "__main__":
            print("main block ran")
    ''',
    "fails.py": '''
        import os
        os.environ["LEFT_BEHIND"] = "1"
        os.chdir("/")
        print("Content-Type: text/plain")
        print()
        raise RuntimeError("fails on purpose")
    ''',
    "counter.py": '''
        import cgihelper
        try:
            count
        except NameError:
            count = 0
        count += 1
        print("Content-Type: text/plain\\n")
        print("script count=%d helper=%s" % (count, cgihelper.bump()))
    ''',
    "cgihelper.py": '''
        calls = 0
        def bump():
            global calls
            calls += 1
            return "v1:%d" % calls
    ''',
    "stdin.py": '''
        import os, sys
        how = os.environ["QUERY_STRING"]
        if how == "read":
            got = [sys.stdin.read()]
        elif how == "readline":
            got = [sys.stdin.readline(), sys.stdin.readline(3), sys.stdin.readlines()]
        elif how == "iter":
            got = list(sys.stdin)
        elif how == "pieces":
            got = [sys.stdin.read(1), sys.stdin.read(1), sys.stdin.read(2), sys.stdin.read()]
        elif how == "buffer":
            got = [sys.stdin.buffer.read(2), sys.stdin.buffer.readline(), sys.stdin.buffer.read()]
        elif how == "form":
            import cgi
            form = cgi.FieldStorage()
            got = [(k, form.getlist(k)) for k in sorted(form.keys())]
        elif how == "upload":
            import cgi
            form = cgi.FieldStorage()
            f = form["file"]
            got = [f.filename, len(f.value), form.getfirst("note")]
        print("Content-Type: text/plain\\n")
        print(repr(got))
    ''',
    "binary.py": '''
        import sys
        sys.stdout.buffer.write(b"Content-Type: application/octet-stream\\r\\n\\r\\n\\x00\\xff")
        sys.stdout.write("\\u00e9")
        sys.stdout.buffer.write(b"\\xfe")
    ''',
    "headers.py": '''
        import sys
        sys.stdout.write("Status: 302 Found\\nLocation: /elsewhere\\nX-A: 1\\nX-A: 2\\n"
                         "Content-Type: text/html\\n\\nmoved")
    ''',
    "noblank.py": 'print("Content-Type: text/plain")\nprint("no blank line")\n',
    "sub/json.py": '''
        import sys
        m = sys.modules.get(__name__)
        print("Content-Type: text/plain\\n")
        print("name=%s registered=%r" % (__name__, m is not None and m.__dict__ is globals()))
    ''',
    "subproc.py": '''
        import subprocess, sys
        out = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('REQUEST_METHOD'))"],
                             capture_output=True, text=True).stdout
        print("Content-Type: text/plain\\n")
        print("child sees %s" % out.strip())
    ''',
    "probe.py": PROBE,
}


def entry(handler, directory, is_location=False):
    return {"handler": handler, "directory": directory, "is_location": is_location, "silent": False}


class HandlerTestCase(unittest.TestCase):
    """One worker and one temporary site per test class."""

    files = {}  # type: dict

    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.site = h.make_site("mpgate-handlers-test-",
                                        {k: textwrap.dedent(v) for k, v in cls.files.items()})
        cls.worker = h.WorkerProcess()
        cls.next_id = 1

    @classmethod
    def tearDownClass(cls):
        h.finish_worker(cls.worker, cls.tmp)

    def request(self, handler, uri, filename=None, options=None, debug=True, params=None, body=b"",
                method="GET", args=None, is_location=False, config_dir=None, directory=None, path_info=""):
        cls = type(self)
        rid = cls.next_id
        cls.next_id += 1
        d = directory or self.site
        conf = h.config(handlers={"PythonHandler": [entry(handler, d, is_location)]},
                        directives=[["PythonDebug", "1" if debug else "0"]], options=options or [],
                        is_location=is_location, config_dir=config_dir if config_dir is not None else d)
        meta = h.meta(uri, filename, method=method, args=args, path_info=path_info,
                      the_request="%s %s HTTP/1.1" % (method, uri))
        p = params if params is not None else h.params()
        p = [(k, v) for k, v in p if k != "REQUEST_METHOD"] + [("REQUEST_METHOD", method)]
        return self.worker.request(rid, conf, conf_id=rid, params_=p, meta_=meta, body=body)


class CGIHandlerTest(HandlerTestCase):

    files = CGI_SCRIPTS

    def cgi(self, script, uri=None, **kw):
        return self.request("mod_python.cgihandler", uri or "/" + script, os.path.join(self.site, script), **kw)

    def probe(self):
        r = self.request("probe", "/probe", os.path.join(self.site, "probe"))
        self.assertEqual(r.status, 200, r.log_text())
        return json.loads(r.body)

    def test_upstream_cgitest(self):
        r = self.cgi("cgitest.py")
        self.assertEqual((r.status, r.body), (200, b"test ok\n"))
        self.assertEqual(r.header("Content-Type"), "text/plain")

    def test_environment_of_the_script(self):
        params = h.params([("HTTP_X_TEST", "x"), ("HTTP_AUTHORIZATION", "Basic dTpw")])
        r = self.cgi("env.py", uri="/env.py/more/path", args="a=1", params=params, path_info="/more/path")
        self.assertEqual(r.status, 200, r.log_text())
        lines = r.body.decode().splitlines()
        env = eval(lines[0])
        self.assertEqual(env, {"GATEWAY_INTERFACE": "Python-CGI/1.1", "REQUEST_METHOD": "GET",
                               "QUERY_STRING": "a=1", "SCRIPT_NAME": "/env.py", "PATH_INFO": "/more/path",
                               "HTTP_X_TEST": "x", "HTTP_AUTHORIZATION": "Basic dTpw",
                               "CONTENT_LENGTH": None, "HTTP_X_LATIN": None})
        self.assertEqual(lines[1], "cwd=" + self.site.rstrip("/"))
        self.assertEqual(lines[2], "argv=[]")
        self.assertEqual(lines[3], "name=env", "the script runs as a module named after its file")
        keys = eval(lines[4].partition("=")[2])
        self.assertFalse([k for k in keys if k.startswith("MPGATE")], "the worker's own environment is hidden")
        self.assertNotIn("main block ran", r.body.decode())

    def test_process_state_restored(self):
        before = self.probe()
        self.assertEqual(self.cgi("env.py").status, 200)
        self.assertEqual(self.probe(), before)
        r = self.cgi("fails.py")
        self.assertEqual(r.status, 500)
        self.assertIn("RuntimeError: fails on purpose", r.body.decode())
        after = self.probe()
        self.assertEqual(after, before, "os.environ, cwd, argv, stdin and stdout as before, after an error too")
        self.assertNotIn("LEFT_BEHIND", after["environ"])
        self.assertEqual(after["modules"], [])

    def test_script_runs_afresh_helpers_persist_until_changed(self):
        r1, r2 = self.cgi("counter.py"), self.cgi("counter.py")
        self.assertEqual(r1.body, b"script count=1 helper=v1:1\n")
        self.assertEqual(r2.body, b"script count=1 helper=v1:2\n", "the helper is the importer's")
        helper = os.path.join(self.site, "cgihelper.py")
        with open(helper, "w") as f:
            f.write("def bump():\n    return 'v2'\n")
        self.worker.invalidate(changed=[helper])
        self.assertEqual(self.cgi("counter.py").body, b"script count=1 helper=v2\n")

    def test_missing_script_and_extension(self):
        self.assertEqual(self.cgi("nosuch.py").end.result, 404)
        r = self.request("mod_python.cgihandler", "/env.txt", os.path.join(self.site, "env.txt"))
        self.assertIn(b"name=env", r.body, "as imp.find_module: the base name, any extension")
        self.assertEqual(self.request("mod_python.cgihandler", "/", self.site).end.result, 404)

    def test_stdin(self):
        body = "line one\nline two \u00e9\nend".encode("utf-8")
        cases = {
            "read": ["line one\nline two \u00e9\nend"],
            "readline": ["line one\n", "lin", ["e two \u00e9\n", "end"]],
            "iter": ["line one\n", "line two \u00e9\n", "end"],
            "pieces": ["l", "i", "ne", " one\nline two \u00e9\nend"],
            "buffer": [b"li", b"ne one\n", "line two \u00e9\nend".encode("utf-8")],
        }
        for how, want in cases.items():
            with self.subTest(how=how):
                r = self.cgi("stdin.py", args=how, body=body, method="POST")
                self.assertEqual(r.status, 200, r.log_text())
                self.assertEqual(r.body.decode(), repr(want) + "\n")

    def test_stdin_field_storage(self):
        params = h.params([("CONTENT_TYPE", "application/x-www-form-urlencoded")])
        r = self.cgi("stdin.py", args="form", body=b"a=1&b=caf%C3%A9&a=2", method="POST", params=params)
        self.assertEqual(r.body.decode(), repr([("a", ["1", "2"]), ("b", ["caf\u00e9"])]) + "\n")
        boundary = "XyZ"
        data = b"\x00\x01" * 40000
        body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n"
                b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n"
                b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--XyZ--\r\n")
        params = h.params([("CONTENT_TYPE", "multipart/form-data; boundary=" + boundary)])
        r = self.cgi("stdin.py", args="upload", body=body, method="POST", params=params)
        self.assertEqual(r.body.decode(), repr(["f.bin", len(data), "hi"]) + "\n", r.log_text())

    def test_binary_stdout(self):
        r = self.cgi("binary.py")
        self.assertEqual((r.status, r.header("Content-Type")), (200, "application/octet-stream"))
        self.assertEqual(r.body, b"\x00\xff\xc3\xa9\xfe")

    def test_status_and_headers(self):
        r = self.cgi("headers.py")
        self.assertEqual(r.status, 302)
        self.assertEqual([(k, v) for k, v in r.headers if k in ("Location", "X-A", "Content-Type")],
                         [("Content-Type", "text/html"), ("Location", "/elsewhere"), ("X-A", "1"), ("X-A", "2")])
        self.assertEqual(r.body, b"moved")

    def test_no_blank_line(self):
        r = self.cgi("noblank.py")
        self.assertEqual((r.end.result, r.body), (0, b""))
        self.assertIn("noblank.py wrote no blank line after its header block", r.log_text())

    def test_script_named_like_a_loaded_module(self):
        r = self.cgi("sub/json.py")
        self.assertEqual(r.body, b"name=json registered=False\n")
        self.assertEqual(self.probe()["json"], json.__file__, "the standard library's json is untouched")

    def test_subprocess_gets_the_cgi_variables(self):
        r = self.cgi("subproc.py")
        self.assertEqual(r.body, b"child sees GET\n", r.log_text())

    def test_header_value_not_utf8(self):
        params = h.params([("HTTP_X_LATIN", "caf\udce9")])
        r = self.cgi("env.py", params=params)
        self.assertEqual(r.status, 200, r.log_text())
        self.assertEqual(eval(r.body.decode().splitlines()[0])["HTTP_X_LATIN"], "caf\udce9")


APPS = '''
import sys

def show(environ, start_response):
    keys = ("SCRIPT_NAME", "PATH_INFO", "REQUEST_METHOD", "QUERY_STRING", "HTTP_AUTHORIZATION")
    out = {k: environ.get(k) for k in keys}
    out.update({k: environ[k] for k in ("wsgi.version", "wsgi.url_scheme", "wsgi.multithread",
                                        "wsgi.multiprocess")})
    out["input"] = environ["wsgi.input"].__class__.__name__
    out["errors"] = environ["wsgi.errors"] is sys.stderr
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(out).encode()]

def status(environ, start_response):
    start_response(environ["QUERY_STRING"], [("Content-Type", "text/plain"), ("X-Two", "1"), ("X-Two", b"2")])
    return [b"status body"]

def bad_start(environ, start_response):
    how = environ["QUERY_STRING"]
    args = {"tuple": ("200 OK", (("A", "b"),)), "item": ("200 OK", [["A", "b"]]),
            "pair": ("200 OK", [("A", "b", "c")]), "name": ("200 OK", [(1, "b")]),
            "value": ("200 OK", [("A", None)]), "latin": ("200 OK", [("A", "\\u20ac")]),
            "status": ("abc", []), "status_big": ("600 Too Big", []), "status_type": (b"200 OK", []),
            "exc_info": ("200 OK", [], (1, 2))}[how]
    try:
        start_response(*args)
    except Exception as e:
        start_response("200 OK", [])
        return [("%s: %s" % (type(e).__name__, e)).encode()]
    return [b"accepted"]

def exc_info(environ, start_response):
    try:
        raise KeyError("original")
    except KeyError:
        start_response("500 Oops", [], sys.exc_info())
    return [b"never"]

def exc_info_none(environ, start_response):
    start_response("202 Accepted", [], None)
    return [b"fine"]

def stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    for i in range(20):
        yield bytes([65 + i]) * 1000

class Closing:
    def __init__(self, environ, fail):
        self.environ, self.fail = environ, fail
    def __iter__(self):
        yield b"item\\n"
        if self.fail:
            raise ValueError("iteration failed")
    def close(self):
        self.environ["wsgi.errors"].write("close called\\n")
        self.environ["wsgi.errors"].flush()

def closing(environ, start_response):
    start_response("200 OK", [])
    return Closing(environ, environ["QUERY_STRING"] == "fail")

def items(environ, start_response):
    start_response("200 OK", [])
    return {"str": ["caf\\u00e9"], "int": [b"a", 1], "bytearray": [bytearray(b"x")]}[environ["QUERY_STRING"]]

def write(environ, start_response):
    w = start_response("200 OK", [("Content-Length", "6")])
    w(b"abc")
    return [b"def"]

def body(environ, start_response):
    inp = environ["wsgi.input"]
    got = [inp.readline(), inp.read(3), inp.readlines()]
    start_response("200 OK", [])
    return [repr(got).encode()]

def raises(environ, start_response):
    raise RuntimeError("app raised")
'''


class WSGIHandlerTest(HandlerTestCase):

    files = {"apps.py": APPS, "wsgitest.py": '''
        import sys

        def application(env, start_response):
           status = '200 OK'
           output = 'test fail\\n'
           try:
              assert(env['wsgi.input'].__class__.__name__ == 'mp_request')
              assert(env['wsgi.errors'] == sys.stderr)
              assert(env['wsgi.version'] == (1,0))
              assert(env['wsgi.multithread'] in (True, False))
              assert(env['wsgi.multiprocess'] in (True, False))
              assert(env['wsgi.url_scheme'] == 'http')
              assert(env['SCRIPT_NAME'] == '')
              assert(env['PATH_INFO'] == '/tests.py')
              output = 'test ok\\n'
           except:
              pass
           env['wsgi.errors'].write('written_from_wsgi_test\\n')
           env['wsgi.errors'].flush()
           response_headers = [('Content-type', 'text/plain'),
                               ('Content-Length', str(len(output)))]
           start_response(status, response_headers)
           return [output]
    '''}

    def app(self, name, uri="/x", args=None, options=None, **kw):
        opts = [["mod_python.wsgi.application", "apps::" + name]] + (options or [])
        return self.request("mod_python.wsgi", uri, os.path.join(self.site, "x"), options=opts, args=args, **kw)

    def values(self, r):
        self.assertEqual(r.status, 200, r.body.decode(errors="replace") + r.log_text())
        return eval(r.body.decode())

    def test_upstream_wsgitest(self):
        r = self.request("mod_python.wsgi", "/tests.py", os.path.join(self.site, "tests.py"),
                         options=[["mod_python.wsgi.application", "wsgitest"]])
        self.assertEqual((r.status, r.body), (200, b"test ok\n"))
        self.assertIn("written_from_wsgi_test", r.log_text())

    def test_environ(self):
        params = h.params([("HTTP_AUTHORIZATION", "Basic dTpw")])
        v = self.values(self.app("show", uri="/a/b", args="q=1", params=params))
        self.assertEqual(v, {"SCRIPT_NAME": "", "PATH_INFO": "/a/b", "REQUEST_METHOD": "GET", "QUERY_STRING": "q=1",
                             "HTTP_AUTHORIZATION": "Basic dTpw", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
                             "wsgi.multithread": False, "wsgi.multiprocess": True, "input": "mp_request",
                             "errors": True})
        params = h.params([("HTTPS", "on")])
        self.assertEqual(self.values(self.app("show", params=params))["wsgi.url_scheme"], "https")

    def test_base_uri_and_location(self):
        v = self.values(self.app("show", uri="/base/rest", options=[["mod_python.wsgi.base_uri", "/base"]]))
        self.assertEqual((v["SCRIPT_NAME"], v["PATH_INFO"]), ("/base", "/rest"))
        v = self.values(self.app("show", uri="/basement", options=[["mod_python.wsgi.base_uri", "/base"]]))
        # A byte prefix, and SCRIPT_NAME as httpd's ap_find_path_info finds it, as in mod_python.
        self.assertEqual((v["SCRIPT_NAME"], v["PATH_INFO"]), ("/basement", "ment"))
        v = self.values(self.app("show", uri="/loc", is_location=True, config_dir="/loc/"))
        self.assertEqual((v["SCRIPT_NAME"], v["PATH_INFO"]), ("/loc", None))
        v = self.values(self.app("show", uri="/loc/x/y", is_location=True, config_dir="/loc"))
        self.assertEqual((v["SCRIPT_NAME"], v["PATH_INFO"]), ("/loc", "/x/y"))
        r = self.app("show", uri="/other", options=[["mod_python.wsgi.base_uri", "/base"]])
        self.assertEqual(r.end.result, -1)
        self.assertIn("WSGI handler: req.uri ('/other') does not start with mod_python.wsgi.base_uri ('/base'), "
                      "declining.", r.log_text())
        r = self.app("show", uri="/base/x", options=[["mod_python.wsgi.base_uri", "/base/"]])
        self.assertEqual(r.status, 500)
        self.assertIn("ValueError: PythonOption &#x27;mod_python.wsgi.base_uri&#x27; (&#x27;/base/&#x27;) must not "
                      "end with &#x27;/&#x27;", r.body.decode())

    def test_application_option(self):
        r = self.request("mod_python.wsgi", "/x", os.path.join(self.site, "x"),
                         options=[["mod_python.wsgi.application", "apps::missing"]])
        self.assertEqual(r.end.result, -1)
        self.assertIn("WSGI handler: mod_python.wsgi.application ('apps::missing') not found, declining.", r.log_text())
        r = self.request("mod_python.wsgi", "/x", os.path.join(self.site, "x"))
        self.assertEqual(r.status, 500)
        self.assertIn("KeyError: &#x27;mod_python.wsgi.application&#x27;", r.body.decode())

    def test_status_is_sent(self):
        # grisha/mod_python#53: mod_python 3.5 sends 200 whatever the status.
        for status, want in (("404 Not Found", (404, "Not Found")), ("201 Created", (201, "Created")),
                             ("200 Fine Thanks", (200, "Fine Thanks")), ("418 I'm a teapot", (418, "I'm a teapot"))):
            with self.subTest(status=status):
                r = self.app("status", args=status)
                self.assertEqual((r.status, r.reason), want)
                self.assertEqual(r.body, b"status body")
                self.assertEqual([v for k, v in r.headers if k == "X-Two"], ["1", "2"])

    def test_start_response_checks(self):
        # mod_python's messages (requestobject.c req_wsgi_start_response).
        cases = {
            "tuple": "TypeError: headers argument must be a list, not a 'tuple'",
            "item": "TypeError: each header must be a tuple, not a 'list'",
            "pair": "TypeError: function takes exactly 2 arguments (3 given)",
            "name": "TypeError: header names must be strings, not 'int'",
            "value": "TypeError: header values must be strings, not 'NoneType'",
            "latin": "TypeError: not an ISO-8859-1 string",
            "status": "ValueError: Invalid status line: abc",
            "status_big": "ValueError: Invalid status line: 600 Too Big",
            "status_type": "TypeError: wsgi_start_response() argument 1 must be str, not bytes",
            "exc_info": "TypeError: wsgi_start_response expected 3 arguments, got 2",
        }
        for how, want in cases.items():
            with self.subTest(how=how):
                r = self.app("bad_start", args=how)
                self.assertEqual(r.body.decode(), want)

    def test_exc_info(self):
        r = self.app("exc_info")
        self.assertEqual(r.status, 500)
        self.assertIn("KeyError: &#x27;original&#x27;", r.body.decode(), "re-raised, as mod_python does")
        r = self.app("exc_info_none")
        self.assertEqual((r.status, r.body), (202, b"fine"), "None is no exc_info (PEP 3333)")

    def test_streaming(self):
        r = self.app("stream")
        self.assertEqual(r.body, b"".join(bytes([65 + i]) * 1000 for i in range(20)))
        writes = [f for f in r.frames if f.type == proto.FRAME_WRITE]
        self.assertEqual(len(writes), 20, "each item is sent as it comes")
        self.assertGreaterEqual(r.flushes, 20)

    def test_close(self):
        r = self.app("closing")
        self.assertEqual(r.body, b"item\n")
        self.assertIn("close called", r.log_text())
        r = self.app("closing", args="fail")
        self.assertEqual(r.status, 200)
        self.assertIn(b"ValueError: iteration failed", r.body)
        self.assertIn("close called", r.log_text(), "close() runs when the iteration fails too")

    def test_items(self):
        self.assertEqual(self.app("items", args="str").body, "caf\u00e9".encode("utf-8"))
        r = self.app("items", args="int")
        self.assertIn(b"TypeError: a bytes-like object is required, not &#x27;int&#x27;", r.body)
        self.assertIn("TypeError: a bytes-like object is required, not 'int'", r.log_text())
        r = self.app("items", args="bytearray", debug=False)
        self.assertEqual(r.end.result, 500)
        self.assertIn("TypeError: argument 1 must be read-only bytes-like object, not bytearray", r.log_text())

    def test_write_and_content_length(self):
        r = self.app("write")
        self.assertEqual((r.body, r.header("Content-Length"), r.header("Transfer-Encoding")), (b"abcdef", "6", None))
        r = self.app("write", method="HEAD")
        self.assertEqual((r.status, r.header("Content-Length")), (200, "6"))

    def test_request_body(self):
        r = self.app("body", method="POST", body=b"first\nsecond\nthird\n")
        self.assertEqual(self.values(r), [b"first\n", b"sec", [b"ond\n", b"third\n"]])

    def test_app_raises(self):
        r = self.app("raises", debug=False)
        self.assertEqual(r.end.result, 500)
        self.assertIn("RuntimeError: app raised", r.log_text())


if __name__ == "__main__":
    unittest.main()
