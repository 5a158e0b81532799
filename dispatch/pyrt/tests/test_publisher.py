"""Tests of mod_python.publisher (mod_python/publisher.py, mod_python.md
§5.4): the reading of __auth__, __access__ and __auth_realm__ from a
function's bytecode and process_auth's answers, in-process; and pages served
by the real worker process over the wire (tests/harness.py): the file and
object mapping, the traversal rules, authentication, what is published, the
log lines, page loading and reloading through mpgate's importer, get_page.
cmd/mpgate's TestPublisher compares the same behaviour with real
mod_python."""

import base64
import dis
import os
import textwrap
import unittest

from mod_python import apache, publisher
from tests import harness as h


class FakeRequest:
    """What process_auth uses of a request."""

    def __init__(self, credentials=None, header=None):
        self.headers_in = {}
        if credentials is not None:
            self.headers_in["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        if header is not None:
            self.headers_in["Authorization"] = header
        self.err_headers_out = {}
        self.logs = []

    def log_error(self, message, level=apache.APLOG_ERR):
        self.logs.append((level, message))


AUTH_PAGE = '''
GLOBAL_USERS = {"g": "gp"}

def gcheck(req, user, pw):
    return pw == "gpw"

class Conf:
    users = ("u1", "u2")

def nested_funcs(req):
    def __auth__(req, user, pw):
        return pw == "nested"
    def __access__(req, user):
        return user == "spam"
    return "x"

def literals(req):
    __auth__ = {"carol": "pw"}
    __auth_realm__ = "Nested Realm"
    return "y"

def big_literals(req):
    __auth__ = {"a": "1", "b": "2", "c": "3", "d": "4"}
    __access__ = ["a", "b", "c", "d"]

def a_tuple(req):
    __access__ = ("alice",)

def a_lambda(req):
    __auth__ = lambda req, u, p: p == "lam"

def globals_(req):
    __auth__ = gcheck
    __access__ = Conf.users

def global_dict(req):
    __auth__ = GLOBAL_USERS

def undefined_global(req):
    __auth__ = NO_SUCH_NAME

def a_call(req):
    __auth__ = dict(a="b")

def a_closure(req):
    secret = req.secret
    def __auth__(req, u, p):
        return p == secret

def conditional(req):
    __auth__ = {"a": "b"} if req else {"c": "d"}

def twice(req):
    __auth_realm__ = "one"
    __auth_realm__ = "two"

def same_twice(req):
    __auth_realm__ = "one"
    x = 1
    __auth_realm__ = "one"

def defaults(req):
    def __auth__(req, user, pw, expected="dflt", *, kw="k"):
        return pw == expected + kw

def annotated(req):
    def __auth__(req: object, user: str, pw: str) -> bool:
        return pw == "ann"

def false(req):
    __auth__ = False

def zero_access(req):
    __access__ = 0

def plain(req):
    return 1

def reads_only(req):
    return __auth__

def realm_only(req):
    __auth_realm__ = "Realm Only"

def after_loop(req):
    for i in range(3):
        pass
    __auth__ = {"loop": "ok"}

def in_try(req):
    try:
        __access__ = ["t"]
    except Exception:
        pass

def used_by_inner(req):
    def __auth__(req, u, p):
        return p == "x"
    def inner():
        return __auth__
    return inner

def realm_attr(req):
    def __auth__(req, u, p):
        return False

realm_attr.__auth_realm__ = "From Attribute"

class Holder:
    def method(self, req):
        __auth_realm__ = "Method Realm"
        def __auth__(req, user, passwd):
            return user == "meth" and passwd == "od"
        def __access__(req, user):
            return user == "meth"
        return "nested method ok"

holder = Holder()

class Attrs:
    __auth_realm__ = "Attrs"
    __auth__ = {"ann": "pw"}
    __access__ = ["ann"]

attrs = Attrs()
'''


class ProcessAuthTest(unittest.TestCase):
    """process_auth on the objects of AUTH_PAGE (compiled as a page file
    would be), with and without credentials."""

    @classmethod
    def setUpClass(cls):
        cls.page = {"__builtins__": __builtins__}
        exec(compile(AUTH_PAGE, "/srv/www/auth_page.py", "exec"), cls.page)

    def auth(self, name, credentials=None, header=None):
        """Returns ("ok", realm, user) or (status, WWW-Authenticate), and the
        log lines."""
        req = FakeRequest(credentials, header)
        obj = self.page[name] if "." not in name else getattr(self.page[name.split(".")[0]], name.split(".")[1])
        try:
            realm, user, _ = publisher.process_auth(req, obj)
            out = ("ok", realm, user)
        except apache.SERVER_RETURN as e:
            out = (e.args[0], req.err_headers_out.get("WWW-Authenticate"))
        return out, [m for _, m in req.logs]

    def check(self, name, credentials, want, log=None):
        got, logs = self.auth(name, credentials)
        self.assertEqual(got, want, "%s with %r" % (name, credentials))
        if log is None:
            self.assertEqual(logs, [], name)
        else:
            self.assertEqual(len(logs), 1, logs)
            self.assertIn(log, logs[0])

    def test_nested_functions(self):
        self.check("nested_funcs", "spam:nested", ("ok", "unknown", "spam"))
        self.check("nested_funcs", "spam:bad", (401, 'Basic realm = "unknown"'))
        self.check("nested_funcs", "eve:nested", (403, None))
        self.check("nested_funcs", None, (401, 'Basic realm="unknown"'))

    def test_nested_functions_see_the_page_globals(self):
        self.check("globals_", "u1:gpw", ("ok", "unknown", "u1"))
        self.check("globals_", "u3:gpw", (403, None))
        self.check("global_dict", "g:gp", ("ok", "unknown", "g"))
        self.check("global_dict", "g:x", (401, 'Basic realm = "unknown"'))

    def test_literals(self):
        self.check("literals", "carol:pw", ("ok", "Nested Realm", "carol"))
        self.check("literals", "carol:x", (401, 'Basic realm = "Nested Realm"'))
        self.check("literals", None, (401, 'Basic realm="Nested Realm"'))
        self.check("big_literals", "d:4", ("ok", "unknown", "d"))
        self.check("big_literals", "e:4", (401, 'Basic realm = "unknown"'))
        self.check("a_tuple", "alice:x", ("ok", "unknown", "alice"))
        self.check("a_tuple", "bob:x", (403, None))
        self.check("false", "a:b", (401, 'Basic realm = "unknown"'))
        self.check("zero_access", None, (403, None))
        self.check("realm_only", None, ("ok", "Realm Only", None))
        self.check("same_twice", None, ("ok", "one", None))

    def test_lambdas_defaults_annotations(self):
        self.check("a_lambda", "u:lam", ("ok", "unknown", "u"))
        self.check("a_lambda", "u:x", (401, 'Basic realm = "unknown"'))
        self.check("defaults", "a:dfltk", ("ok", "unknown", "a"))
        self.check("annotated", "a:ann", ("ok", "unknown", "a"))

    def test_control_flow_around_the_assignment(self):
        self.check("after_loop", "loop:ok", ("ok", "unknown", "loop"))
        self.check("in_try", "t:x", ("ok", "unknown", "t"))
        self.check("used_by_inner", "a:x", ("ok", "unknown", "a"))

    def test_what_cannot_be_known_refuses_and_logs(self):
        line = AUTH_PAGE.split("\n").index('    __auth__ = dict(a="b")') + 1
        self.check("a_call", "a:b", (401, 'Basic realm = "unknown"'),
                   log="cannot tell the value of __auth__ in a_call (/srv/www/auth_page.py, line %d) without "
                       "calling it: it is computed; access is refused" % line)
        self.check("a_closure", "a:b", (401, 'Basic realm = "unknown"'), log="uses variables of a_closure")
        self.check("conditional", "a:b", (401, 'Basic realm = "unknown"'), log="it is computed")
        self.check("undefined_global", "a:b", (401, 'Basic realm = "unknown"'),
                   log="the global name 'NO_SUCH_NAME' is not defined")
        self.check("twice", None, ("ok", "unknown", None), log="assigned more than once; the realm stays")

    def test_functions_without_auth(self):
        self.check("plain", "a:b", ("ok", "unknown", None))
        self.check("reads_only", "a:b", ("ok", "unknown", None))

    def test_method_and_realm_attribute(self):
        self.check("holder.method", "meth:od", ("ok", "Method Realm", "meth"))
        self.check("holder.method", "meth:no", (401, 'Basic realm = "Method Realm"'))
        self.check("holder.method", None, (401, 'Basic realm="Method Realm"'))
        self.check("realm_attr", "a:b", (401, 'Basic realm = "From Attribute"'))

    def test_object_attributes(self):
        self.check("attrs", "ann:pw", ("ok", "Attrs", "ann"))
        self.check("attrs", "ann:no", (401, 'Basic realm = "Attrs"'))
        self.check("attrs", "bob:pw", (401, 'Basic realm = "Attrs"'))

    def test_credentials_parsed_only_when_needed(self):
        for header in ("Basic !!!", 'Digest username="x"', "Basic " + base64.b64encode(b"no colon").decode(),
                       "Basic " + base64.b64encode(b"\xff:\xfe").decode()):
            with self.subTest(header):
                got, _ = self.auth("attrs", header=header)
                self.assertEqual(got, (400, None))
                got, _ = self.auth("plain", header=header)
                self.assertEqual(got, ("ok", "unknown", None))
        got, _ = self.auth("attrs", header="Basic " + base64.b64encode(b":pw").decode())
        self.assertEqual(got, (401, 'Basic realm="Attrs"'), "an empty user is no user")

    def test_unreadable_bytecode_refuses(self):
        def page_func(req):
            __auth__ = {"a": "b"}
        orig = dis.get_instructions

        def broken(*a, **k):
            raise RuntimeError("bytecode of the future")
        dis.get_instructions = broken
        try:
            req = FakeRequest("a:b")
            with self.assertRaises(apache.SERVER_RETURN) as cm:
                publisher.process_auth(req, page_func)
        finally:
            dis.get_instructions = orig
        self.assertEqual(cm.exception.args[0], 401)
        self.assertIn("could not be read (RuntimeError: bytecode of the future)", req.logs[0][1])

    def test_analysis_is_cached_per_code_object(self):
        f = self.page["literals"]
        self.assertIs(publisher._analyse(f.__code__), publisher._analyse(f.__code__))


PAGES = {
    "page.py": '''
        from mod_python import apache, util
        from os import getcwd

        VALUE = "initial"

        def index(req):
            return "page index"

        def hello(req, name="world"):
            return "hello %s" % name

        def kwargs(req, **kw):
            return "kw=%r" % sorted(kw.items())

        def set_value(req, v):
            global VALUE
            VALUE = v
            return "set"

        def raw(req):
            return b"bytes"

        def nothing(req):
            return None

        def html(req):
            return "<html><body>x</body></HTML >\\n"

        def html_far(req):
            return "</html>" + " " * 120

        def ctype(req):
            req.content_type = "text/x-custom"
            return "custom"

        def gen(req):
            yield "x"

        def returns_callable(req):
            return hello

        class Obj:
            attr = "attribute"

            def method(self, req, x="0"):
                return "method %s" % x

            def _private(self, req):
                return "private"

        obj = Obj()
        mapping = {"k": "v"}
        text = "a string"
        a_list = [1, 2]
        none_attr = None
        gen_obj = (c for c in "ab")
    ''',
    "index.py": '''
        def index(req):
            return "index index"

        def foobar(req):
            return "index foobar"
    ''',
    "getpage.py": '''
        from mod_python import publisher

        def value(req):
            return publisher.get_page(req, "page.py").VALUE

        def same(req):
            a = publisher.get_page(req, "page.py")
            b = publisher.get_page(req, req.filename.rsplit("/", 1)[0] + "/page.py")
            c = publisher.page_cache
            return "%s %s" % (a is b, type(a).__name__)

        def missing(req):
            publisher.get_page(req, "nope.py")
    ''',
    "reload.py": '''
        VALUE = "one"

        def index(req):
            return VALUE
    ''',
    "sub/index.py": '''
        def index(req):
            return "sub index"
    ''',
    "secure.py": '''
        __auth_realm__ = "Zone"
        __auth__ = {"alice": "pw"}

        def index(req):
            return "secure"

        def nested(req):
            def __access__(req, user):
                return user == "nobody"
            return "never"
    ''',
    "page.xyz.py": '''
        def index(req):
            return "dotted file name"
    ''',
}


class PublisherTest(unittest.TestCase):
    """Pages served by one worker, in the site of PAGES."""

    @classmethod
    def setUpClass(cls):
        files = {k: textwrap.dedent(v) for k, v in PAGES.items()}
        cls.tmp, cls.site = h.make_site("mpgate-publisher-test-", files)
        cls.worker = h.WorkerProcess()
        cls.next_id = 1

    @classmethod
    def tearDownClass(cls):
        h.finish_worker(cls.worker, cls.tmp)

    def get(self, filename, path_info="", args=None, method="GET", body=b"", headers=(), debug=True,
            autoreload=True, exts="", ctype=None):
        """Serves a request Apache mapped to site/filename + path_info."""
        directives = [["PythonDebug", "1" if debug else "0"], ["PythonAutoReload", "1" if autoreload else "0"]]
        conf = h.config(handlers={"PythonHandler": [{"handler": "mod_python.publisher", "directory": self.site,
                                                     "is_location": False, "silent": False}]},
                        directives=directives, addhandler_exts=exts)
        cls = type(self)
        rid = cls.next_id
        cls.next_id += 1
        uri = "/" + filename + path_info
        meta = h.meta(uri, os.path.join(self.site, filename), document_root=self.site.rstrip("/"), args=args,
                      method=method, path_info=path_info, unparsed_uri=uri + ("?" + args if args else ""))
        extra = list(headers) + [("REQUEST_METHOD", method)]
        if ctype is not None:
            extra.append(("CONTENT_TYPE", ctype))
        return self.worker.request(rid, conf, conf_id=rid, meta_=meta, body=body, params_=h.params(extra))

    def status(self, r):
        return r.status if r.status is not None else r.end.result

    def header(self, r, name):
        """A response header, or for an error answer the daemon makes, one
        of the headers END carries for it."""
        if r.status is not None:
            return r.header(name)
        return dict((k.lower(), v) for k, v in r.end.headers).get(name.lower())

    def ok(self, r):
        if r.status != 200:
            self.fail("status %s, body %r, log:\n%s" % (self.status(r), r.body[:3000], r.log_text()))
        return r.body.decode("utf-8")

    def test_file_and_object_mapping(self):
        cases = [
            ("page.py", "", "page index"),
            ("page.py", "/", "page index"),
            ("page.py", "/hello", "hello world"),
            ("page.py", "/hello/", "hello world"),
            ("page", "", "page index"),
            ("page", "/hello", "hello world"),
            ("", "", "index index"),
            ("index", "", "index index"),
            ("foobar", "", "index foobar"),
            ("sub/", "", "sub index"),
            ("page.py", "/obj/attr", "attribute"),
            ("page.py", "/obj.attr", "attribute"),
            ("page.xyz.py", "", "dotted file name"),
        ]
        for filename, path_info, want in cases:
            with self.subTest(filename + path_info):
                self.assertEqual(self.ok(self.get(filename, path_info)), want)

    def test_addhandler_extensions_are_stripped(self):
        self.assertEqual(self.ok(self.get("page.xyz", "/hello", exts="xyz")), "hello world")
        self.assertEqual(self.ok(self.get("page.xyz", "", exts="abc xyz")), "page index")
        r = self.get("page.xyz", "/hello")
        self.assertEqual(self.status(r), 404, "page.xyz.py and index.py have no hello")

    def test_not_found(self):
        for filename, path_info in (("nosuch.py", ""), ("sub/nosuch", "/x"), ("page.py", "/nosuch"),
                                    ("page.py", "/obj/nosuch"), ("page.py", "/a_list/0")):
            with self.subTest(filename + path_info):
                self.assertEqual(self.status(self.get(filename, path_info)), 404)

    def test_traversal_rules(self):
        forbidden = ["/_private", "/__builtins__", "/obj/_private", "/apache", "/util/FieldStorage",
                     "/Obj", "/getcwd", "/index/__code__", "/index/func_code", "/obj/method/im_func",
                     "/mapping/keys", "/text/upper"]
        for path_info in forbidden:
            with self.subTest(path_info):
                r = self.get("page.py", path_info)
                self.assertEqual(self.status(r), 403, r.body)
        published = {"/mapping": "{'k': 'v'}", "/text": "a string", "/a_list": "[1, 2]",
                     "/obj/method": "method 0"}
        for path_info, want in published.items():
            with self.subTest(path_info):
                self.assertEqual(self.ok(self.get("page.py", path_info)), want)
        self.assertRegex(self.ok(self.get("page.py", "/gen_obj")), r"^<generator object <genexpr> at 0x[0-9a-f]+>$")

    def test_warnings_logged(self):
        r = self.get("page.py", "/_private")
        self.assertIn((apache.APLOG_WARNING, "Cannot traverse _private in /page.py/_private because it starts "
                       "with an underscore"), r.logs)
        r = self.get("page.py", "/index/func_code")
        self.assertTrue(any(m.startswith("Cannot traverse func_code in /page.py/index/func_code because "
                                         "<function index at 0x") for _, m in r.logs), r.logs)
        r = self.get("page.py", "/Obj")
        self.assertTrue(any(m.startswith("Cannot publish Obj in /page.py/Obj because <class ") for _, m in r.logs),
                        r.logs)

    def test_empty_path_part_fails_as_in_3_5(self):
        r = self.get("page.py", "/obj..attr")
        self.assertEqual(r.status, 500)
        self.assertIn(b"IndexError: string index out of range", r.body)

    def test_arguments(self):
        self.assertEqual(self.ok(self.get("page.py", "/hello", args="name=x")), "hello x")
        self.assertEqual(self.ok(self.get("page.py", "/kwargs", args="a=1&b=2")), "kw=[('a', '1'), ('b', '2')]")
        r = self.get("page.py", "/hello", method="POST", body=b"name=posted",
                     ctype="application/x-www-form-urlencoded")
        self.assertEqual(self.ok(r), "hello world", "3.5 names urlencoded body fields by bytes: not arguments")
        body = b'--XX\r\nContent-Disposition: form-data; name="name"\r\n\r\nmultipart\r\n--XX--\r\n'
        r = self.get("page.py", "/hello", method="POST", body=body, ctype="multipart/form-data; boundary=XX")
        self.assertEqual(self.ok(r), "hello b'multipart'", "3.5: multipart values are bytes")
        self.assertEqual(self.ok(self.get("page.py", "/returns_callable", args="name=again")), "hello again")

    def test_methods(self):
        for method in ("PUT", "DELETE", "OPTIONS"):
            with self.subTest(method):
                r = self.get("page.py", "/hello", method=method)
                self.assertEqual(self.status(r), 405)
        r = self.get("page.py", "/hello", method="HEAD")
        self.assertEqual((r.status, r.header("Content-Type")), (200, "text/plain"))

    def test_published_values_and_content_type(self):
        cases = [
            ("/raw", "b'bytes'", "text/plain"),
            ("/html", "<html><body>x</body></HTML >\n", "text/html"),
            ("/html_far", "</html>" + " " * 120, "text/plain"),
            ("/ctype", "custom", "text/x-custom"),
        ]
        for path_info, body, ctype in cases:
            with self.subTest(path_info):
                r = self.get("page.py", path_info)
                self.assertEqual((self.ok(r), r.header("Content-Type")), (body, ctype))
        self.assertRegex(self.ok(self.get("page.py", "/gen")), r"^<generator object gen at 0x[0-9a-f]+>$")

    def test_nothing_to_publish(self):
        for path_info in ("/nothing", "/none_attr"):
            with self.subTest(path_info):
                r = self.get("page.py", path_info)
                self.assertEqual((r.status, r.body), (200, b""))
                self.assertIn((apache.APLOG_ERR, "mod_python.publisher: nothing to publish."), r.logs)
                r = self.get("page.py", path_info, debug=False)
                self.assertEqual(r.logs, [], "PythonDebug Off")

    def test_authentication(self):
        def creds(s):
            return [("HTTP_AUTHORIZATION", "Basic " + base64.b64encode(s.encode()).decode())]
        r = self.get("secure.py")
        self.assertEqual((self.status(r), self.header(r, "WWW-Authenticate")), (401, 'Basic realm="Zone"'))
        self.assertEqual(self.ok(self.get("secure.py", headers=creds("alice:pw"))), "secure")
        r = self.get("secure.py", headers=creds("alice:no"))
        self.assertEqual((self.status(r), self.header(r, "WWW-Authenticate")), (401, 'Basic realm = "Zone"'))
        r = self.get("secure.py", "/nested", headers=creds("alice:pw"))
        self.assertEqual(self.status(r), 403)
        r = self.get("secure.py", headers=[("HTTP_AUTHORIZATION", "Basic !!!")])
        self.assertEqual(self.status(r), 400)
        r = self.get("page.py", "/hello", headers=[("HTTP_AUTHORIZATION", "Basic !!!")])
        self.assertEqual(self.ok(r), "hello world", "credentials are read only where needed")

    def test_page_loading_logs_and_reloading(self):
        path = os.path.join(self.site, "reload.py")
        r = self.get("reload.py")
        self.assertEqual(self.ok(r), "one")
        self.assertIn((apache.APLOG_NOTICE, "Publisher loading page %s" % path), r.logs)
        r = self.get("reload.py")
        self.assertEqual(r.logs, [], "loaded once")
        with open(path, "w") as f:
            f.write("VALUE = 'two'\n\ndef index(req):\n    return VALUE\n")
        self.worker.invalidate(changed=[path])
        r = self.get("reload.py", autoreload=False)
        self.assertEqual((self.ok(r), r.logs), ("one", []), "PythonAutoReload Off keeps the page")
        r = self.get("reload.py", debug=False)
        self.assertEqual((self.ok(r), r.logs), ("two", []), "reloaded; the notice follows PythonDebug")
        with open(path, "w") as f:
            f.write("VALUE = 'three'\n\ndef index(req):\n    return VALUE\n")
        self.worker.invalidate(changed=[path])
        r = self.get("reload.py")
        self.assertEqual(self.ok(r), "three")
        self.assertIn((apache.APLOG_NOTICE, "Publisher reloading page %s" % path), r.logs)
        self.assertEqual([(m["file"], m["generation"]) for m in r.modules()], [(path, 3)])

    def test_get_page_is_the_published_module(self):
        self.assertEqual(self.ok(self.get("page.py", "/set_value", args="v=shared")), "set")
        r = self.get("getpage.py", "/value")
        self.assertEqual(self.ok(r), "shared", "the module the publisher serves, with its globals")
        self.assertEqual(self.ok(self.get("getpage.py", "/same")), "True module")
        deps = {m["file"]: m["deps"] for m in r.modules()}
        self.assertIn(os.path.join(self.site, "page.py"), deps.get(os.path.join(self.site, "getpage.py"), []),
                      "the calling page depends on the page it got")
        r = self.get("getpage.py", "/missing")
        self.assertEqual(self.status(r), 404)
        self.assertIn((apache.APLOG_ERR, "mod_python.publisher: get_page: no page file %s"
                       % os.path.join(self.site, "nope.py")), r.logs)


if __name__ == "__main__":
    unittest.main()
