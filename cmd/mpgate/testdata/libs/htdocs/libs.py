# mpgate's own cases of the Cookie and Session API (libs_test.go), beyond mod_python's tests:
# one function per request path (/<name>), each writing what it sees in a form both servers
# print the same way. Session ids differ between servers; the test normalises them.

from mod_python import apache, Cookie, Session


def handler(req):
    name = req.uri.strip("/").split("/")[0].replace(".", "_")
    func = globals().get("case_" + name)
    if func is None:
        return apache.HTTP_NOT_FOUND
    req.content_type = "text/plain"
    out = func(req)
    if out is not None:
        req.write(out)
    return apache.OK


def attrs(c):
    """The cookie's name, value and set attributes, in a fixed order."""
    parts = ["%s=%r" % (c.name, c.value)]
    for a in ("version", "path", "domain", "secure", "comment", "expires", "max_age",
              "commentURL", "discard", "port", "httponly"):
        v = getattr(c, a, None)
        if v is not None:
            parts.append("%s:%r" % (a, v))
    return " ".join(parts)


# ---- Cookie ----

def case_cookie_attrs(req):
    c = Cookie.Cookie("n", "v", path="/p", domain="example.test", secure=1, comment="c",
                      expires=1000000000, max_age=60, httponly=1, version=1)
    Cookie.add_cookie(req, c)
    return str(c) + "\n" + attrs(c) + "\n"


def case_cookie_add_value(req):
    Cookie.add_cookie(req, "a", "b", path="/", expires="Sun, 09-Sep-2001 01:46:40 GMT")
    Cookie.add_cookie(req, "c", "d e")
    return "added\n"


def case_cookie_bad_expires(req):
    try:
        Cookie.Cookie("n", "v", expires="Sunday soon")
    except ValueError as e:
        return "ValueError: %s\n" % e
    return "accepted\n"


def case_cookie_bad_attr(req):
    try:
        Cookie.Cookie("n", "v", flavour="salty")
    except AttributeError as e:
        return "AttributeError: %s\n" % e
    return "accepted\n"


def case_cookie_parse(req):
    header = req.headers_in.get("Cookie", "")
    out = []
    for k, c in sorted(Cookie.Cookie.parse(header).items()):
        out.append("%s -> %s" % (k, attrs(c)))
    return "\n".join(out) + "\n"


def case_cookie_get(req):
    out = []
    for k, c in sorted(Cookie.get_cookies(req).items()):
        out.append("%s=%s" % (k, c.value))
    one = Cookie.get_cookie(req, "one")
    out.append("get_cookie(one) = %s" % (one and one.value))
    out.append("get_cookie(absent) = %r" % Cookie.get_cookie(req, "absent"))
    return "\n".join(out) + "\n"


def case_cookie_none(req):
    return "%r %r\n" % (Cookie.get_cookies(req), Cookie.get_cookie(req, "x"))


def case_cookie_class(req):
    class Mine(Cookie.Cookie):
        pass
    got = Cookie.get_cookies(req, Mine)
    return " ".join("%s:%s:%s" % (k, type(c).__name__, c.value) for k, c in sorted(got.items())) + "\n"


def case_cookie_headers(req):
    # add_cookie adds Cache-Control once, before the first Set-Cookie only.
    Cookie.add_cookie(req, Cookie.Cookie("x", "1"))
    Cookie.add_cookie(req, Cookie.Cookie("y", "2"))
    return "%r\n" % (req.headers_out.get("Cache-Control"),)


# ---- Session (the cookie is libsid, configured in site.conf) ----

def case_session_counter(req):
    s = Session.Session(req)
    s["n"] = s.get("n", 0) + 1
    s.save()
    return "new=%s n=%d timeout=%d\n" % (s.is_new(), s["n"], s.timeout())


def case_session_view(req):
    s = Session.Session(req)
    return "new=%s keys=%s\n" % (s.is_new(), sorted(s.keys()))


def case_session_invalidate(req):
    s = Session.Session(req)
    new = s.is_new()
    s.invalidate()
    return "new=%s invalidated\n" % new


def case_session_methods(req):
    s = Session.Session(req, timeout=90)
    s.set_timeout(120)
    s.save()
    ok = (len(s.id()) == 32 and s.created() <= s.last_accessed() and s.timeout() == 120)
    return "new=%s consistent=%s type=%s\n" % (s.is_new(), ok, type(s).__name__)


def case_session_explicit_bad_sid(req):
    try:
        Session.Session(req, sid="../../etc/passwd")
    except ValueError as e:
        return "ValueError: %s\n" % e
    return "accepted\n"


def case_session_delete(req):
    s = Session.Session(req)
    s["gone"] = 1
    s.save()
    s.delete()
    return "new=%s keys=%s\n" % (s.is_new(), sorted(s.keys()))
