"""Python handlers using mod_python.psp's API, for psp_test.go (one per
query string)."""

from mod_python import apache, psp


def handler(req):
    req.content_type = "text/plain"
    what = req.args or "file"
    return globals()["do_" + what](req)


def do_file(req):
    # a page relative to this request's directory, with vars
    req.content_type = "text/html"
    p = psp.PSP(req, "tmpl.psp", vars={"who": "constructor", "n": 1})
    p.run({"n": 2})
    return apache.OK


def do_abs(req):
    p = psp.PSP(req, req.document_root() + "/py/tmpl.psp", vars={"who": "absolute", "n": 3})
    p.run()
    return apache.OK


def do_string(req):
    p = psp.PSP(req, string=b"string <%= who %> <%= 6 * 7 %>\n", vars={"who": "bytes"})
    p.run()
    p2 = psp.PSP(req, string=b"string <%= who %> <%= 6 * 7 %>\n", vars={"who": "cached"})
    p2.run()
    return apache.OK


def do_str_string(req):
    try:
        psp.PSP(req, string="a str <%= 1 %>")
    except TypeError as e:
        req.write("TypeError: %s\n" % e)
    return apache.OK


def do_both(req):
    try:
        psp.PSP(req, filename="tmpl.psp", string=b"x")
    except ValueError as e:
        req.write("ValueError: %s\n" % e)
    return apache.OK


def do_missing(req):
    psp.PSP(req, "nosuch.psp")
    return apache.OK


def do_str(req):
    p = psp.PSP(req, "tmpl.psp", vars={"who": "str()", "n": 4})
    req.write("[%s]" % str(p))
    return apache.OK


def do_parse(req):
    d = req.document_root() + "/py/"
    req.write(psp.parse("tmpl.psp", d))
    req.write(psp.parsestring(b"a <%= b %>\n"))
    req.write(psp.parse(d + "tmpl.psp"))
    return apache.OK


def do_display(req):
    p = psp.PSP(req, "tmpl.psp")
    p.display_code()
    return apache.OK


def do_flush(req):
    p = psp.PSP(req, "tmpl.psp", vars={"who": "flush", "n": 5})
    p.run(flush=1)
    return apache.OK


def do_session(req):
    # the handler's own session, then a page that uses session
    from mod_python import Session
    req.session = Session.Session(req)
    req.session["h"] = "handler"
    p = psp.PSP(req, "sess.psp")
    p.run()
    req.write("after: %s\n" % sorted(req.session.keys()))
    return apache.OK


def do_error_raise(req):
    p = psp.PSP(req, string=b"<%\nraise ValueError('from string')\n%>")
    p.run()
    return apache.OK


def do_session_own(req):
    # the handler's own session, not in req.session: the page's
    # Session.Session(req) is the same session (mod_python deadlocks)
    from mod_python import Session
    s = Session.Session(req)
    s["h"] = "handler"
    p = psp.PSP(req, "sess.psp")
    p.run()
    req.write("after: %s locked=%s\n" % (sorted(s.keys()), s._locked == 1))
    return apache.OK
