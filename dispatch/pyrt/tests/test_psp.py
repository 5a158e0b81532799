"""Tests of mod_python.psp and its parser (mod_python/_psp.py, mod_python.md
§5.5): the parser against the golden answers of Debian's C module for the
hand-written corpus (tests/pspcorpus; cmd/mpgate's TestPSPParser keeps
golden.json current and compares both parsers on random inputs too), the
parser's own edges, and PSP pages run by the real worker process over the
wire (tests/harness.py): caching and reloading, sessions, error pages,
SERVER_RETURN."""

import errno
import importlib.util
import json
import os
import shutil
import tempfile
import time
import unittest

from tests import harness as h

PYRT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(PYRT, "tests", "pspcorpus")


def load_parser():
    """Loads mod_python/_psp.py on its own (the mod_python package needs the
    worker's _apache)."""
    spec = importlib.util.spec_from_file_location("mpgate_test_psp", os.path.join(PYRT, "mod_python", "_psp.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_psp = load_parser()


def describe(e, dirs):
    """The exception chain as cmd/mpgate/testdata/pspcorpus/check.py
    writes it in golden.json."""
    out, seen, how, cur = [], set(), "", e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        msg = "%s%s: %s" % (how, type(cur).__name__, cur)
        for d in dirs:
            msg = msg.replace(d, "@DIR@")
        out.append(msg)
        if cur.__cause__ is not None:
            cur, how = cur.__cause__, "cause "
        elif cur.__context__ is not None and not cur.__suppress_context__:
            cur, how = cur.__context__, "context "
        else:
            cur = None
    return out


def outcome(f, args, dirs):
    try:
        return {"code": f(*args)}
    except Exception as e:
        return {"error": describe(e, dirs)}


class GoldenTest(unittest.TestCase):
    """The parser gives Debian's answers for the hand-written corpus."""

    def test_corpus(self):
        with open(os.path.join(CORPUS, "golden.json")) as f:
            golden = json.load(f)
        d = CORPUS + "/"
        names = sorted(n for n in os.listdir(CORPUS) if n.endswith(".psp"))
        self.assertEqual(sorted(golden), names, "golden.json and the corpus disagree")
        self.assertGreater(len(names), 50)
        for name in names:
            with self.subTest(name):
                want = golden[name]
                self.assertEqual(outcome(_psp.parse, (name, d), [d, d[:-1]]), want["parse"])
                if "parsestring" in want:
                    with open(os.path.join(CORPUS, name), "rb") as f:
                        src = f.read()
                    self.assertEqual(outcome(_psp.parsestring, (src,), []), want["parsestring"])

    def test_documented_example(self):
        # mod_python.md §5.5, verified with the Debian module
        self.assertEqual(_psp.parsestring(b"<%\nfor n in range(3):\n%>\nrow\n<%\n%>\nend"),
                         'req.write("""""",0);\nfor n in range(3):\n\treq.write("""\nrow\n""",0);\n'
                         'req.write("""\nend""",0)\n')


class ParserTest(unittest.TestCase):
    """Edges of the parser that the corpus cannot hold."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mpgate-psp-parser-")
        self.addCleanup(shutil.rmtree, self.dir)

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_arguments_as_the_C_module(self):
        cases = [
            (_psp.parse, (), {}, TypeError, "function takes at least 1 argument (0 given)"),
            (_psp.parse, ("a", "b", "c"), {}, TypeError, "function takes at most 2 arguments (3 given)"),
            (_psp.parse, (b"x",), {}, TypeError, "argument 1 must be str, not bytes"),
            (_psp.parse, ("x", None), {}, TypeError, "argument 2 must be str, not None"),
            (_psp.parse, ("a\0b",), {}, ValueError, "embedded null character"),
            (_psp.parse, (), {"filename": "x"}, TypeError, "parse() takes no keyword arguments"),
            (_psp.parsestring, (), {}, TypeError, "function takes exactly 1 argument (0 given)"),
            (_psp.parsestring, ("str",), {}, TypeError, "argument 1 must be bytes, not str"),
            (_psp.parsestring, (bytearray(b"x"),), {}, TypeError, "argument 1 must be bytes, not bytearray"),
            (_psp.parsestring, (None,), {}, TypeError, "argument 1 must be bytes, not None"),
        ]
        for f, args, kw, exc, msg in cases:
            with self.subTest(f=f.__name__, args=args, kw=kw):
                with self.assertRaises(exc) as cm:
                    f(*args, **kw)
                self.assertEqual(str(cm.exception), msg)

    def test_missing_file(self):
        with self.assertRaises(FileNotFoundError) as cm:
            _psp.parse("nosuch.psp", self.dir + "/")
        self.assertEqual(cm.exception.filename, self.dir + "/nosuch.psp")
        self.assertIsNone(cm.exception.__context__)

    def test_absolute_include(self):
        # Debian's module segfaults here (it frees a pointer into flex's buffer)
        inc = self.write("inc/abs.psp", b"[abs]")
        self.write("page.psp", b'a<%@ include file="' + inc.encode() + b'" %>b')
        self.assertEqual(_psp.parse("page.psp", self.dir + "/"), 'req.write("""a[abs]b""",0)\n')

    def test_include_of_a_directory_is_an_error(self):
        # Debian's module exits the process ("input in flex scanner failed")
        os.makedirs(os.path.join(self.dir, "sub"))
        self.write("page.psp", b'a<%@ include file="sub" %>b')
        with self.assertRaises(IsADirectoryError):
            _psp.parse("page.psp", self.dir + "/")

    def test_include_cycle_fails_at_once(self):
        self.write("a.psp", b'a<%@ include file="b.psp" %>')
        self.write("b.psp", b'b<%@ include file="a.psp" %>')
        with self.assertRaises(OSError) as cm:
            _psp.parse("a.psp", self.dir + "/")
        self.assertEqual(cm.exception.errno, errno.EMFILE)
        self.assertEqual(cm.exception.filename, self.dir + "/a.psp")

    def test_include_nesting_is_bounded(self):
        depth = _psp.MAX_INCLUDE_DEPTH + 5
        for i in range(depth):
            self.write("n%d.psp" % i, b'<%@ include file="n' + str(i + 1).encode() + b'.psp" %>')
        self.write("n%d.psp" % depth, b"end")
        with self.assertRaises(OSError) as cm:
            _psp.parse("n0.psp", self.dir + "/")
        self.assertEqual(cm.exception.errno, errno.EMFILE)

    def test_parsestring_includes_from_the_current_directory(self):
        # Debian's module aborts the process (fopen without the GIL)
        self.write("inc.psp", b"[inc]")
        cwd = os.getcwd()
        os.chdir(self.dir)
        try:
            self.assertEqual(_psp.parsestring(b'x<%@ include file="inc.psp" %>y'), 'req.write("""x[inc]y""",0)\n')
            with self.assertRaises(FileNotFoundError):
                _psp.parsestring(b'x<%@ include file="nope.psp" %>y')
        finally:
            os.chdir(cwd)

    def test_recording_lists_the_files_read(self):
        self.write("inc/one.psp", b"1")
        page = self.write("page.psp", b'<%@ include file="inc/one.psp" %><%@ include file="inc/one.psp" %>')
        with _psp._recording() as files:
            _psp.parse("page.psp", self.dir + "/")
        self.assertEqual([f for f, _ in files], [page, self.dir + "/inc/one.psp", self.dir + "/inc/one.psp"])
        st = os.stat(page)
        self.assertEqual(files[0][1], (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev))
        with _psp._recording() as none:
            _psp.parsestring(b"x")
        self.assertEqual(none, [])

    def test_lengths_that_overflow_the_C_buffer(self):
        # Debian's module writes one byte past its buffer for these (the
        # Apache child may die: "malloc(): mismatching next->prev_size")
        for n in (249, 3076):
            self.assertEqual(_psp.parsestring(b"a" * n), 'req.write("""' + "a" * n + '""",0)\n')

    def test_long_input(self):
        src = b"<%\nfor i in range(2):\n%>" + b'"row" \\n\r\n' * 20000 + b"<%\n%>"
        code = _psp.parsestring(src)
        self.assertEqual(code.count('\\"row\\" \\\\n\n'), 20000)
        compile(code, "x", "exec")


# ---------------------------------------------------------------------------
# Pages run by the worker.

PAGES = {
    "hello.psp": '<%\nfor i in range(3):\n%><%= i %>,<%\n%>\n<%@ include file="inc/part.psp" %>\n',
    "inc/part.psp": "part one",
    "redirect.psp": "<%\npsp.redirect('/elsewhere')\n%>",
    "server_return.psp": "<%\nraise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)\n%>",
    "raise.psp": "<%\nraise ValueError('boom')\n%>",
    "errpage.psp": "x<%\npsp.set_error_page('handler.psp')\nraise KeyError('k')\n%>",
    "handler.psp": "handled <%= exception[0].__name__ %> <%= exception[1] %>",
    "session.psp": "<%\nsession['n'] = session.get('n', 0) + 1\n%>n=<%= session['n'] %> held=<%= req.session is session %>",
    "form.psp": "<%= sorted((k, form.getfirst(k)) for k in form.keys()) %>",
    "names.psp": "<%= sorted(k for k in globals() if not k.startswith('__')) %>",
    "run.py": '''
from mod_python import apache, psp, Session

def handler(req):
    req.content_type = "text/plain"
    return globals()[req.args](req)

def string(req):
    psp.PSP(req, string=b"s=<%= v %>;", vars={"v": 1}).run({"v": 2})
    psp.PSP(req, string=b"s=<%= v %>;", vars={"v": 3}).run()
    return apache.OK

def own_session(req):
    s = Session.Session(req)
    s["h"] = 1
    psp.PSP(req, "session.psp").run()
    req.write(" locked=%s keys=%s" % (s._locked, sorted(s)))
    return apache.OK

def bounded(req):
    c = psp.HitsCache(size=3)
    for i in range(10):
        c.store(i, str(i))
        c.get(0)
    req.write(repr(sorted(c.cache)))
    return apache.OK
''',
}


def entry(handler, directory):
    return {"handler": handler, "directory": directory, "is_location": False, "silent": False}


class PageTest(unittest.TestCase):
    """One worker and one session store for the class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.site = h.make_site("mpgate-psp-test-", PAGES)
        cls.store = h.SessionStore()
        cls.worker = h.WorkerProcess(store=cls.store)
        cls.next_id = 1

    @classmethod
    def tearDownClass(cls):
        h.finish_worker(cls.worker, cls.tmp)

    def tearDown(self):
        self.assertEqual(self.store.locks, {}, "session locks held after the test")

    def get(self, page, handler="mod_python.psp", args=None, debug=True, method="GET", body=b"", headers=()):
        conf = h.config(handlers={"PythonHandler": [entry(handler, self.site)]},
                        directives=[["PythonDebug", "1" if debug else "0"]])
        cls = type(self)
        rid = cls.next_id
        cls.next_id += 1
        meta = h.meta("/" + page, os.path.join(self.site, page), document_root=self.site, args=args,
                      method=method)
        return self.worker.request(rid, conf, conf_id=rid, meta_=meta, body=body,
                                   params_=h.params(list(headers)))

    def ok(self, r):
        if r.status != 200:
            self.fail("status %s, body %r, log:\n%s" % (r.status, r.body[:3000], r.log_text()))
        return r.body.decode("utf-8")

    def write_page(self, name, text, mtime=None):
        path = os.path.join(self.site, name)
        with open(path, "w") as f:
            f.write(text)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    def test_page(self):
        r = self.get("hello.psp")
        self.assertEqual(self.ok(r), "0,1,2,\npart one\n")
        self.assertEqual(r.header("Content-Type"), "text/html")

    def test_reload_on_page_and_include_change(self):
        t = time.time() - 100
        self.write_page("re.psp", 'A <%@ include file="inc/re.psp" %>', t)
        self.write_page("inc/re.psp", "one", t)
        self.assertEqual(self.ok(self.get("re.psp")), "A one")
        self.assertEqual(self.ok(self.get("re.psp")), "A one")
        # the include: same size, new mtime
        self.write_page("inc/re.psp", "two", t + 1)
        self.assertEqual(self.ok(self.get("re.psp")), "A two")
        # the include: same size and mtime, new inode
        tmp = self.write_page("inc/re.new", "tri", t + 1)
        os.rename(tmp, os.path.join(self.site, "inc/re.psp"))
        self.assertEqual(self.ok(self.get("re.psp")), "A tri")
        # the page: same mtime, new size
        self.write_page("re.psp", 'AB <%@ include file="inc/re.psp" %>', t)
        self.assertEqual(self.ok(self.get("re.psp")), "AB tri")
        # an include gone: the parse fails, and is tried again next time
        os.unlink(os.path.join(self.site, "inc/re.psp"))
        r = self.get("re.psp")
        self.assertEqual(r.status, 500)
        self.assertIn(b"FileNotFoundError", r.body)
        self.assertNotIn(b"_psp.py", r.body, "the parser's frames stand in for C: not shown")
        self.write_page("inc/re.psp", "back", t + 2)
        self.assertEqual(self.ok(self.get("re.psp")), "AB back")

    def test_server_return_reaches_the_dispatcher(self):
        r = self.get("redirect.psp")
        self.assertEqual(r.status, 302, r.body)
        self.assertEqual(r.header("Location"), "/elsewhere")
        self.assertNotIn(b"Traceback", r.body)
        r = self.get("server_return.psp")
        self.assertEqual((r.status, r.end.result), (None, 403), r.body)

    def test_exception_is_rewrapped_as_in_3_5(self):
        r = self.get("raise.psp")
        self.assertEqual(r.status, 500)
        self.assertIn(b"During handling of the above exception, another exception occurred", r.body)
        self.assertIn(b"raise et(ev).with_traceback(etb)", r.body)

    def test_error_page(self):
        self.assertEqual(self.ok(self.get("errpage.psp")), "xhandled KeyError 'k'")

    def test_session_made_by_the_page_is_saved_and_unlocked(self):
        r = self.get("session.psp")
        self.assertEqual(self.ok(r), "n=1 held=True")
        cookie = [v for k, v in r.headers if k.lower() == "set-cookie"][0].split(";")[0]
        r = self.get("session.psp", headers=[("HTTP_COOKIE", cookie)])
        self.assertEqual(self.ok(r), "n=2 held=True")
        sid = cookie.split("=")[1]
        methods = self.store.methods(sid)
        self.assertIn("session.unlock", methods)

    def test_handlers_session_is_used_not_unlocked(self):
        body = self.ok(self.get("x", handler="run", args="own_session"))
        self.assertEqual(body, "n=1 held=True locked=1 keys=['h', 'n']")

    def test_form(self):
        r = self.get("form.psp", method="POST", body=b"b=2&a=1&e=",
                     headers=[("CONTENT_TYPE", "application/x-www-form-urlencoded")])
        # util's FieldStorage on Python 3: names of an urlencoded body are bytes
        self.assertEqual(self.ok(r), "[(b'a', Field(b'a', b'1')), (b'b', Field(b'b', b'2')), (b'e', Field(b'e', b''))]")

    def test_string_pages_and_vars(self):
        self.assertEqual(self.ok(self.get("x", handler="run", args="string")), "s=2;s=3;")

    def test_page_globals_are_3_5s(self):
        names = ["FileCache", "HitsCache", "PSP", "PSPInterface", "PY2", "Session", "_apache", "_psp",
                 "apache", "code2str", "dbm", "dbm_cache_get", "dbm_cache_store", "dbm_cache_type",
                 "dbm_types", "escape", "form", "handler", "marshal", "mem_fcache", "mem_scache", "os",
                 "parse", "parsestring", "path_split", "psp", "req", "session", "str2code", "sys",
                 "tempdir", "tempfile", "types", "util"]
        self.assertEqual(self.ok(self.get("names.psp")), repr(names))

    def test_caches_are_bounded_lru(self):
        self.assertEqual(self.ok(self.get("x", handler="run", args="bounded")), "[0, 8, 9]")

    def test_missing_page_is_404(self):
        self.assertEqual(self.get("nosuch.psp").end.result, 404)

    def test_source_view(self):
        body = self.ok(self.get("hello.psp_"))
        self.assertIn("PSP-produced Python Code:", body)
        self.assertIn("<font color=green>&lt;%@&nbsp;include&nbsp;file=&quot;inc/part.psp&quot;&nbsp;%&gt;</font>", body)
        # without PythonDebug the name is a file that does not exist
        self.assertEqual(self.get("hello.psp_", debug=False).end.result, 404)


if __name__ == "__main__":
    unittest.main()
