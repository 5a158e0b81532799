"""Tests of the worker's phase loop (mpgate.worker run_phases, run_authorizer,
the log and cleanup phases), run by the real worker process over the wire
(tests/harness.py): Apache's order, mod_python's continue rules and results
(mod_python.md §1.6, §2.2, §2.5), and the AUTHORIZER mode the daemon uses for
mod_authnz_fcgi and mod_fcgid."""

import base64
import os
import tempfile
import textwrap
import time
import unittest

from tests import harness as h

PHASES = textwrap.dedent('''
    from mod_python import apache

    def log(req, what):
        req.log_error("%s %s" % (req.phase, what))

    def record(req):
        if not hasattr(req, "trail"):
            req.trail = []
        req.trail.append(req.phase)
        log(req, "ran")
        return apache.OK

    def declined(req):
        record(req)
        return apache.DECLINED

    def content(req):
        record(req)
        req.content_type = "text/plain"
        req.write(",".join(req.trail) + "|user=%s|type=%s" % (req.user, req.ap_auth_type))
        return apache.OK

    def forbidden(req):
        record(req)
        return apache.HTTP_FORBIDDEN

    def done(req):
        record(req)
        req.content_type = "text/plain"
        req.write("done in " + req.phase)
        return apache.DONE

    def authen(req):
        record(req)
        pw = req.get_basic_auth_pw()
        if req.user == "alice" and pw == "secret":
            req.user = "Alice"
            return apache.OK
        return apache.HTTP_UNAUTHORIZED

    def authen_no_user(req):
        record(req)
        return apache.OK

    def authz_bob_denied(req):
        record(req)
        if req.user == "bob":
            return apache.HTTP_FORBIDDEN
        return apache.OK

    def add_content(req):
        record(req)
        req.handler = "mod_python"
        req.add_handler("PythonHandler", "phases::content")
        return apache.OK

    def logger(req):
        req.log_error("loghandler status=%d" % req.status)
        req.write("dropped")
        return apache.OK

    def cleanup(req):
        req.log_error("cleanuphandler ran")
        return apache.OK

    def registered(data):
        apache.log_error("registered cleanup %s" % data)

    def with_cleanup(req):
        req.register_cleanup(registered, "x")
        return content(req)
''')


def entry(handler, directory=None):
    return {"handler": handler, "directory": directory, "is_location": False, "silent": False}


class PhaseLoopTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.site = tempfile.mkdtemp(prefix="mpgate-phases-")
        with open(os.path.join(cls.site, "phases.py"), "w") as f:
            f.write(PHASES)
        cls.worker = h.WorkerProcess()
        cls.next_id = 0

    @classmethod
    def tearDownClass(cls):
        h.finish_worker(cls.worker, cls.site)

    def request(self, handlers, handler="mod_python", meta_extra=None, params_extra=None, **conf_extra):
        type(self).next_id += 1
        rid = self.next_id
        hs = {phase: [entry("phases::" + name, self.site + "/") for name in names] for phase, names in handlers.items()}
        conf = h.config(hs, [["PythonPath", "[%r] + sys.path" % self.site]], handler=handler, **conf_extra)
        meta = h.meta("/x", filename=os.path.join(self.site, "x"))
        for k, v in (meta_extra or {}).items():
            meta.append((k, v))
        p = h.params()
        for k, v in (params_extra or {}).items():
            p.append((k, v))
        return self.worker.request(rid, conf, conf_id=rid, params_=p, meta_=meta)

    def test_order(self):
        r = self.request({
            "PythonFixupHandler": ["record"], "PythonTypeHandler": ["declined"],
            "PythonHeaderParserHandler": ["record"], "PythonAccessHandler": ["record"],
            "PythonPostReadRequestHandler": ["record"], "PythonInitHandler": ["record"],
            "PythonTransHandler": ["declined"], "PythonHandler": ["content"],
        })
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body.decode().split("|")[0], ",".join([
            "PythonInitHandler", "PythonPostReadRequestHandler", "PythonTransHandler",
            "PythonHeaderParserHandler", "PythonAccessHandler", "PythonTypeHandler",
            "PythonFixupHandler", "PythonHandler"]))

    def test_auth_phases_only_when_required(self):
        hs = {"PythonAuthenHandler": ["authen"], "PythonAuthzHandler": ["record"], "PythonHandler": ["content"]}
        r = self.request(hs)
        self.assertEqual(r.body.decode(), "PythonHandler|user=None|type=None")
        auth = [("HTTP_AUTHORIZATION", "Basic " + base64.b64encode(b"alice:secret").decode())]
        r = self.request(hs, params_extra=dict(auth), auth_required=True, auth_type="Basic", auth_name="site")
        self.assertEqual(r.body.decode(),
                         "PythonAuthenHandler,PythonAuthzHandler,PythonHandler|user=Alice|type=Basic")

    def test_authen_401_basic_challenge(self):
        hs = {"PythonAuthenHandler": ["authen"], "PythonHandler": ["content"]}
        r = self.request(hs, auth_required=True, auth_type="Basic", auth_name="site")
        self.assertEqual(r.end.result, 401)
        self.assertIn(("WWW-Authenticate", 'Basic realm="site"'), r.end.headers)
        # Another AuthType: no challenge (mod_auth_basic only notes Basic).
        r = self.request(hs, auth_required=True, auth_type="Custom", auth_name="site")
        self.assertEqual(r.end.result, 401)
        self.assertFalse([k for k, _ in r.end.headers if k.lower() == "www-authenticate"])

    def test_authen_ok_without_user(self):
        r = self.request({"PythonAuthenHandler": ["authen_no_user"], "PythonHandler": ["content"]},
                         auth_required=True, auth_type="Basic", auth_name="site")
        self.assertEqual(r.end.result, 500)
        self.assertIn("After PythonAuthenHandler req->user is NULL", r.log_text())

    def test_authen_declined_without_user(self):
        r = self.request({"PythonAuthenHandler": ["declined"], "PythonHandler": ["content"]},
                         auth_required=True, auth_type="Basic", auth_name="site")
        self.assertEqual(r.end.result, 500)
        self.assertIn("No authentication done", r.log_text())

    def test_phases_done_skipped(self):
        hs = {"PythonAccessHandler": ["forbidden"], "PythonAuthenHandler": ["forbidden"],
              "PythonAuthzHandler": ["forbidden"], "PythonHandler": ["content"]}
        r = self.request(hs, auth_required=True,
                         meta_extra={"phases_done": "PythonAccessHandler, PythonAuthenHandler,PythonAuthzHandler",
                                     "user": "Alice", "ap_auth_type": "Basic"})
        self.assertEqual(r.body.decode(), "PythonHandler|user=Alice|type=Basic")

    def test_access_forbidden_ends_request(self):
        r = self.request({"PythonAccessHandler": ["forbidden"], "PythonFixupHandler": ["record"],
                          "PythonHandler": ["content"]})
        self.assertEqual(r.end.result, 403)
        self.assertNotIn("PythonFixupHandler ran", r.log_text())

    def test_stacked_fixups_and_done(self):
        # OK and DECLINED continue a fixup list; DONE ends it and the request.
        r = self.request({"PythonFixupHandler": ["record", "declined", "done", "record"], "PythonHandler": ["content"]})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"done in PythonFixupHandler")
        self.assertEqual(r.log_text().count("PythonFixupHandler ran"), 3)
        self.assertNotIn("PythonHandler ran", r.log_text())

    def test_fixup_sets_handler(self):
        r = self.request({"PythonFixupHandler": ["add_content"]}, handler=None)
        self.assertEqual(r.body.decode().split("|")[0], "PythonFixupHandler,PythonHandler")

    def test_log_and_cleanup_handlers(self):
        r = self.request({"PythonHandler": ["with_cleanup"], "PythonLogHandler": ["logger"],
                          "PythonCleanupHandler": ["cleanup"]})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"PythonHandler|user=None|type=None")  # the log handler's write is dropped
        log = [m for _, m in r.logs]
        i = log.index("loghandler status=200")
        j = [n for n, m in enumerate(log) if "registered cleanup x" in m][0]
        k = log.index("cleanuphandler ran")
        self.assertLess(i, j)
        self.assertLess(j, k)

    def test_log_handler_sees_error_status(self):
        r = self.request({"PythonAccessHandler": ["forbidden"], "PythonLogHandler": ["logger"]})
        self.assertEqual(r.end.result, 403)
        self.assertIn("loghandler status=403", r.log_text())

    def test_authorizer_success(self):
        auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"alice:secret").decode()}
        r = self.request({"PythonAuthenHandler": ["authen"], "PythonAuthzHandler": ["authz_bob_denied"]},
                         params_extra=auth, meta_extra={"authorizer": "PythonAuthenHandler,PythonAuthzHandler"},
                         auth_required=True, auth_type="Basic", auth_name="site")
        self.assertIsNone(r.status)
        self.assertEqual(r.end.result, 0)
        self.assertEqual(dict(r.end.info)["authorizer"], "PythonAuthenHandler,PythonAuthzHandler")
        self.assertEqual(dict(r.end.info)["user"], "Alice")

    def test_authorizer_denied(self):
        auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"alice:wrong").decode()}
        r = self.request({"PythonAuthenHandler": ["authen"]}, params_extra=auth,
                         meta_extra={"authorizer": "PythonAuthenHandler,PythonAuthzHandler"},
                         auth_required=True, auth_type="Basic", auth_name="site")
        self.assertEqual(r.end.result, 401)
        self.assertIn(("WWW-Authenticate", 'Basic realm="site"'), r.end.headers)

    def test_authorizer_access_declined_passes(self):
        r = self.request({}, meta_extra={"authorizer": "PythonAccessHandler"})
        self.assertEqual(r.end.result, 0)
        self.assertEqual(dict(r.end.info)["authorizer"], "PythonAccessHandler")
        self.assertNotIn("user", dict(r.end.info))

    def test_empty_phase_costs_little(self):
        # A request with only a content handler: the eleven other phases
        # are skipped by a set lookup each. Measured, not asserted tightly:
        # the bound only catches a phase doing real work per request.
        hs = {"PythonHandler": ["content"]}
        self.request(hs)
        n = 200
        start = time.perf_counter()
        for _ in range(n):
            self.request(hs)
        per = (time.perf_counter() - start) / n
        self.assertLess(per, 0.05)


if __name__ == "__main__":
    unittest.main()
