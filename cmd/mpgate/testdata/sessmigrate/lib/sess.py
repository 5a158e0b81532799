"""The session handler of sessmigrate_test.go, run by real mod_python 3.5 on one half of the site
and by mpgate on the other. The query string says what to do; the body reports the session as
"new=%d id=%s user=%s n=%d"."""

import time

from mod_python import Session, apache


def handler(req):
    req.content_type = "text/plain"
    s = Session.Session(req)
    q = req.args or "show"
    if q.startswith("login="):
        s["user"] = q[len("login="):]
        s.save()
    elif q == "inc":
        s["n"] = s.get("n", 0) + 1
        s.save()
    elif q == "logout":
        s.invalidate()
        req.write("logged out")
        return apache.OK
    elif q == "expire":
        # saved as last accessed 100 s ago with a timeout of 60 s: expired
        s._accessed = time.time() - 100
        s.set_timeout(60)
        s.save()
    req.write("new=%d id=%s user=%s n=%d" % (s.is_new(), s.id(), s.get("user"), s.get("n", 0)))
    return apache.OK
