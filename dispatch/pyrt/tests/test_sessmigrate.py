"""Tests of the take-over of mod_python's sessions (mpgate.sessmigrate and
mod_python.Session's miss path) in the real worker process: records that
mod_python 3.5's FileSession and DbmSession wrote (the same pickles, the
same file layout) are imported once into the daemon's store (played by
the harness, with the daemon's import semantics), never again after they
were deleted in mpgate; expired, malformed, oversized, foreign-owned and
half-written records are refused; a present session costs nothing more."""

import dbm
import json
import os
import pickle
import shutil
import tempfile
import threading
import time
import unittest

from mpgate import sessmigrate
from tests import harness as h

HANDLERS = '''
import json
from mod_python import apache, Session


def out(req, s):
    req.content_type = "application/json"
    req.write(json.dumps({"id": s.id(), "new": s.is_new(), "class": type(s).__name__,
                          "data": dict(s), "timeout": s.timeout(), "created": s.created()}))
    return apache.OK


def peek(req):
    return out(req, Session.Session(req))


def counter(req):
    s = Session.Session(req)
    s["n"] = s.get("n", 0) + 1
    s.save()
    return out(req, s)


def logout(req):
    s = Session.Session(req)
    s.invalidate()
    return out(req, s)
'''


class ImportingStore(h.SessionStore):
    """The harness's store with the daemon's session.import and import
    markers (session/import.go): a miss of a marked id says imported=1."""

    def __init__(self) -> None:
        super().__init__()
        self.markers = set()  # type: set

    def _call(self, owner, method, args):
        if method == "session.import":
            sid = args["id"]
            r = self.records.get(sid)
            if r is not None and r["accessed"] + r["timeout"] >= self.now():
                have, imported = r, "0"
            elif sid in self.markers or float(args["accessed"]) + int(args["timeout"]) < self.now():
                return [("found", "0")]
            else:
                super()._call(owner, "session.save", args)
                self.markers.add(sid)
                have, imported = self.records[sid], "1"
            return [("found", "1"), ("data", have["data"]), ("created", repr(have["created"])),
                    ("accessed", repr(have["accessed"])), ("timeout", str(have["timeout"])),
                    ("imported", imported)]
        res = super()._call(owner, method, args)
        if method == "session.load" and res == [("found", "0")] and args.get("id") in self.markers:
            return [("found", "0"), ("imported", "1")]
        return res


def mod_python_record(data, accessed=None, timeout=1800, created=None):
    """Returns the dict mod_python 3.5's BaseSession.save builds."""
    now = time.time()
    return {"_data": data, "_created": created or now - 60, "_accessed": accessed or now, "_timeout": timeout}


def write_filesession(sessdir, sid, record=None, raw=None):
    """Writes sid's record as mod_python 3.5's FileSession.do_save does
    (sessdir/xx/sid, pickle protocol 2); returns the file name."""
    d = os.path.join(sessdir, sid[:2])
    os.makedirs(d, 0o750, exist_ok=True)
    name = os.path.join(d, sid)
    with open(name, "wb") as f:
        if raw is not None:
            f.write(raw)
        else:
            pickle.dump(record, f, 2)
    return name


def write_dbmsession(path, sid, record):
    """Stores sid's record as mod_python 3.5's DbmSession.do_save does."""
    db = dbm.open(path, "c", 0o640)
    try:
        db[sid.encode()] = pickle.dumps(record)
    finally:
        db.close()


class SessMigrateTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.site = h.make_site("mpgate-sessmigrate-test-", {"sess.py": HANDLERS})
        cls.store = ImportingStore()
        cls.worker = h.WorkerProcess(store=cls.store)
        cls.next_id = 1
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        h.finish_worker(cls.worker, cls.tmp)

    def setUp(self):
        self.db = tempfile.mkdtemp(prefix="mpgate-sessmigrate-db-")
        self.addCleanup(shutil.rmtree, self.db, True)

    def sid(self):
        type(self).n += 1
        return "%032x" % (0xabc000 + type(self).n)

    def run_handler(self, name, sid=None, options=()):
        conf = h.config(handlers={"PythonHandler": [{"handler": "sess::" + name, "directory": self.site,
                                                     "is_location": False, "silent": False}]},
                        directives=[["PythonDebug", "1"]], options=[list(o) for o in options])
        cls = type(self)
        rid = cls.next_id
        cls.next_id += 1
        headers = [("HTTP_COOKIE", "pysid=" + sid)] if sid else []
        meta = h.meta("/site/sess", os.path.join(self.site, "sess"), document_root=self.tmp)
        r = self.worker.request(rid, conf, conf_id=rid, params_=h.params(headers), meta_=meta)
        if r.status != 200:
            self.fail("status %s, body %r, log:\n%s" % (r.status, r.body[:2000], r.log_text()))
        return json.loads(r.body.decode("utf-8")), r

    def files_options(self):
        return [("mod_python.session.session_type", "FileSession"),
                ("mod_python.session.database_directory", self.db)]

    def dbm_options(self):
        return [("mod_python.session.session_type", "DbmSession"),
                ("mod_python.session.database_directory", self.db)]

    def methods(self, sid):
        return self.store.methods(sid)

    def test_filesession_taken_over_once(self):
        sid = self.sid()
        write_filesession(os.path.join(self.db, "mp_sess"), sid, mod_python_record({"user": "alice", "n": 1}))
        d, r = self.run_handler("counter", sid, self.files_options())
        self.assertFalse(d["new"], r.log_text())
        self.assertEqual(d["id"], sid)
        self.assertEqual(d["data"], {"user": "alice", "n": 2})
        self.assertEqual([v for k, v in r.headers if k.lower() == "set-cookie"], [])
        self.assertIn(sid, self.store.markers)
        # the next request finds the daemon's copy: no look at mod_python's
        os.unlink(os.path.join(self.db, "mp_sess", sid[:2], sid))
        d, _ = self.run_handler("counter", sid, self.files_options())
        self.assertEqual(d["data"], {"user": "alice", "n": 3})
        self.assertEqual(self.methods(sid), ["session.load(lock)", "session.import", "session.save",
                                             "session.load(lock)", "session.save"])

    def test_dbmsession_taken_over(self):
        sid = self.sid()
        write_dbmsession(os.path.join(self.db, "mp_sess.dbm"), sid, mod_python_record({"user": "bob"}))
        d, r = self.run_handler("peek", sid, self.dbm_options())
        self.assertFalse(d["new"], r.log_text())
        self.assertEqual(d["data"], {"user": "bob"})
        self.assertEqual(d["class"], "DbmSession")

    def test_not_resurrected_after_logout(self):
        sid = self.sid()
        write_filesession(os.path.join(self.db, "mp_sess"), sid, mod_python_record({"user": "carol"}))
        d, _ = self.run_handler("peek", sid, self.files_options())
        self.assertEqual(d["data"], {"user": "carol"})
        self.run_handler("logout", sid, self.files_options())
        # mod_python's copy is still there; mpgate does not read it again
        d, _ = self.run_handler("peek", sid, self.files_options())
        self.assertTrue(d["new"])
        self.assertNotEqual(d["id"], sid)
        self.assertEqual(self.methods(sid).count("session.import"), 1)

    def test_expired_not_imported(self):
        sid = self.sid()
        write_filesession(os.path.join(self.db, "mp_sess"), sid,
                          mod_python_record({"user": "dave"}, accessed=time.time() - 100, timeout=60))
        d, _ = self.run_handler("peek", sid, self.files_options())
        self.assertTrue(d["new"])
        self.assertNotIn("session.import", self.methods(sid))

    def test_forged_id_costs_one_lookup(self):
        sid = self.sid()
        d, r = self.run_handler("peek", sid, self.files_options())
        self.assertTrue(d["new"])
        self.assertEqual(self.methods(sid), ["session.load(lock)", "session.unlock"])
        self.assertNotIn("refused", r.log_text())

    def test_malformed_and_oversized_refused_naming_the_file(self):
        sessdir = os.path.join(self.db, "mp_sess")
        cases = [
            ("not a pickle", b"garbage\n"),
            ("not a session dict", pickle.dumps([1, 2, 3], 2)),
            ("bytes after the end of the pickle", pickle.dumps(mod_python_record({}), 2) + b"x"),
            ("not a pickle", pickle.dumps(mod_python_record({"a": "b" * 100}), 2)[:50]),  # truncated
            ("more than the limit", b"x" * (sessmigrate.MAX_RECORD + 1)),
            ("not a session dict", pickle.dumps({"_data": 1}, 2)),
        ]
        for want, raw in cases:
            with self.subTest(want=want):
                sid = self.sid()
                write_filesession(sessdir, sid, raw=raw)
                d, r = self.run_handler("peek", sid, self.files_options())
                self.assertTrue(d["new"])
                self.assertNotIn("session.import", self.methods(sid))
                log = r.log_text()
                self.assertIn("mod_python's session record %s/%s/%s... refused: " % (sessdir, sid[:2], sid[:8]), log)
                self.assertIn(want, log)
                self.assertNotIn(sid, log, "the whole session id is logged")

    def test_no_site_code_runs_while_reading(self):
        # A record whose data would run os.system when unpickled: the
        # checking unpickler never calls it; the real load refuses it later
        # like any unloadable record (mod_python would have run it).
        class Evil:
            def __reduce__(self):
                return (os.mkdir, (os.path.join(self.db, "pwned"),))
        sid = self.sid()
        Evil.db = self.db
        write_filesession(os.path.join(self.db, "mp_sess"), sid, mod_python_record({"x": Evil()}))
        self.assertIsNotNone(sessmigrate.read_file(self.db, sid))
        self.assertFalse(os.path.exists(os.path.join(self.db, "pwned")))

    def test_foreign_owner_refused(self):
        # (mpgate's tests run as root, which can give a file away)
        sid = self.sid()
        name = write_filesession(os.path.join(self.db, "mp_sess"), sid, mod_python_record({"user": "eve"}))
        os.chown(name, 12345, 12345)
        d, r = self.run_handler("peek", sid, self.files_options())
        self.assertTrue(d["new"])
        self.assertIn("belongs to uid 12345", r.log_text())
        os.chown(name, 0, 0)
        os.chmod(name, 0o666)
        with self.assertRaisesRegex(sessmigrate.Refused, "writable by anyone"):
            sessmigrate.read_file(self.db, sid)

    def test_import_from_option(self):
        elsewhere = tempfile.mkdtemp(prefix="mpgate-sessmigrate-explicit-")
        self.addCleanup(shutil.rmtree, elsewhere, True)
        sid = self.sid()
        write_filesession(elsewhere, sid, mod_python_record({"user": "frank"}))
        # a DbmSession section told where the old FileSession store is
        opts = self.dbm_options() + [("mpgate.session.import_from", "files:" + elsewhere)]
        d, _ = self.run_handler("peek", sid, opts)
        self.assertEqual(d["data"], {"user": "frank"})
        # off: never looked at
        sid = self.sid()
        write_filesession(os.path.join(self.db, "mp_sess"), sid, mod_python_record({"user": "gina"}))
        d, _ = self.run_handler("peek", sid, self.files_options() + [("mpgate.session.import_from", "off")])
        self.assertTrue(d["new"])
        for bad in ("files:relative", "sql:/x", "maybe"):
            with self.assertRaisesRegex(ValueError, "mpgate.session.import_from"):
                sessmigrate.parse_source(bad)

    def test_half_written_file_never_accepted(self):
        # A writer rewrites the record in place as FileSession.do_save does
        # (truncate, then pickle), alternating two records of different
        # sizes; every read gives one of them whole, or is refused.
        sid = self.sid()
        sessdir = os.path.join(self.db, "mp_sess")
        a = pickle.dumps(mod_python_record({"user": "alice"}), 2)
        b = pickle.dumps(mod_python_record({"user": "bob" * 2000, "cart": list(range(500))}), 2)
        write_filesession(sessdir, sid, raw=a)
        stop = threading.Event()

        def writer():
            name = os.path.join(sessdir, sid[:2], sid)
            i = 0
            while not stop.is_set():
                with open(name, "wb") as f:
                    f.write(a if i % 2 else b)
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        seen = {"a": 0, "b": 0, "refused": 0}
        try:
            for _ in range(300):
                try:
                    got = sessmigrate.read_file(self.db, sid)
                except sessmigrate.Refused as e:
                    self.assertRegex(str(e), "still being written|changed size|not a pickle")
                    seen["refused"] += 1
                    continue
                self.assertIsNotNone(got)
                self.assertIn(got[0], (a, b))
                seen["a" if got[0] == a else "b"] += 1
        finally:
            stop.set()
            t.join()
        self.assertGreater(seen["a"] + seen["b"], 0, seen)

    def test_present_session_costs_nothing_more(self):
        d, r = self.run_handler("counter", None, self.files_options())
        sid = d["id"]
        before = len(self.store.calls)
        d, _ = self.run_handler("counter", sid, self.files_options())
        self.assertEqual([m for _, m, _ in self.store.calls[before:]], ["session.load", "session.save"])


if __name__ == "__main__":
    unittest.main()
