"""Tests of mod_python.Cookie: mod_python's own cases (test/test.py
test_Cookie_Cookie, test_Cookie_MarshalCookie with the cookies mod_python
3.2 signed on Python 2), SignedCookie and MarshalCookie on Python 3, and
3.5's formatting and parsing details. The module runs in the test process;
the handler cases also run through the real worker."""

import base64
import hashlib
import hmac
import marshal
import os
import textwrap
import unittest

import _apache
from mod_python import Cookie
from tests import harness as h

# test/test.py test_Cookie_MarshalCookie: MarshalCookies signed with
# "secret" by mod_python on Python 2 (marshal of the str "spam", and of a
# long str whose base64 spans lines before mod_python joins them).
MARSHAL_SHORT = "eggs=d049b2b61adb6a1d895646719a3dc30bcwQAAABzcGFt"
MARSHAL_LONG = ("test=859690207856ec75fc641a7566894e40c1QAAAB0"
                "aGlzIGlzIGEgdmVyeSBsb25nIHZhbHVlLCBsb25nIGxvb"
                "mcgbG9uZyBsb25nIGxvbmcgc28gbG9uZyBidXQgd2UnbG"
                "wgZmluaXNoIGl0IHNvb24=")
LONG_VALUE = b"this is a very long value, long long long long long so long but we'll finish it soon"


class FakeRequest:
    """Just the tables Cookie's functions use."""

    def __init__(self, cookie=None):
        self.headers_in = _apache.table()
        if cookie is not None:
            self.headers_in["Cookie"] = cookie
        self.headers_out = _apache.table()

    def set_cookies(self):
        return [v for k, v in self.headers_out.items() if k == "Set-Cookie"]


class CookieTest(unittest.TestCase):

    def test_str_attributes_in_slot_order(self):
        c = Cookie.Cookie("a", "b", path="/", secure=True, httponly=1, samesite="Lax", max_age=3, expires=0,
                          version=1, domain="x", comment="hi", discard=1, port=80)
        self.assertEqual(str(c), "a=b; version=1; path=/; domain=x; secure; comment=hi; "
                                 "expires=Thu, 01-Jan-1970 00:00:00 GMT; max_age=3; samesite=Lax; discard; "
                                 "port=80; httponly")
        self.assertEqual(repr(Cookie.Cookie("a", "b")), "<Cookie: a=b>")
        # bare words whatever the value, as 3.5
        self.assertEqual(str(Cookie.Cookie("a", "b", secure=False)), "a=b; secure")
        # no quoting
        self.assertEqual(str(Cookie.Cookie("a", "b c;d")), "a=b c;d")

    def test_attributes_are_slots(self):
        c = Cookie.Cookie("a", "b")
        with self.assertRaises(AttributeError):
            c.foo = 1
        # keyword names are lower-cased, so commentURL= cannot be set...
        with self.assertRaises(AttributeError):
            Cookie.Cookie("a", "b", commentURL="u")
        # ...but the attribute can
        c.commentURL = "u"
        self.assertEqual(str(c), "a=b; commentURL=u")
        self.assertEqual(Cookie.Cookie.DOWNGRADE, 0)
        self.assertEqual(Cookie.Cookie.IGNORE, 1)
        self.assertEqual(Cookie.Cookie.EXCEPTION, 3)
        self.assertIsInstance(Cookie.Cookie, Cookie.metaCookie)

    def test_expires(self):
        c = Cookie.Cookie("a", "b")
        c.expires = 86400 * 365
        self.assertEqual(c.expires, "Fri, 01-Jan-1971 00:00:00 GMT")
        c.expires = "Sat, 02-Jan-1971 10:11:12 GMT"
        self.assertEqual(str(c), "a=b; expires=Sat, 02-Jan-1971 10:11:12 GMT")
        with self.assertRaisesRegex(ValueError, "Invalid expires time: 1971-01-02"):
            c.expires = "1971-01-02"

    def test_parse_mod_python_test_Cookie_Cookie(self):
        # test/test.py test_Cookie_Cookie: three cookies, nastily
        # formatted, in two Cookie headers that httpd joins with ", ".
        d = Cookie.Cookie.parse("spam=foo; path=blah;;eggs=bar;, bar=foo")
        self.assertEqual({k: (type(v), v.name, v.value) for k, v in d.items()}, {
            "spam": (Cookie.Cookie, "spam", "foo"), "path": (Cookie.Cookie, "path", "blah"),
            "eggs": (Cookie.Cookie, "eggs", "bar"), "bar": (Cookie.Cookie, "bar", "foo")})

    def test_parse_details(self):
        d = Cookie.Cookie.parse('$Version=1; a = 1 ; b="x\\"y; z" ;c; d=; e=2; e=3; $Path=/')
        self.assertEqual({k: v.value for k, v in d.items()},
                         {"a": "1 ", "b": '"x\\"y; z"', "c": "", "d": "", "e": "3"})
        d = Cookie.Cookie.parse("a=1; b=2; c=3", names=["b", "c"])
        self.assertEqual(sorted(d), ["b", "c"])
        self.assertEqual(Cookie.Cookie.parse(""), {})

    def test_get_cookies_and_add_cookie(self):
        # htdocs/tests.py Cookie_Cookie: every cookie sent back
        req = FakeRequest("spam=foo; path=blah;;eggs=bar;, bar=foo")
        cookies = Cookie.get_cookies(req)
        for k in cookies:
            Cookie.add_cookie(req, cookies[k])
        self.assertEqual(req.set_cookies(), ["spam=foo", "path=blah", "eggs=bar", "bar=foo"])
        self.assertEqual(req.headers_out.get("Cache-Control"), 'no-cache="set-cookie"')
        self.assertEqual(len([k for k, _ in req.headers_out.items() if k == "Cache-Control"]), 1)
        Cookie.add_cookie(req, "made", "up", path="/p")
        self.assertEqual(req.set_cookies()[-1], "made=up; path=/p")

        self.assertEqual(Cookie.get_cookies(FakeRequest()), {})
        self.assertIsNone(Cookie.get_cookie(FakeRequest("a=1"), "b"))
        self.assertEqual(Cookie.get_cookie(FakeRequest("a=1; b=2"), "b").value, "2")


class SignedCookieTest(unittest.TestCase):

    def test_python2_signatures_verify(self):
        # The signature part of mod_python's MarshalCookie is SignedCookie's:
        # a SignedCookie of the same value reproduces 3.2's bytes.
        name, value = MARSHAL_SHORT.split("=", 1)
        self.assertEqual(str(Cookie.SignedCookie(name, value[32:], secret="secret")), MARSHAL_SHORT)
        self.assertEqual(str(Cookie.SignedCookie(name, value[32:], secret=b"secret")), MARSHAL_SHORT)
        d = Cookie.SignedCookie.parse(MARSHAL_SHORT, "secret")
        self.assertIsInstance(d["eggs"], Cookie.SignedCookie)
        self.assertEqual(d["eggs"].value, "cwQAAABzcGFt")

    def test_format(self):
        c = Cookie.SignedCookie("n", "value", secret="k", path="/")
        sig = hmac.new(b"k", b"nvalue", hashlib.md5).hexdigest()
        self.assertEqual(str(c), "n=%svalue; path=/" % sig)
        with self.assertRaisesRegex(Cookie.CookieError, "Cannot sign without a secret"):
            str(Cookie.SignedCookie("n", "v"))

    def test_mismatch(self):
        good = str(Cookie.SignedCookie("n", "value", secret="k"))
        bad = good[:-1] + "X"
        other = str(Cookie.SignedCookie("m", "value", secret="other"))
        s = "%s; %s; plain=1" % (bad, other)
        # DOWNGRADE: plain Cookies with the raw value
        d = Cookie.SignedCookie.parse(s, "k")
        self.assertEqual({k: (type(v).__name__, v.value) for k, v in d.items()},
                         {"n": ("Cookie", bad.split("=", 1)[1]), "m": ("Cookie", other.split("=", 1)[1]),
                          "plain": ("Cookie", "1")})
        # IGNORE: dropped
        d = Cookie.SignedCookie.parse("%s; %s" % (good, s.replace(bad + "; ", "")), "k", Cookie.Cookie.IGNORE)
        self.assertEqual({k: v.value for k, v in d.items()}, {"n": "value"})
        # EXCEPTION
        with self.assertRaisesRegex(Cookie.CookieError, "Incorrectly Signed Cookie: m="):
            Cookie.SignedCookie.parse(other, "k", Cookie.Cookie.EXCEPTION)
        req = FakeRequest("plain=1; n=" + good.split("=", 1)[1])
        c = Cookie.get_cookie(req, "n", Class=Cookie.SignedCookie, secret="k", mismatch=Cookie.Cookie.IGNORE)
        self.assertEqual(c.value, "value")
        self.assertIsNone(Cookie.get_cookie(req, "plain", Class=Cookie.SignedCookie, secret="k",
                                            mismatch=Cookie.Cookie.IGNORE))

    def test_non_ascii_signature_is_a_mismatch(self):
        # compare_digest refuses non-ASCII str; the cookie is just refused
        c = Cookie.SignedCookie("n", "\u00e9" * 32 + "value")
        with self.assertRaises(Cookie.CookieError):
            c.unsign("k")


class MarshalCookieTest(unittest.TestCase):

    def test_python2_cookies_load(self):
        d = Cookie.MarshalCookie.parse(MARSHAL_SHORT, "secret")
        self.assertEqual(d["eggs"].value, b"spam")  # a Python 2 str is bytes to Python 3's marshal
        d = Cookie.MarshalCookie.parse(MARSHAL_LONG, "secret")
        self.assertEqual(d["test"].value, LONG_VALUE)

    def test_python2_cookies_written_back_unchanged(self):
        # htdocs/tests.py Cookie_MarshalCookie, as the handler does it
        for mc in (MARSHAL_SHORT, MARSHAL_LONG):
            req = FakeRequest(mc)
            cookies = Cookie.get_cookies(req, Cookie.MarshalCookie, secret="secret")
            for k in cookies:
                Cookie.add_cookie(req, cookies[k])
            self.assertEqual(req.set_cookies(), [mc])

    def test_round_trip(self):
        value = {"a": [1, 2.5, None], "b": ("x", b"y"), "c": {1, 2}}
        s = str(Cookie.MarshalCookie("m", value, secret="k", path="/"))
        self.assertNotIn("\n", s)
        self.assertTrue(s.endswith("; path=/"))
        d = Cookie.MarshalCookie.parse(s.split(";")[0], "k")
        self.assertEqual(d["m"].value, value)
        # written in marshal version 2, which Python 2 reads
        m = s.split("=", 1)[1].split(";")[0][32:]
        self.assertEqual(base64.b64decode(m), marshal.dumps(value, 2))

    def test_signature_checked_before_unmarshalling(self):
        s = str(Cookie.MarshalCookie("m", [1, 2], secret="k"))
        payload = s[2 + 32:]
        tampered = s[:2 + 32] + base64.b64encode(marshal.dumps([1, 3], 2)).decode()
        self.assertNotEqual(tampered[2 + 32:], payload)
        with self.assertRaisesRegex(Cookie.CookieError, "Incorrectly Signed Cookie"):
            Cookie.MarshalCookie.parse(tampered, "k", Cookie.Cookie.EXCEPTION)
        d = Cookie.MarshalCookie.parse(tampered, "k")
        self.assertEqual((type(d["m"]), d["m"].value), (Cookie.Cookie, tampered.split("=", 1)[1]))
        self.assertEqual(Cookie.MarshalCookie.parse(tampered, "k", Cookie.Cookie.IGNORE), {})

    def test_signed_garbage(self):
        for payload, message in (("!!!!", "Cannot Unmarshal Cookie"),
                                 (base64.b64encode(b"\x00junk").decode(), "Cannot Unmarshal Cookie"),
                                 ("abc", "Cannot base64 Decode Cookie")):
            with self.subTest(payload=payload):
                s = str(Cookie.SignedCookie("m", payload, secret="k"))
                with self.assertRaisesRegex(Cookie.CookieError, message):
                    Cookie.MarshalCookie.parse(s, "k", Cookie.Cookie.EXCEPTION)


HANDLERS = textwrap.dedent('''
    from mod_python import apache

    # mod_python's test/htdocs/tests.py, verbatim

    def Cookie_Cookie(req):

        from mod_python import Cookie

        cookies = Cookie.get_cookies(req)

        for k in cookies:
            Cookie.add_cookie(req, cookies[k])

        req.write("test ok")

        return apache.OK

    def Cookie_MarshalCookie(req):

        from mod_python import Cookie

        cookies = Cookie.get_cookies(req, Cookie.MarshalCookie,
                                    secret="secret")

        for k in cookies:
            Cookie.add_cookie(req, cookies[k])

        req.write("test ok")

        return apache.OK
''')


class WorkerCookieTest(unittest.TestCase):
    """mod_python's handlers in the worker, the Cookie header as httpd
    passes it (repeated headers joined with ", ")."""

    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.site = h.make_site("mpgate-cookie-test-", {"tests.py": HANDLERS})
        cls.worker = h.WorkerProcess()
        cls.next_id = 1

    @classmethod
    def tearDownClass(cls):
        h.finish_worker(cls.worker, cls.tmp)

    def run_handler(self, name, cookie):
        conf = h.config(handlers={"PythonHandler": [
            {"handler": "tests::" + name, "directory": self.site, "is_location": False, "silent": False}]},
            directives=[["PythonDebug", "1"]])
        rid = type(self).next_id
        type(self).next_id += 1
        r = self.worker.request(rid, conf, conf_id=rid, params_=h.params([("HTTP_COOKIE", cookie)]),
                                meta_=h.meta("/testz.py", os.path.join(self.site, "testz.py")))
        self.assertEqual(r.body, b"test ok", r.log_text())
        return [v for k, v in r.headers if k.lower() == "set-cookie"]

    def test_Cookie_Cookie(self):
        got = self.run_handler("Cookie_Cookie", "spam=foo; path=blah;;eggs=bar;, bar=foo")
        for want in ("path=blah", "eggs=bar", "bar=foo", "spam=foo"):
            self.assertIn(want, got)

    def test_Cookie_MarshalCookie(self):
        # test.py runs the MarshalCookie cookies through Cookie_Cookie; the
        # MarshalCookie handler gives them back unchanged too.
        for handler in ("Cookie_Cookie", "Cookie_MarshalCookie"):
            for mc in (MARSHAL_SHORT, MARSHAL_LONG):
                with self.subTest(handler=handler, cookie=mc[:10]):
                    self.assertEqual(self.run_handler(handler, mc), [mc])


if __name__ == "__main__":
    unittest.main()
