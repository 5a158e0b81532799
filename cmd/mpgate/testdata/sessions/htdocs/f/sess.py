"""The session handler of the end-to-end session tests, run by real
mod_python 3.5 and by mpgate alike (except ?twice and ?redirect:
req.get_session() is mpgate's). The query string says what to do; the body reports the session."""

import os

from mod_python import Session, apache


def report(req, s):
    req.write("new=%d n=%d id=%s" % (s.is_new(), s.get("n", 0), s.id()))


def handler(req):
    req.content_type = "text/plain"
    q = req.args or "inc"
    if q == "twice":
        a = req.get_session()
        b = req.get_session()
        c = Session.Session(req)
        d = Session.Session(req)
        a["n"] = a.get("n", 0) + 1
        d.save()
        req.write("same=%s " % (a is b and b is c and c is d))
        report(req, d)
        return apache.OK
    if q == "redirect":
        # mpgate's: the session goes along with req.internal_redirect,
        # with this request's unsaved change and its lock.
        a = req.get_session()
        a["n"] = a.get("n", 0) + 1
        req.internal_redirect(req.uri + "?afterredirect")
        return apache.OK
    if q == "afterredirect":
        s = Session.Session(req)
        s.save()
        req.write("redirected from %s, same=%s " % (req.prev.uri, s is req.prev.get_session()))
        report(req, s)
        return apache.OK
    if q.startswith("signed"):
        s = Session.Session(req, secret="e2e-secret")
    elif q.startswith("short"):
        s = Session.Session(req, timeout=2)
    else:
        s = Session.Session(req)
    if q == "die":
        os.kill(os.getpid(), 9)  # SIGKILL while holding the session's lock
    if q == "invalidate":
        s.invalidate()
        req.write("invalidated")
        return apache.OK
    if q == "data":
        s["name"] = "caf\u00e9 str"
        s["count"] = 42
        s["prefs"] = {"lang": "fr", "ids": [1, 2, 3]}
    if q == "show":
        req.write("new=%d data=%r" % (s.is_new(), sorted(s.items())))
        return apache.OK
    if q.endswith("peek"):
        report(req, s)  # not saved: the stored session's access time stays
        return apache.OK
    s["n"] = s.get("n", 0) + 1
    s.save()
    report(req, s)
    return apache.OK
