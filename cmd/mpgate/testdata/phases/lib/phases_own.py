"""mpgate's own handlers for the phase tests (phases_test.go): authentication, stacked fix-ups,
access, log and cleanup handlers, each reporting what ran so that the two servers' answers can
be compared byte for byte."""

from mod_python import apache

USERS = {"alice": "secret", "bob": "builder"}


def authen(req):
    pw = req.get_basic_auth_pw()
    if req.user in USERS and USERS[req.user] == pw:
        # A handler may set another name than the one sent: mpgate passes it on.
        req.user = req.user.upper()
        return apache.OK
    return apache.HTTP_UNAUTHORIZED


def authz(req):
    if req.user == "BOB":
        req.err_headers_out["X-Authz"] = "denied"
        return apache.HTTP_FORBIDDEN
    return apache.OK


def content(req):
    req.content_type = "text/plain"
    req.write("user=%s phase=%s fixups=%s\n" % (req.user, req.phase, ",".join(getattr(req, "fixups", []))))
    return apache.OK


def header_parser(req):
    req.fixups = ["headerparser"]
    return apache.OK


def type_declined(req):
    req.fixups.append("type")
    return apache.DECLINED


def fix_a(req):
    req.fixups.append("a")
    req.headers_out["X-Fixup"] = "ran"
    return apache.OK


def fix_b(req):
    req.fixups.append("b")
    return apache.DECLINED


def fix_c(req):
    req.fixups.append("c")
    return apache.OK


def fix_done(req):
    req.content_type = "text/plain"
    req.write("ended in %s\n" % req.phase)
    return apache.DONE


def fix_never(req):
    req.write("a fix-up after DONE ran\n")
    return apache.OK


def deny(req):
    req.err_headers_out["X-Access"] = "denied"
    return apache.HTTP_FORBIDDEN


def logger(req):
    req.log_error("phases-log %s status=%d phase=%s" % (req.uri, req.status, req.phase))
    return apache.OK


def cleanup(req):
    req.log_error("phases-cleanup %s phase=%s" % (req.uri, req.phase))
    return apache.OK
