"""Tests of mod_python.Session in the real worker process, the daemon's
session store played by the harness (harness.SessionStore, with its
locking semantics): construction from the cookie, cookie attributes per
option, signed sessions, forged and malformed ids, expiry, invalidate(),
the request's one session (no deadlock), req.get_session() and
req.get_session_options(), and records that round-trip site objects."""

import hashlib
import hmac
import inspect
import json
import os
import pickle
import threading
import time
import unittest

from tests import harness as h

HANDLERS = '''
import json
import time
from mod_python import apache, Cookie, Session
from mpgate import worker


class Thing:
    def __init__(self, x):
        self.x = x

    def double(self):
        return self.x * 2


def out(req, s, **extra):
    req.content_type = "application/json"
    d = {"id": s.id(), "new": s.is_new(), "class": type(s).__name__,
         "data": {k: v for k, v in s.items() if k != "thing"},
         "timeout": s.timeout(), "created": s.created(), "accessed": s.last_accessed()}
    d.update(extra)
    req.write(json.dumps(d, default=repr))
    return apache.OK


def counter(req):
    s = Session.Session(req)
    s["n"] = s.get("n", 0) + 1
    s.save()
    return out(req, s)


def peek(req):
    return out(req, Session.Session(req))


def bump_unsaved(req):
    s = Session.Session(req)
    s["n"] = s.get("n", 0) + 100
    return out(req, s)


def signed(req):
    s = Session.Session(req, secret="s3cret")
    s["n"] = s.get("n", 0) + 1
    s.save()
    return out(req, s)


def signed_peek(req):
    return out(req, Session.Session(req, secret="s3cret"))


def explicit(req):
    try:
        s = Session.Session(req, sid=req.args)
    except ValueError as e:
        req.write("ValueError: %s" % e)
        return apache.OK
    return out(req, s)


def twice(req):
    a = Session.Session(req)
    b = Session.Session(req)
    c = Session.BaseSession(req)
    d = Session.DbmSession(req)
    e = req.get_session()
    f = req.get_session()
    a["n"] = a.get("n", 0) + 1
    a.save()
    return out(req, a, same=[a is b, a is c, a is d, a is e, e is f])


def other_class(req):
    a = Session.Session(req)  # DbmSession, the default here
    a["n"] = a.get("n", 0) + 1
    a.save()
    b = Session.FileSession(req)
    c = Session.FileSession(req)
    return out(req, a, other=[type(b).__name__, b.id(), b is a, c is b, b.get("n")])


def get_twice(req):
    s = req.get_session()
    t = req.get_session()
    u = Session.Session(req)
    s["n"] = s.get("n", 0) + 1
    s.save()
    return out(req, s, same=[s is t, s is u])


def get_after_signed(req):
    s = Session.Session(req, secret="s3cret")
    return out(req, s, same=s is req.get_session())


def options(req):
    req.write(json.dumps(req.get_session_options(), sort_keys=True))
    return apache.OK


def thing_save(req):
    s = Session.Session(req)
    s["thing"] = Thing(21)
    s["n"] = 1
    s.save()
    return out(req, s)


def thing_load(req):
    s = Session.Session(req)
    t = s["thing"]
    return out(req, s, thing=[type(t).__name__, type(t) is Thing, t.double()])


def invalidate(req):
    s = Session.Session(req)
    s.invalidate()
    s["after"] = 1
    s.save()
    t = Session.Session(req)
    t.save()
    return out(req, t, old=s.id(), same=s is t, old_data=dict(s))


def no_lock(req):
    s = Session.Session(req, lock=0)
    s.save()
    return out(req, s)


def unlock_early(req):
    s = Session.Session(req)
    s.save()
    s.unlock()
    worker.call("test.wait", name="after-unlock")
    return out(req, s)


def hold(req):
    s = Session.Session(req)
    worker.call("test.wait", name=req.args)
    s["n"] = s.get("n", 0) + 1
    s.save()
    return out(req, s)


def cleanup(req):
    Session.CLEANUP_CHANCE = 1
    try:
        s = Session.Session(req)
    finally:
        Session.CLEANUP_CHANCE = 1000
    s.cleanup()
    return out(req, s)


def short_timeout(req):
    s = Session.Session(req, timeout=60)
    s.save()
    return out(req, s)


def cookie_only(req):
    s = Session.Session(req)
    req.write(str(s.make_cookie()))
    return apache.OK


STORE = {}


class MySession(Session.BaseSession):
    def do_load(self):
        return STORE.get(self._sid)

    def do_save(self, d):
        STORE[self._sid] = d

    def do_delete(self):
        STORE.pop(self._sid, None)

    def do_cleanup(self):
        pass


def mine(req):
    s = MySession(req)
    s["n"] = s.get("n", 0) + 1
    s.save()
    t = MySession(req)
    return out(req, s, same=s is t)


def Session_Session(req):
    # mod_python's test/htdocs/tests.py Session_Session, verbatim
    from mod_python import Session, Cookie
    s = Session.Session(req)
    if s.is_new():
        s.save()

    cookies = Cookie.get_cookies(req)
    if Session.COOKIE_NAME in cookies and s.is_new():
        req.write(str(cookies[Session.COOKIE_NAME]))
    else:
        req.write("test ok")

    return apache.OK
'''

SID_CHARS = set("0123456789abcdef")


def entry(handler, directory):
    return {"handler": handler, "directory": directory, "is_location": False, "silent": False}


def set_cookies(r):
    return [v for k, v in r.headers if k.lower() == "set-cookie"]


def cookie_fields(value):
    """Returns (name, value, attributes) of a Set-Cookie value; bare
    attributes map to None."""
    parts = value.split("; ")
    name, _, val = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        attrs[k] = v if eq else None
    return name, val, attrs


class Marker:
    """Pickles as a call that raises ValueError naming "unpickled-marker"
    when loaded."""

    def __reduce__(self):
        return (int, ("unpickled-marker",))


class SessionTestCase(unittest.TestCase):
    """One worker and one store for the class; each test uses its own
    sessions."""

    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.site = h.make_site("mpgate-session-test-", {"sess.py": HANDLERS})
        cls.store = h.SessionStore()
        cls.worker = h.WorkerProcess(store=cls.store)
        cls.next_id = 1

    @classmethod
    def tearDownClass(cls):
        h.finish_worker(cls.worker, cls.tmp)

    def setUp(self):
        self.assertEqual(self.store.locks, {}, "session locks held before the test")

    def tearDown(self):
        self.assertEqual(self.store.locks, {}, "session locks held after the test")

    def run_handler(self, name, cookie=None, options=(), session_options=None, uri="/site/sess",
                    args=None, worker=None, directory=None, document_root=None, directives=None):
        if directory is None:
            directory = self.site
        extra = {}
        if session_options is not None:
            extra["session_options"] = [list(p) for p in session_options]
        conf = h.config(handlers={"PythonHandler": [entry("sess::" + name, directory)]},
                        directives=directives or [["PythonDebug", "1"]],
                        options=[list(o) for o in options], **extra)
        cls = type(self)
        rid = cls.next_id
        cls.next_id += 1
        headers = [("HTTP_COOKIE", cookie)] if cookie is not None else []
        meta = h.meta(uri, os.path.join(self.site, "sess"),
                      document_root=document_root if document_root is not None else self.tmp, args=args)
        return (worker or self.worker).request(rid, conf, conf_id=rid, params_=h.params(headers), meta_=meta)

    def ok(self, r):
        """Returns the JSON body of a successful response."""
        if r.status != 200:
            self.fail("status %s, body %r, log:\n%s" % (r.status, r.body[:2000], r.log_text()))
        return json.loads(r.body.decode("utf-8"))

    def new_session(self, handler="counter", **kw):
        """Runs handler without a cookie; returns (JSON, the Set-Cookie
        value)."""
        r = self.run_handler(handler, **kw)
        d = self.ok(r)
        self.assertTrue(d["new"])
        cookies = set_cookies(r)
        self.assertEqual(len(cookies), 1, cookies)
        return d, cookies[0]


class ConstructionTest(SessionTestCase):

    def test_new_session_sets_cookie_and_cache_control(self):
        r = self.run_handler("counter")
        d = self.ok(r)
        self.assertTrue(d["new"])
        self.assertEqual(len(d["id"]), 32)
        self.assertTrue(set(d["id"]) <= SID_CHARS, d["id"])
        self.assertEqual(d["timeout"], 1800)
        self.assertEqual(d["class"], "DbmSession")  # mpm_query says prefork
        self.assertEqual(set_cookies(r), ["pysid=%s; path=/site/" % d["id"]])
        self.assertEqual(r.header("Cache-Control"), 'no-cache="set-cookie"')
        # 3.5's order: lock the new id, then save when told; the daemon
        # releases the lock when the request ends (no unlock round trip)
        self.assertEqual(self.store.methods(d["id"]), ["session.lock", "session.save"])

    def test_cookie_continues_session(self):
        d, c = self.new_session()
        name, sid, _ = cookie_fields(c)
        for n in (2, 3):
            r = self.run_handler("counter", cookie="%s=%s" % (name, sid))
            e = self.ok(r)
            self.assertFalse(e["new"])
            self.assertEqual(e["id"], d["id"])
            self.assertEqual(e["data"], {"n": n})
            self.assertEqual(e["created"], d["created"])
            self.assertEqual(set_cookies(r), [], "no Set-Cookie for an existing session")
            self.assertIsNone(r.header("Cache-Control"))

    def test_mod_python_Session_Session(self):
        # test/test.py test_Session_Session: path and domain from the
        # options; the whole Set-Cookie sent back is accepted.
        opts = [("mod_python.session.database_directory", "/tmp"),
                ("mod_python.session.application_path", "/path"),
                ("mod_python.session.application_domain", "test_Session_Session")]
        r = self.run_handler("Session_Session", options=opts)
        self.assertEqual(r.body, b"test ok")
        setcookie = set_cookies(r)[0]
        fields = dict(part.split("=") for part in setcookie.split("; "))
        self.assertEqual(fields["path"], "/path")
        self.assertEqual(fields["domain"], "test_Session_Session")
        r = self.run_handler("Session_Session", options=opts, cookie=setcookie)
        self.assertEqual(r.body, b"test ok")

    def test_mod_python_Session_illegal_sid(self):
        # test/test.py test_Session_illegal_sid
        for bad in ("pysid=/path/traversal/attack/bad; path=/", "pysid=%s; path=/" % ("abcdef" * 64)):
            r = self.run_handler("Session_Session", cookie=bad)
            self.assertEqual(r.status, 200)
            self.assertTrue(set_cookies(r), "session id %r not replaced" % bad)

    def test_malformed_ids_start_a_new_session_unlocked_unloaded(self):
        for bad in ("/path/traversal/attack/bad", "abcdef" * 64, "ABCDEF0123456789ABCDEF0123456789",
                    "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0",
                    "0123456789abcdef0123456789abcdeg", ""):
            with self.subTest(bad=bad):
                before = len(self.store.calls)
                r = self.run_handler("peek", cookie="pysid=" + bad)
                d = self.ok(r)
                self.assertTrue(d["new"])
                self.assertNotEqual(d["id"], bad)
                self.assertEqual(set_cookies(r), ["pysid=%s; path=/site/" % d["id"]])
                # never sent to the store: only the new id is locked (and
                # released by the end of the request)
                self.assertEqual([(m, a.get("id")) for _, m, a in self.store.calls[before:]],
                                 [("session.lock", d["id"])])
                if bad:
                    self.assertIn("session cookie pysid refused: not a session id", r.log_text())
                    self.assertNotIn(bad, r.log_text())

    def test_forged_id_starts_a_new_session(self):
        forged = "0123456789abcdef0123456789abcdef"
        r = self.run_handler("counter", cookie="pysid=" + forged)
        d = self.ok(r)
        self.assertTrue(d["new"])
        self.assertNotEqual(d["id"], forged)
        self.assertEqual(d["data"], {"n": 1})
        self.assertEqual(set_cookies(r), ["pysid=%s; path=/site/" % d["id"]])
        # 3.5's algorithm: lock and load the cookie's id, unlock it, lock a new one
        # lock and load in one round trip; not found: the forged id is unlocked
        self.assertEqual(self.store.methods(forged), ["session.load(lock)", "session.unlock"])
        self.assertNotIn(forged, self.store.records)

    def test_explicit_sid(self):
        d, _ = self.new_session()
        r = self.run_handler("explicit", args=d["id"])
        e = self.ok(r)
        self.assertFalse(e["new"])
        self.assertEqual(e["data"], {"n": 1})
        r = self.run_handler("explicit", args="../../etc/passwd")
        self.assertEqual(r.body, b"ValueError: Invalid Session ID: sid=../../etc/passwd")
        self.assertEqual(self.store.methods("../../etc/passwd"), [])

    def test_other_cookies_and_cookie_name(self):
        d, c = self.new_session(options=[("mod_python.session.cookie_name", "sid")])
        self.assertTrue(c.startswith("sid=%s;" % d["id"]), c)
        r = self.run_handler("counter", cookie="a=1; sid=%s; pysid=junk" % d["id"],
                             options=[("mod_python.session.cookie_name", "sid")])
        self.assertEqual(self.ok(r)["data"], {"n": 2})
        # mod_python 3.2's option name
        d, c = self.new_session(options=[("session_cookie_name", "old")])
        self.assertTrue(c.startswith("old=%s;" % d["id"]), c)
        # the 3.3+ name wins over the 3.2 one
        d, c = self.new_session(options=[("session_cookie_name", "old"), ("mod_python.session.cookie_name", "new")])
        self.assertTrue(c.startswith("new="), c)

    def test_session_type(self):
        for value, want in (("FileSession", "FileSession"), ("MemorySession", "MemorySession"),
                            ("DbmSession", "DbmSession")):
            for key in ("mod_python.session.session_type", "session"):
                with self.subTest(key=key, value=value):
                    d, _ = self.new_session(options=[(key, value)])
                    self.assertEqual(d["class"], want)
        r = self.run_handler("counter", options=[("mod_python.session.session_type", "SqlSession")])
        self.assertEqual(r.status, 500)
        self.assertIn("Exception: Unknown session type SqlSession", r.log_text())

    def test_site_subclass_keeps_its_storage(self):
        d, c = self.new_session("mine")
        self.assertTrue(d["same"])
        self.assertEqual(d["class"], "MySession")
        r = self.run_handler("mine", cookie=c.split(";")[0])
        e = self.ok(r)
        self.assertEqual((e["new"], e["id"], e["data"]), (False, d["id"], {"n": 2}))
        # only the daemon's lock: the data went to the site's own store
        self.assertEqual(set(self.store.methods(d["id"])), {"session.lock"})


class CookieAttributesTest(SessionTestCase):

    def cookie_for(self, **kw):
        _, c = self.new_session(**kw)
        return cookie_fields(c)

    def test_path_from_handler_directory(self):
        # hlist.directory minus DocumentRoot, when the URI is under it
        self.assertEqual(self.cookie_for()[2], {"path": "/site/"})
        # the URI is elsewhere (Alias): "/"
        self.assertEqual(self.cookie_for(uri="/elsewhere/sess")[2], {"path": "/"})
        # the directory is the document root: nothing left, "/"
        self.assertEqual(self.cookie_for(document_root=self.site)[2], {"path": "/"})

    def test_path_without_handler_directory(self):
        # a handler with no directory (<Location>, server level): "/"
        conf_dirs = [["PythonDebug", "1"], ["PythonPath", "sys.path+[%r]" % self.site]]
        _, c = self.new_session(directory="", directives=conf_dirs)
        self.assertEqual(cookie_fields(c)[2], {"path": "/"})

    def test_path_and_domain_options(self):
        for opts, want in (
                ([("mod_python.session.application_path", "/app")], {"path": "/app"}),
                ([("ApplicationPath", "/old")], {"path": "/old"}),
                ([("ApplicationPath", "/old"), ("mod_python.session.application_path", "/new")], {"path": "/new"}),
                ([("mod_python.session.application_domain", ".example.com")],
                 {"path": "/site/", "domain": ".example.com"}),
                # an empty value masks (MODPYTHON-6)
                ([("ApplicationPath", "/old"), ("mod_python.session.application_path", "")], {"path": "/old"}),
        ):
            with self.subTest(opts=opts):
                self.assertEqual(self.cookie_for(options=opts)[2], want)

    def test_secure_httponly_samesite_are_opt_in(self):
        self.assertEqual(self.cookie_for()[2], {"path": "/site/"})
        for opts, want in (
                ([("mod_python.session.cookie_secure", "On")], {"secure": None}),
                ([("mod_python.session.cookie_httponly", "true")], {"httponly": None}),
                ([("mod_python.session.cookie_samesite", "Lax")], {"samesite": "Lax"}),
                ([("mod_python.session.cookie_secure", "off"), ("mod_python.session.cookie_httponly", "0")], {}),
        ):
            with self.subTest(opts=opts):
                want = dict(want, path="/site/")
                self.assertEqual(self.cookie_for(options=opts)[2], want)
        _, c = self.new_session(session_options=[("cookie_secure", "1"), ("cookie_httponly", "yes"),
                                                 ("cookie_samesite", "Strict")])
        self.assertTrue(c.endswith("; path=/site/; secure; samesite=Strict; httponly"), c)

    def test_bad_cookie_options_fail_naming_the_option(self):
        for opts, message in (
                ([("mod_python.session.cookie_samesite", "lax")],
                 "session option cookie_samesite = 'lax': want Strict, Lax or None"),
                ([("mod_python.session.cookie_secure", "maybe")], "session option cookie_secure = 'maybe': want On or Off"),
                ([("mod_python.session.timeout", "soon")], "session option timeout = 'soon': want a number of seconds"),
        ):
            with self.subTest(opts=opts):
                r = self.run_handler("counter", options=opts)
                self.assertEqual(r.status, 500)
                self.assertIn("ValueError: " + message, r.log_text())

    def test_invalidate_expires_cookie(self):
        d, c = self.new_session(options=[("mod_python.session.cookie_httponly", "On")])
        r = self.run_handler("invalidate", cookie=c.split(";")[0],
                             options=[("mod_python.session.cookie_httponly", "On")])
        e = self.ok(r)
        self.assertEqual(e["old"], d["id"])
        self.assertFalse(e["same"])
        self.assertTrue(e["new"], "a construction after invalidate() starts a new session")
        self.assertEqual(e["old_data"], {"after": 1})
        got = set_cookies(r)
        self.assertEqual(got, ["pysid=%s; path=/site/; expires=Thu, 01-Jan-1970 00:00:00 GMT; httponly" % d["id"],
                               "pysid=%s; path=/site/; httponly" % e["id"]])
        self.assertEqual(r.headers.count(("Cache-Control", 'no-cache="set-cookie"')), 1)
        # deleted, and save() after invalidate() stored nothing
        self.assertNotIn(d["id"], self.store.records)
        self.assertIn(e["id"], self.store.records)


class SignedSessionTest(SessionTestCase):

    def test_signed_cookie_round_trip(self):
        d, c = self.new_session("signed")
        name, value, attrs = cookie_fields(c)
        self.assertEqual(value[32:], d["id"])
        # mod_python's format: hex HMAC-MD5 of name + sid keyed by the secret
        self.assertEqual(value[:32], hmac.new(b"s3cret", b"pysid" + d["id"].encode(), hashlib.md5).hexdigest())
        r = self.run_handler("signed", cookie="pysid=" + value)
        e = self.ok(r)
        self.assertEqual((e["new"], e["id"], e["data"]), (False, d["id"], {"n": 2}))

    def test_plain_cookie_refused_with_secret(self):
        # MODPYTHON-191: with a secret an unsigned id is not accepted
        d, _ = self.new_session("counter")
        before = len(self.store.calls)
        r = self.run_handler("signed_peek", cookie="pysid=" + d["id"])
        e = self.ok(r)
        self.assertTrue(e["new"])
        self.assertNotIn(d["id"], [a.get("id") for _, _, a in self.store.calls[before:]])
        self.assertIn("session cookie pysid refused: not signed with the session secret", r.log_text())

    def test_tampered_cookie_refused_without_unpickling(self):
        sid = "00112233445566778899aabbccddeeff"
        now = time.time()
        # a record that raises if it is ever unpickled
        self.store.put(sid, pickle.dumps({"_data": {"m": Marker()}, "_created": now, "_accessed": now,
                                          "_timeout": 1800}, 2), now, now, 1800)
        sig = hmac.new(b"s3cret", b"pysid" + sid.encode(), hashlib.md5).hexdigest()
        for tampered in (("0" if sig[0] != "0" else "1") + sig[1:] + sid,  # signature changed
                         sig + sid[:-1] + "0",  # id changed
                         sig.upper() + sid,
                         sig + sid + "0",
                         sig[:31] + sid):
            with self.subTest(cookie=tampered):
                before = len(self.store.calls)
                r = self.run_handler("signed_peek", cookie="pysid=" + tampered)
                e = self.ok(r)
                self.assertTrue(e["new"])
                self.assertNotIn(sid, [a.get("id") for _, _, a in self.store.calls[before:]],
                                 "the store was asked about the tampered cookie's id")
                self.assertNotIn("unpickled-marker", r.log_text())
        # the control: correctly signed, the record is loaded -- and fails
        r = self.run_handler("signed_peek", cookie="pysid=" + sig + sid)
        e = self.ok(r)
        self.assertTrue(e["new"])
        self.assertIn("Error while loading a session", r.log_text())
        self.assertIn("unpickled-marker", r.log_text())
        self.assertEqual(self.store.methods(sid)[-2:], ["session.load(lock)", "session.unlock"])

    def test_secret_from_session_options(self):
        d, c = self.new_session("counter", session_options=[("secret", "opt")])
        value = cookie_fields(c)[1]
        self.assertEqual(value, hmac.new(b"opt", b"pysid" + d["id"].encode(), hashlib.md5).hexdigest() + d["id"])
        r = self.run_handler("counter", cookie="pysid=" + value, session_options=[("secret", "opt")])
        self.assertEqual(self.ok(r)["data"], {"n": 2})


class ExpiryTest(SessionTestCase):

    def test_unsaved_changes_are_lost(self):
        d, c = self.new_session()
        cookie = c.split(";")[0]
        self.assertEqual(self.ok(self.run_handler("bump_unsaved", cookie=cookie))["data"], {"n": 101})
        self.assertEqual(self.ok(self.run_handler("peek", cookie=cookie))["data"], {"n": 1})

    def test_new_session_not_saved_is_not_found_again(self):
        d, c = self.new_session("peek")
        r = self.run_handler("peek", cookie=c.split(";")[0])
        e = self.ok(r)
        self.assertTrue(e["new"])
        self.assertNotEqual(e["id"], d["id"])

    def test_store_expires_at_accessed_plus_timeout(self):
        d, c = self.new_session("short_timeout")
        self.assertEqual(d["timeout"], 60)
        rec = self.store.records[d["id"]]
        self.assertEqual(rec["timeout"], 60)
        self.assertAlmostEqual(rec["accessed"], d["accessed"], places=5)
        self.assertAlmostEqual(rec["created"], d["created"], places=5)
        cookie = c.split(";")[0]
        self.assertFalse(self.ok(self.run_handler("peek", cookie=cookie))["new"])
        rec["accessed"] -= 61  # a minute passes without a save
        e = self.ok(self.run_handler("peek", cookie=cookie))
        self.assertTrue(e["new"])
        self.assertNotEqual(e["id"], d["id"])
        self.assertEqual(e["timeout"], 1800)

    def test_record_expired_by_its_own_times(self):
        # a record the store still has (e.g. imported from mod_python) whose
        # pickled _accessed + _timeout is past: BaseSession.load refuses it
        sid = "ffeeddccbbaa99887766554433221100"
        now = time.time()
        self.store.put(sid, pickle.dumps({"_data": {"n": 5}, "_created": now - 100, "_accessed": now - 100,
                                          "_timeout": 50}, 2), now, now, 1800)
        e = self.ok(self.run_handler("peek", cookie="pysid=" + sid))
        self.assertTrue(e["new"])
        self.store.put(sid, pickle.dumps({"_data": {"n": 5}, "_created": now - 100, "_accessed": now - 10,
                                          "_timeout": 50}, 2), now, now, 1800)
        e = self.ok(self.run_handler("peek", cookie="pysid=" + sid))
        self.assertEqual((e["new"], e["data"], e["timeout"], e["created"]), (False, {"n": 5}, 50, now - 100))

    def test_timeout_option(self):
        d, _ = self.new_session(session_options=[("timeout", "600")])
        self.assertEqual(d["timeout"], 600)
        d, _ = self.new_session(options=[("mod_python.session.timeout", "700")])
        self.assertEqual(d["timeout"], 700)
        d, _ = self.new_session("short_timeout", session_options=[("timeout", "600")])
        self.assertEqual(d["timeout"], 60, "the constructor's timeout wins")

    def test_cleanup(self):
        old = "abababababababababababababababab"
        now = time.time()
        self.store.put(old, b"x", now - 7200, now - 7200, 1800)
        before = len(self.store.calls)
        d, _ = self.new_session("cleanup")
        self.assertNotIn(old, self.store.records)
        methods = [m for _, m, _ in self.store.calls[before:]]
        self.assertEqual(methods.count("session.cleanup"), 2)  # CLEANUP_CHANCE hit, then cleanup()
        r = self.run_handler("cleanup")
        log = r.log_text()
        self.assertIn("DbmSession: registered session cleanup.", log)
        self.assertIn("Session cleanup: purged 0 expired sessions", log)


class RecordTest(SessionTestCase):

    def test_record_is_mod_pythons_pickled_dict(self):
        d, _ = self.new_session()
        record = pickle.loads(self.store.data(d["id"]))
        self.assertEqual(record, {"_data": {"n": 1}, "_created": d["created"], "_accessed": d["accessed"],
                                  "_timeout": 1800})
        self.assertEqual(self.store.data(d["id"])[:2], b"\x80\x02", "pickle protocol 2, as FileSession")

    def test_mod_python_record_loads(self):
        # the bytes mod_python's FileSession writes (pickle protocol 2 of
        # the same dict), as an import would store them
        sid = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
        now = time.time()
        self.store.put(sid, pickle.dumps({"_data": {"user": "ann", "n": 7, "b": b"\xff"}, "_created": now - 5,
                                          "_accessed": now - 5, "_timeout": 3600}, 2), now - 5, now - 5, 3600)
        r = self.run_handler("peek", cookie="pysid=" + sid)
        e = self.ok(r)
        self.assertFalse(e["new"])
        self.assertEqual(e["timeout"], 3600)
        self.assertEqual(e["data"], {"user": "ann", "n": 7, "b": repr(b"\xff")})

    def test_site_class_round_trip(self):
        d, c = self.new_session("thing_save")
        r = self.run_handler("thing_load", cookie=c.split(";")[0])
        e = self.ok(r)
        self.assertEqual(e["thing"], ["Thing", True, 42])
        # the class is written by file (mpgate.sitepickle)
        self.assertIn(b"site_object", self.store.data(d["id"]))
        self.assertIn(os.path.join(self.site, "sess.py").encode(), self.store.data(d["id"]))


class RequestSessionTest(SessionTestCase):

    def test_two_sessions_in_one_request_are_one(self):
        # new visitor: one session, one Set-Cookie
        r = self.run_handler("twice")
        d = self.ok(r)
        self.assertEqual(d["same"], [True, True, True, True, True])
        self.assertEqual(len(set_cookies(r)), 1)
        # returning visitor
        r = self.run_handler("twice", cookie="pysid=" + d["id"])
        e = self.ok(r)
        self.assertEqual(e["same"], [True, True, True, True, True])
        self.assertEqual((e["id"], e["data"]), (d["id"], {"n": 2}))
        self.assertEqual(set_cookies(r), [])

    def test_other_class_same_session_does_not_deadlock(self):
        d, c = self.new_session()
        r = self.run_handler("other_class", cookie=c.split(";")[0])
        e = self.ok(r)
        # a FileSession is no DbmSession: its own object for the same id,
        # holding the data as last saved; a second FileSession is that one
        self.assertEqual(e["other"], ["FileSession", d["id"], False, True, 2])

    def test_get_session_twice(self):
        r = self.run_handler("get_twice")
        d = self.ok(r)
        self.assertEqual(d["same"], [True, True])
        self.assertEqual(len(set_cookies(r)), 1)
        r = self.run_handler("get_twice", cookie="pysid=" + d["id"])
        e = self.ok(r)
        self.assertEqual((e["new"], e["data"], e["same"]), (False, {"n": 2}, [True, True]))

    def test_get_session_after_a_session_the_options_do_not_describe(self):
        # the handler passes secret=, the options have none: the cookie is
        # signed, so only the request's sessions tell which is its own
        d, c = self.new_session("signed")
        r = self.run_handler("get_after_signed", cookie=c.split(";")[0])
        e = self.ok(r)
        self.assertEqual((e["new"], e["id"], e["same"]), (False, d["id"], True))
        self.assertEqual(set_cookies(r), [])

    def test_get_session_uses_session_options(self):
        sopts = [("session_type", "FileSession"), ("timeout", "900"), ("lock", "Off"),
                 ("cookie_name", "s"), ("cookie_httponly", "On")]
        d, c = self.new_session("get_twice", session_options=sopts)
        self.assertEqual((d["class"], d["timeout"]), ("FileSession", 900))
        self.assertEqual(c, "s=%s; path=/site/; httponly" % d["id"])
        self.assertEqual(self.store.methods(d["id"]), ["session.save"], "lock Off: no lock")

    def test_get_session_options(self):
        r = self.run_handler("options",
                             options=[("session", "DbmSession"), ("session_cookie_name", "old"),
                                      ("ApplicationPath", "/old"), ("session_directory", "/var/old"),
                                      ("mod_python.session.cookie_name", "new"),
                                      ("mod_python.session.application_domain", "example.com"),
                                      ("mod_python.session.cookie_secure", "On"),
                                      ("mod_python.dbm_session.database_filename", "/x"),
                                      ("other", "1")],
                             session_options=[("session_type", "FileSession"), ("timeout", "60"),
                                              ("cookie_secure", ""), ("mod_python.session.lock", "0")])
        self.assertEqual(json.loads(r.body), {
            "session_type": "FileSession", "cookie_name": "new", "application_path": "/old",
            "application_domain": "example.com", "database_directory": "/var/old",
            "timeout": "60", "lock": "0"})
        r = self.run_handler("options")
        self.assertEqual(json.loads(r.body), {})


class LockTest(SessionTestCase):

    def test_lock_off(self):
        d, _ = self.new_session("no_lock")
        self.assertEqual(self.store.methods(d["id"]), ["session.save"])

    def test_unlock_releases_before_the_request_ends(self):
        d, c = self.new_session()
        cookie = c.split(";")[0]
        done = {}
        before = len(self.store.calls)
        t = threading.Thread(target=lambda: done.setdefault("r", self.run_handler("unlock_early", cookie=cookie)))
        t.start()
        try:
            # the request waits in its handler, the lock released
            self.store.wait_for_call("test.wait", before)
            self.assertNotIn(d["id"], self.store.locks)
            self.assertEqual(self.store.methods(d["id"])[-2:], ["session.save", "session.unlock"])
        finally:
            self.store.signal("after-unlock")
            t.join(h.TIMEOUT)
        self.ok(done["r"])

    def test_lock_serialises_requests_of_one_session(self):
        d, c = self.new_session()
        cookie = c.split(";")[0]
        other = h.WorkerProcess(store=self.store)
        results = {}
        try:
            a = threading.Thread(target=lambda: results.setdefault(
                "a", self.run_handler("hold", cookie=cookie, args="serialise")))
            a.start()
            self.store.wait_for_lock(d["id"])  # A holds the lock, waiting in its handler
            b = threading.Thread(target=lambda: results.setdefault(
                "b", self.run_handler("counter", cookie=cookie, worker=other)))
            b.start()
            self.store.wait_for_waiter(d["id"])  # B waits for A's lock
            self.store.signal("serialise")
            a.join(h.TIMEOUT)
            b.join(h.TIMEOUT)
        finally:
            self.store.signal("serialise")
            code, _, err = other.shutdown()
            self.assertEqual(code, 0, err)
        self.assertEqual(self.ok(results["a"])["data"], {"n": 2})
        self.assertEqual(self.ok(results["b"])["data"], {"n": 3}, "B loaded what A saved")

    def test_lock_wait_limit_is_an_error(self):
        d, c = self.new_session()
        cookie = c.split(";")[0]
        other = h.WorkerProcess(store=self.store)
        results = {}
        saved = self.store.lock_wait
        try:
            a = threading.Thread(target=lambda: results.setdefault(
                "a", self.run_handler("hold", cookie=cookie, args="limit")))
            a.start()
            self.store.wait_for_lock(d["id"])
            self.store.lock_wait = 0
            r = self.run_handler("counter", cookie=cookie, worker=other)
            self.assertEqual(r.status, 500)
            self.assertIn("session %s: lock not acquired within 0s" % d["id"], r.log_text())
        finally:
            self.store.lock_wait = saved
            self.store.signal("limit")
            a.join(h.TIMEOUT)
            code, _, err = other.shutdown()
            self.assertEqual(code, 0, err)
        self.assertEqual(self.ok(results["a"])["data"], {"n": 2})


class ModuleTest(unittest.TestCase):
    """What does not need a request: names, constants, signatures."""

    def test_constants_and_signatures(self):
        from mod_python import Session
        E = inspect.Parameter.empty
        self.assertEqual((Session.COOKIE_NAME, Session.DFT_TIMEOUT, Session.DFT_LOCK, Session.CLEANUP_CHANCE),
                         ("pysid", 1800, True, 1000))
        sigs = {
            Session.BaseSession.__init__: [("self", E), ("req", E), ("sid", None), ("secret", None), ("lock", 1),
                                           ("timeout", 0)],
            Session.FileSession.__init__: [("self", E), ("req", E), ("sid", 0), ("secret", None), ("timeout", 0),
                                           ("lock", 1), ("fast_cleanup", -1), ("verify_cleanup", -1)],
            Session.MemorySession.__init__: [("self", E), ("req", E), ("sid", 0), ("secret", None),
                                             ("timeout", 0), ("lock", 1)],
            Session.Session: [("req", E), ("sid", 0), ("secret", None), ("timeout", 0), ("lock", 1)],
        }
        for fn, want in sigs.items():
            got = [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]
            self.assertEqual(got, want, fn)
        params = list(inspect.signature(Session.DbmSession.__init__).parameters)
        self.assertEqual(params, ["self", "req", "dbm", "sid", "secret", "dbmtype", "timeout", "lock"])
        for name in ("is_new", "id", "created", "last_accessed", "timeout", "set_timeout", "invalidate",
                     "load", "save", "delete", "lock", "unlock", "init_lock", "cleanup", "make_cookie",
                     "do_load", "do_save", "do_delete", "do_cleanup"):
            self.assertTrue(callable(getattr(Session.BaseSession, name)), name)
        self.assertTrue(issubclass(Session.FileSession, dict))

    def test_new_sid(self):
        from mod_python import Session
        ids = {Session._new_sid(None) for _ in range(100)}
        self.assertEqual(len(ids), 100)
        for sid in ids:
            self.assertTrue(Session._check_sid(sid), sid)

    def test_true_or_false(self):
        from mod_python import Session
        for v in ("yes", "TRUE", "1", 1, True):
            self.assertIs(Session.true_or_false(v), True)
        for v in ("no", "False", "0", 0, None, False):
            self.assertIs(Session.true_or_false(v), False)
        with self.assertRaises(Exception):
            Session.true_or_false("on")


if __name__ == "__main__":
    unittest.main()
