"""mpgate's own cases of the core request API (coreapi_test.go), beyond the
ports of mod_python's tests in htdocs/tests.py. Under /api the case is the
first path component after /api/ (or /api/debug/, /api/quiet/); every case
writes what it observes, so that the differential test shows what differs.
"""

import os
import sys

from mod_python import apache
import _apache


def handler(req):
    parts = (req.uri or "").split("/")
    i = 2
    if len(parts) > 2 and parts[2] in ("debug", "quiet", "loud"):
        i = 3
    case = parts[i] if len(parts) > i else ""
    if case.endswith(".txt"):
        # An existing file: the query string names the case.
        case = req.args if req.args in CASES else "request"
    fn = CASES.get(case)
    if fn is None:
        req.content_type = "text/plain"
        req.write("no case %r\n" % case)
        return apache.OK
    return fn(req)


CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def _lines(req, pairs):
    req.content_type = "text/plain"
    for k, v in pairs:
        req.write("%s = %r\n" % (k, v), 0)


def _notes(req):
    # mod_mime's "ap-mime-exceptions-list" note holds a pointer, not a
    # string: reading its value crashes mod_python, so it is left out.
    return [(k, req.notes[k]) for k in req.notes.keys() if k != "ap-mime-exceptions-list"]


def _hidden(k):
    # Request headers that differ by transport, not by handler: mod_fcgid
    # forces "Connection: close" on the request it forwards (mod_fcgid.c).
    return k.lower() == "connection"


# -- what a request looks like -------------------------------------------------


@case
def request(req):
    pairs = []
    add = lambda k, v: pairs.append((k, v))  # noqa: E731
    add("type(req)", str(type(req)))
    for name in ("the_request", "method", "method_number", "protocol", "proto_num", "hostname",
                 "uri", "unparsed_uri", "args", "parsed_uri", "filename", "canonical_filename",
                 "path_info", "used_path_info", "header_only", "status", "status_line",
                 "content_type", "_content_type_set", "content_encoding", "content_languages",
                 "handler", "user", "ap_auth_type", "no_cache", "no_local_copy", "chunked",
                 "assbackwards", "proxyreq", "clength", "remaining", "read_length", "read_body",
                 "read_chunked", "expecting_100", "range", "mtime", "allowed", "allowed_methods",
                 "allowed_xmethods", "sent_bodyct", "bytes_sent", "_bytes_queued", "eos_sent",
                 "vlist_validator", "phase", "extension", "interpreter", "next", "prev", "main"):
        add(name, getattr(req, name))
    add("document_root()", req.document_root())
    add("auth_type()", req.auth_type())
    add("auth_name()", req.auth_name())
    add("get_addhandler_exts()", req.get_addhandler_exts())
    add("is_https()", req.is_https())
    add("finfo.filetype", req.finfo.filetype)
    add("finfo.fname", req.finfo.fname)
    add("finfo.size", req.finfo.size)
    add("finfo.valid", req.finfo.valid)
    add("finfo[FINFO_NAME]", req.finfo[apache.FINFO_NAME])
    add("hlist", (req.hlist.handler, req.hlist.directory, req.hlist.is_location, req.hlist.silent))
    add("headers_in", sorted((k, v) for k, v in req.headers_in.items() if not _hidden(k)))
    add("headers_out", list(req.headers_out.items()))
    add("err_headers_out", list(req.err_headers_out.items()))
    add("notes", _notes(req))
    add("subprocess_env", sorted(req.subprocess_env.items()))
    add("get_config()", sorted(req.get_config().items()))
    add("get_options()", sorted(req.get_options().items()))
    add("server.server_hostname", req.server.server_hostname)
    add("server.server_admin", req.server.server_admin)
    add("server.is_virtual", req.server.is_virtual)
    add("server.get_config()", sorted(req.server.get_config().items()))
    add("server.get_options()", sorted(req.server.get_options().items()))
    add("apache.interpreter", apache.interpreter)
    add("apache.main_server.server_hostname", apache.main_server.server_hostname)
    add("apache.main_server.get_options()", sorted(apache.main_server.get_options().items()))
    add("apache.exists_config_define('MPGATE')", apache.exists_config_define("MPGATE"))
    add("module __name__", __name__)
    add("sys.argv", sys.argv)
    if req.method == "POST":
        body = req.read()
        add("body", body)
        add("read_length after read", req.read_length)
        add("remaining after read", req.remaining)
    _lines(req, pairs)
    return apache.OK


@case
def log_levels(req):
    # As SimpleTestCase.test_apache_log_error, in this host (the site's
    # LogLevel): the Go test compares which lines reach the error logs. Under
    # /api/loud, whose <Directory> says LogLevel debug, req.log_error obeys
    # that level and the others still the server's.
    s = req.server
    c = req.connection
    where = "loud" if "/loud/" in req.uri else "default"
    levels = (("EMERG", apache.APLOG_EMERG), ("ALERT", apache.APLOG_ALERT), ("CRIT", apache.APLOG_CRIT),
              ("ERR", apache.APLOG_ERR), ("WARNING", apache.APLOG_WARNING), ("NOTICE", apache.APLOG_NOTICE),
              ("INFO", apache.APLOG_INFO), ("DEBUG", apache.APLOG_DEBUG))
    for name, level in levels:
        apache.log_error("coreapi-%s-apache-x%sx" % (where, name), level, s)
        s.log_error("coreapi-%s-server-x%sx" % (where, name), level)
        c.log_error("coreapi-%s-conn-x%sx" % (where, name), level)
        req.log_error("coreapi-%s-req-x%sx" % (where, name), level)
        apache.log_error("coreapi-%s-noserver-x%sx" % (where, name), level)
    req.content_type = "text/plain"
    req.write("logged\n")
    return apache.OK


@case
def connection(req):
    c = req.connection
    _lines(req, [
        ("type", str(type(c))),
        ("local_ip", c.local_ip),
        ("local_host", c.local_host),
        ("client_ip", c.client_ip),
        ("client_addr[0]", c.client_addr[0]),
        ("remote_host", c.remote_host),
        ("remote_logname", c.remote_logname),
        ("aborted", c.aborted),
        ("double_reverse", c.double_reverse),
        ("notes", list(c.notes.items())),
        ("base_server.server_hostname", c.base_server.server_hostname),
        ("base_server.is_virtual", c.base_server.is_virtual),
        ("useragent_ip", req.useragent_ip),
        ("get_remote_host()", req.get_remote_host()),
        ("get_remote_host(REMOTE_NOLOOKUP, 1)", req.get_remote_host(apache.REMOTE_NOLOOKUP, 1)),
    ])
    return apache.OK


@case
def servers(req):
    # The server objects' facts from the configuration (the site sets LogLevel
    # info and Timeout 60 for every host), server_rec.next (Apache's list: the
    # main server, then the <VirtualHost>s, the last written first) and
    # conn.base_server (the first host of the address: this one).
    s = req.server
    m = apache.main_server
    chain = []
    n = m.next
    while n is not None:
        chain.append(n.server_hostname)
        n = n.next
    pairs = [("main_server.next ... chain", chain),
             ("server.next", s.next),
             ("main_server.next is a server", type(m.next) is type(s))]
    for name in ("loglevel", "timeout", "keep_alive_timeout", "keep_alive_max", "keep_alive", "path",
                 "pathlen", "error_fname", "port", "limit_req_line", "limit_req_fieldsize",
                 "limit_req_fields", "is_virtual"):
        pairs.append(("server." + name, getattr(s, name)))
    for name in ("loglevel", "timeout", "keep_alive_timeout", "keep_alive_max", "keep_alive", "path",
                 "is_virtual"):
        pairs.append(("main_server." + name, getattr(m, name)))
    b = req.connection.base_server
    pairs += [("base_server.server_hostname", b.server_hostname),
              ("base_server.loglevel", b.loglevel),
              ("base_server is req.server", b is s),
              ("base_server options", list(b.get_options().items())[-1:])]
    _lines(req, pairs)
    return apache.OK


# -- writing the response ----------------------------------------------------


@case
def write(req):
    req.content_type = "text/plain; charset=utf-8"
    req.write("str: caf\xe9 \u20ac\n")
    req.write(b"bytes: \xff\xfe\n")
    req.write("")
    req.write(memoryview(b"memoryview\n"))
    try:
        req.write(42)
    except TypeError as e:
        req.write("write(42): TypeError: %s\n" % e)
    try:
        req.write(bytearray(b"x"))
    except TypeError as e:
        req.write("write(bytearray): TypeError: %s\n" % e)
    req.write("bytes_sent=%d _bytes_queued=%d\n" % (req.bytes_sent, req._bytes_queued))
    req.flush()
    return apache.OK


@case
def buffered(req):
    # Written with flush=0: status and headers may still change.
    req.write("held back\n", 0)
    req.status = apache.HTTP_ACCEPTED
    req.content_type = "text/x-held"
    req.headers_out["X-Late"] = "still sent"
    req.write("sent_bodyct=%d\n" % req.sent_bodyct, 0)
    return apache.OK


@case
def late_headers(req):
    # After a flushed write the head is gone: later changes are not sent.
    req.content_type = "text/plain"
    req.write("first\n")
    req.status = apache.HTTP_NOT_FOUND
    req.headers_out["X-Too-Late"] = "yes"
    req.content_type = "text/html"
    req.write("sent_bodyct=%d status=%d\n" % (req.sent_bodyct, req.status))
    return apache.OK


@case
def status_line(req):
    req.status = 299
    req.status_line = "299 Custom Reason"
    req.content_type = "text/plain"
    req.write("custom status line\n")
    return apache.OK


@case
def status_body(req):
    # The idiom for a custom error body: set status, write, return OK.
    req.status = apache.HTTP_NOT_FOUND
    req.content_type = "text/plain"
    req.headers_out["X-Out"] = "out"
    req.err_headers_out["X-Err"] = "err"
    req.write("my own not found page\n")
    return apache.OK


@case
def status_unknown(req):
    # A status httpd has no status line for goes out as a 500, unless the
    # handler gives the line.
    req.status = 418
    req.content_type = "text/plain"
    req.write("status 418 without a status line\n")
    return apache.OK


@case
def status_unknown_line(req):
    req.status = 418
    req.status_line = "418 I'm a teapot"
    req.content_type = "text/plain"
    req.write("status 418 with a status line\n")
    return apache.OK


@case
def held_small(req):
    req.content_type = "text/plain"
    req.write("x" * 8000, 0)
    return apache.OK


@case
def held_big(req):
    # More than httpd buffers (8 KB): the head goes out without a length.
    req.content_type = "text/plain"
    for _ in range(5):
        req.write("y" * 4000, 0)
    return apache.OK


@case
def latin_header(req):
    req.headers_out["X-Latin"] = "caf\xe9"
    req.headers_out["X-Bytes"] = b"raw \xff"
    req.content_type = "text/plain"
    req.write("latin-1 header values\n")
    return apache.OK


@case
def status_redirect_ok(req):
    # A redirect status set by the handler, with its own body.
    req.status = apache.HTTP_MOVED_TEMPORARILY
    req.headers_out["Location"] = "http://example.com/there"
    req.content_type = "text/plain"
    req.write("moved, body by the handler\n")
    return apache.OK


@case
def location_200(req):
    # A local Location on a 200 response: sent as it is by mod_python.
    req.headers_out["Location"] = "/api/page.txt"
    req.content_type = "text/plain"
    req.write("200 with a Location header\n")
    return apache.OK


@case
def status_only(req):
    # A status set without any body.
    req.status = apache.HTTP_NOT_FOUND
    return apache.OK


@case
def ctype_header(req):
    # Content-Type through headers_out: httpd replaces it with
    # req.content_type when mod_mime gave the file a type (.txt here, none for
    # /api/ctype_header).
    req.headers_out["Content-Type"] = "text/x-from-headers-out"
    req.write("headers_out Content-Type, content_type=%r\n" % req.content_type)
    return apache.OK


@case
def imports(req):
    m = apache.import_module("nocallable")
    again = apache.import_module("nocallable", autoreload=0, log=1)
    os_mod = apache.import_module("os")
    req.content_type = "text/plain"
    req.write("module %s NOT_A_HANDLER=%r same=%r\n" % (m.__name__, m.NOT_A_HANDLER, m is again))
    req.write("os is os: %r\n" % (os_mod is os,))
    req.write("__mtime__ set: %r\n" % (getattr(m, "__mtime__", 0) > 0,))
    try:
        apache.import_module("no_such_module_anywhere")
    except ImportError as e:
        req.write("missing: %s: %s\n" % (type(e).__name__, e))
    req.write("sys.path[0]=%r\n" % sys.path[0])
    return apache.OK


@case
def empty(req):
    return apache.OK


@case
def empty_typed(req):
    req.content_type = "application/json"
    return apache.OK


@case
def content_length(req):
    req.content_type = "text/plain"
    req.set_content_length(6)
    req.write("exact\n")
    return apache.OK


@case
def no_cache(req):
    req.no_cache = 1
    req.content_type = "text/plain"
    req.write("no cache\n")
    return apache.OK


@case
def last_modified(req):
    req.update_mtime(1000000000.5)
    req.set_last_modified()
    req.content_type = "text/plain"
    req.write("mtime=%r\n" % req.mtime)
    req.write("Last-Modified=%s\n" % req.headers_out["Last-Modified"])
    req.write("meets_conditions=%d\n" % req.meets_conditions())
    return apache.OK


@case
def sendfile(req):
    path = os.path.join(os.path.dirname(req.filename), "page.txt")
    req.content_type = "text/plain"
    n = req.sendfile(path)
    req.write("\nsent %d\n" % n)
    n = req.sendfile(path, 2, 5)
    req.write("\nsent %d\n" % n)
    n = req.sendfile(path, 3, 4)
    req.write("\nsent %d\n" % n)
    try:
        req.sendfile(path + ".missing")
    except IOError as e:
        req.write("missing: %s: %s\n" % (type(e).__name__, e))
    req.write("bytes_sent=%d _bytes_queued=%d\n" % (req.bytes_sent, req._bytes_queued))
    return apache.OK


# -- results ---------------------------------------------------------------------


def _result(value):
    def fn(req):
        req.headers_out["X-Out"] = "dropped on errors"
        req.err_headers_out["X-Err"] = "kept on errors"
        return value
    return fn


for _name, _value in (("declined", apache.DECLINED), ("done", apache.DONE), ("http_ok", apache.HTTP_OK),
                      ("result_42", 42), ("result_1000", 1000),
                      ("forbidden", apache.HTTP_FORBIDDEN), ("not_found", apache.HTTP_NOT_FOUND),
                      ("gone", apache.HTTP_GONE), ("teapot", 418),
                      ("server_error", apache.HTTP_INTERNAL_SERVER_ERROR),
                      ("unavailable", apache.HTTP_SERVICE_UNAVAILABLE),
                      ("bool", True), ("string", "200"), ("none", None), ("float", 0.0)):
    CASES[_name] = _result(_value)
del _name, _value


@case
def redirect(req):
    req.headers_out["Location"] = "http://example.com/elsewhere"
    req.err_headers_out["X-Err"] = "kept"
    return apache.HTTP_MOVED_TEMPORARILY


@case
def moved(req):
    req.err_headers_out["Location"] = "/elsewhere"
    return apache.HTTP_MOVED_PERMANENTLY


@case
def created(req):
    req.headers_out["Location"] = "/new/thing"
    return apache.HTTP_CREATED


@case
def not_modified(req):
    req.headers_out["ETag"] = '"x"'
    return apache.HTTP_NOT_MODIFIED


@case
def no_content(req):
    req.status = apache.HTTP_NO_CONTENT
    return apache.OK


@case
def method_not_allowed(req):
    req.allow_methods(["GET", "POST", "MKWORKSPACE"])
    req.allow_methods(["PUT"])
    return apache.HTTP_METHOD_NOT_ALLOWED


@case
def not_implemented(req):
    req.allow_methods(["PUT", "DELETE"], 1)
    return apache.HTTP_NOT_IMPLEMENTED


@case
def server_return(req):
    req.headers_out["X-Out"] = "out"
    raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)


@case
def server_return_status(req):
    req.content_type = "text/plain"
    req.write("written before SERVER_RETURN(OK, 202)\n", 0)
    raise apache.SERVER_RETURN(apache.OK, apache.HTTP_ACCEPTED)


@case
def server_return_done(req):
    req.content_type = "text/plain"
    req.write("done\n")
    raise apache.SERVER_RETURN(apache.DONE)


@case
def server_return_empty(req):
    raise apache.SERVER_RETURN()


@case
def raise_error(req):
    raise ValueError("raised on purpose")


@case
def raise_after_write(req):
    req.content_type = "text/plain"
    req.write("before the error\n")
    raise KeyError("after writing")


@case
def raise_after_held_write(req):
    req.content_type = "text/plain"
    req.write("held before the error\n", 0)
    raise KeyError("after a held write")


@case
def error_after_write(req):
    req.content_type = "text/plain"
    req.write("before the error status\n")
    return apache.HTTP_FORBIDDEN


@case
def error_after_held_write(req):
    req.content_type = "text/plain"
    req.write("held before the error status\n", 0)
    return apache.HTTP_FORBIDDEN


@case
def system_exit(req):
    sys.exit(3)


# -- the request body ----------------------------------------------------------------


@case
def read(req):
    out = []
    what = req.args or ""
    if what == "parts":
        out.append(req.read(5))
        out.append(req.read(0))
        out.append(req.read(7))
        out.append(req.read())
        out.append(req.read())
    elif what == "lines":
        out.append(req.readline(3))
        out.append(req.readline())
        out.append(req.readline(100))
        out.append(req.readlines())
        out.append(req.readline())
    elif what == "mixed":
        out.append(req.readline())
        out.append(req.read(4))
        out.append(req.readlines(10))
        out.append(req.read())
    elif what == "discard":
        out.append(req.read(3))
        out.append(req.discard_request_body())
        out.append(req.read())
    else:
        out.append(req.read())
    _lines(req, [("read_length", req.read_length), ("remaining", req.remaining),
                 ("read_body", req.read_body)] + [("part %d" % i, p) for i, p in enumerate(out)])
    return apache.OK


# -- attributes ------------------------------------------------------------------


def _try(pairs, label, fn):
    try:
        pairs.append((label, fn()))
    except Exception as e:
        pairs.append((label, "%s: %s" % (type(e).__name__, e)))


@case
def attributes(req):
    pairs = []

    def setter(name, value):
        def fn():
            setattr(req, name, value)
            return getattr(req, name)
        return fn

    for name in ("method", "the_request", "protocol", "hostname", "unparsed_uri", "header_only",
                 "connection", "server", "headers_in", "headers_out", "interpreter", "phase",
                 "bytes_sent", "request_time", "clength", "allowed", "mtime", "content_encoding"):
        _try(pairs, "set %s" % name, setter(name, getattr(req, name)))
    for name, value in (("status", "200"), ("status", 200.0), ("status", None), ("status", 201),
                        ("uri", "/changed"), ("uri", None), ("uri", 5), ("args", None), ("args", "x=1"),
                        ("filename", "/tmp/changed"), ("filename", None), ("path_info", "/pi"),
                        ("canonical_filename", "/tmp/canon"), ("handler", None), ("handler", "mod_python"),
                        ("user", "bob"), ("user", None), ("ap_auth_type", "Basic"), ("no_cache", 0),
                        ("no_cache", "1"), ("chunked", 0), ("chunked", "x"), ("used_path_info", 1),
                        ("proxyreq", 0), ("assbackwards", 0), ("status_line", None),
                        ("status_line", "200 Fine"), ("content_type", "text/plain"),
                        ("content_type", None), ("content_type", b"text/x-bytes"),
                        ("content_type", "text/\u20ac"), ("finfo", None),
                        ("finfo", apache.stat(req.document_root(), apache.APR_FINFO_MIN))):
        _try(pairs, "set %s=%r" % (name, value), setter(name, value))
    req.custom = {"any": "value"}
    pairs.append(("custom attribute", req.custom))
    _try(pairs, "del custom", lambda: delattr(req, "custom") or hasattr(req, "custom"))
    _try(pairs, "missing attribute", lambda: req.no_such_attribute)
    req.status = 200
    req.content_type = "text/plain"
    _lines(req, pairs)
    return apache.OK


@case
def methods(req):
    pairs = []
    _try(pairs, "add_handler bad phase", lambda: req.add_handler("PythonNoSuchHandler", "api"))
    _try(pairs, "add_handler cleanup phase", lambda: req.add_handler("PythonCleanupHandler", "api"))
    _try(pairs, "add_handler non-str handler", lambda: req.add_handler("PythonHandler", handler))
    _try(pairs, "add_handler other phase", lambda: req.add_handler("PythonFixupHandler", "api::never"))
    _try(pairs, "add_handler with dir", lambda: req.add_handler("PythonHandler", "api::added", "/tmp/x/../y"))
    _try(pairs, "register_cleanup non-callable", lambda: req.register_cleanup("x"))
    _try(pairs, "log_error None", lambda: req.log_error(None))
    _try(pairs, "log_error int", lambda: req.log_error(3))
    _try(pairs, "allow_methods str", lambda: req.allow_methods("GET"))
    _try(pairs, "construct_url", lambda: req.construct_url("/x?y#z"))
    _try(pairs, "construct_url bytes", lambda: req.construct_url(b"/x"))
    _try(pairs, "get_remote_host()", lambda: req.get_remote_host())
    _try(pairs, "get_remote_host(REMOTE_HOST)", lambda: req.get_remote_host(apache.REMOTE_HOST))
    _try(pairs, "get_remote_host(REMOTE_NOLOOKUP, 0)", lambda: req.get_remote_host(apache.REMOTE_NOLOOKUP, 0))
    _try(pairs, "get_basic_auth_pw", lambda: req.get_basic_auth_pw())
    _try(pairs, "requires", lambda: req.requires())
    _try(pairs, "is_https", lambda: req.is_https())
    _try(pairs, "ssl_var_lookup", lambda: req.ssl_var_lookup("SSL_PROTOCOL"))
    _try(pairs, "read(-5)", lambda: req.read(-5))
    _try(pairs, "read('x')", lambda: req.read("x"))
    _try(pairs, "set_content_length('x')", lambda: req.set_content_length("x"))
    _try(pairs, "update_mtime('x')", lambda: req.update_mtime("x"))
    _try(pairs, "send_http_header", lambda: req.send_http_header())
    _try(pairs, "get_config is live", lambda: req.get_config() is req.get_config())
    _try(pairs, "get_options is live", lambda: req.get_options() is req.get_options())
    _try(pairs, "server is the same object", lambda: req.server is req.server)
    _try(pairs, "connection is the same object", lambda: req.connection is req.connection)
    _try(pairs, "apache.stat missing", lambda: apache.stat("/no/such/file", apache.APR_FINFO_MIN).filetype)
    _try(pairs, "apache.stat dir", lambda: apache.stat(req.document_root(), apache.APR_FINFO_MIN).filetype)
    _try(pairs, "apache.log_error", lambda: apache.log_error("coreapi apache.log_error line"))
    _try(pairs, "apache.log_error bad server", lambda: apache.log_error("x", apache.APLOG_ERR, "server"))
    _try(pairs, "apache.mpm_query(AP_MPMQ_IS_THREADED)", lambda: apache.mpm_query(apache.AP_MPMQ_IS_THREADED))
    # (parse_qsl of a str is left out: Debian's mod_python reads freed
    # memory there and returns garbage keys.)
    _try(pairs, "_apache.parse_qsl bytes", lambda: _apache.parse_qsl(b"a=1&b=%41&c&a=2", 1))
    _try(pairs, "_apache.parse_qs", lambda: sorted(_apache.parse_qs("a=1&b=%41&c&a=2").items()))
    req.log_error("coreapi req.log_error line")
    req.log_error("coreapi req.log_error warning", apache.APLOG_WARNING)
    req.server.log_error("coreapi server.log_error line")
    req.connection.log_error("coreapi connection.log_error line")
    _lines(req, pairs)
    return apache.OK


def added(req):
    req.write("added handler ran, hlist.directory=%r\n" % req.hlist.directory)
    return apache.OK


# -- configuration per directory ---------------------------------------------------


@case
def config(req):
    _lines(req, [
        ("get_config()", sorted(req.get_config().items())),
        ("get_options()", sorted(req.get_options().items())),
        ("hlist.directory", req.hlist.directory),
        ("interpreter", req.interpreter),
    ])
    return apache.OK


# -- other handler entries -----------------------------------------------------------


class Page:
    """PythonHandler api::Page.render: Page(req).render(req)."""

    def __init__(self, req):
        self.made_with = type(req).__name__

    def render(self, req):
        req.content_type = "text/plain"
        req.write("Page(req).render(req): made with %s, phase %s, hlist.handler %s\n"
                  % (self.made_with, req.phase, req.hlist.handler))
        return apache.OK


def by_extension(req):
    req.content_type = "text/plain"
    req.write("by_extension: extension=%r filename=%s\n" % (req.extension, os.path.basename(req.filename)))
    return apache.OK


def plain(req):
    req.content_type = "text/plain"
    req.write("plain: extension=%r filename=%s\n" % (req.extension, os.path.basename(req.filename)))
    return apache.OK


def stack_ok(req):
    req.content_type = "text/plain"
    req.write("stack_ok ran\n")
    return apache.OK


def stack_declined(req):
    req.write("stack_declined ran\n")
    return apache.DECLINED


def stack_never(req):
    req.write("stack_never ran\n")
    return apache.OK


def auth(req):
    pw = req.get_basic_auth_pw()
    req.content_type = "text/plain"
    req.write("user=%r pw=%r auth_type=%r auth_name=%r ap_auth_type=%r\n"
              % (req.user, pw, req.auth_type(), req.auth_name(), req.ap_auth_type))
    req.write("err_headers_out=%r\n" % list(req.err_headers_out.items()))
    req.write("Authorization in headers_in: %r\n" % ("Authorization" in req.headers_in))
    req.write("notes: %r\n" % _notes(req))
    if req.args == "deny":
        return apache.HTTP_UNAUTHORIZED
    return apache.OK



def config_and_interpreter(req):
    req.content_type = "text/plain"
    req.write("interpreter=%r apache.interpreter=%r\n" % (req.interpreter, apache.interpreter))
    req.write("get_config()=%r\n" % sorted(req.get_config().items()))
    return apache.OK


def location(req):
    req.content_type = "text/plain"
    for name in ("uri", "filename", "canonical_filename", "path_info", "args", "extension"):
        req.write("%s = %r\n" % (name, getattr(req, name)))
    req.write("hlist = %r\n" % ((req.hlist.handler, req.hlist.directory, req.hlist.is_location),))
    req.write("get_options()['where'] = %r\n" % req.get_options().get("where"))
    req.write("finfo.filetype = %r\n" % req.finfo.filetype)
    return apache.OK


@case
def big(req):
    # 1 MB in 64 KB writes.
    req.content_type = "application/octet-stream"
    block = bytes(range(256)) * 256
    for _ in range(16):
        req.write(block)
    return apache.OK
