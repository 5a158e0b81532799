"""Handlers of mod_python 3.5's own per-request tests (grisha/mod_python
test/test.py and test/htdocs/tests.py), ported to the differential suite
(coreapi_test.go): each one does what the test's handler does, but writes the
values it checks rather than only "test ok", so that a difference between
mod_python and mpgate shows what differs.
"""

from mod_python.python22 import *  # noqa: F401,F403  (as mod_python's tests.py)

from mod_python import apache
import os
import sys
import tempfile
import time


# -- req.document_root(), req.add_handler() -----------------------------------


def req_document_root(req):
    req.write(req.document_root())
    return apache.OK


def req_add_handler(req):
    # An attribute set here must still be there when the added handler runs.
    req.secret_message = "foo"
    req.add_handler("PythonHandler", "tests::simple_handler")
    return apache.OK


def simple_handler(req):
    if req.secret_message == "foo":
        req.write("test ok")
    return apache.OK


def req_add_bad_handler(req):
    # tests::bad_handler does not exist: the dispatcher fails on it after
    # this handler returned (error_log: "contains no 'bad_handler'").
    req.log_error("req_add_bad_handler " + req.hlist.handler)
    req.add_handler("PythonHandler", "tests::bad_handler")
    req.log_error("req_add_bad_handler " + req.hlist.handler)
    req.write("test ok")
    return apache.OK


def req_add_empty_handler_string(req):
    req.log_error("req_add_empty_handler_string")
    req.add_handler("PythonHandler", "")
    req.write("no exception")
    return apache.OK


def req_allow_methods(req):
    req.allow_methods(["MKWORKSPACE"])
    return apache.HTTP_METHOD_NOT_ALLOWED


# -- Basic authentication ---------------------------------------------------------


def req_get_basic_auth_pw(req):
    pw = req.get_basic_auth_pw()
    if (req.user == "spam" and pw == "eggs") or (req.user == "sp\xe1m" and pw == "\xe9ggs"):
        req.write("test ok")
    else:
        req.write("test failed, user %r, pw %r" % (req.user, pw))
    return apache.OK


def req_unauthorized(req):
    pw = req.get_basic_auth_pw()
    if req.user == "spam" and pw == "eggs":
        req.write("test ok")
        return apache.OK
    return apache.HTTP_UNAUTHORIZED


# -- req.construct_url() --------------------------------------------------------


def req_construct_url(req):
    # mod_python's test checks the URL against ^http://test_req_construct_url:[0-9]+/index.html$;
    # the URL itself is compared here.
    req.write(req.construct_url("/index.html"))
    return apache.OK


# -- reading the request body -------------------------------------------------------


def req_read(req):
    req.write(req.read())
    return apache.OK


def req_readline(req):
    line = req.readline()
    while line:
        req.write(line)
        line = req.readline()
    return apache.OK


def req_readlines(req):
    if "SizeHint" in req.headers_in:
        lines = req.readlines(int(req.headers_in["SizeHint"]))
    else:
        lines = req.readlines()
    req.write(b"".join(lines))
    return apache.OK


def req_discard_request_body(req):
    first = req.read(10)
    if first != b"1234567890":
        req.log_error("read() #1 returned %r" % (first,))
        req.write("test failed")
        return apache.OK
    status = req.discard_request_body()
    if status != apache.OK:
        req.log_error("discard_request_body() returned %d" % status)
        return status
    rest = req.read()
    if rest:
        req.log_error("read() #2 returned %r" % (rest,))
        req.write("test failed")
        return apache.OK
    req.write("test ok")
    return apache.OK


# -- cleanups, headers_out, sendfile ---------------------------------------------------


def req_register_cleanup(req):
    req.cleanup_data = "req_register_cleanup test ok"
    req.register_cleanup(cleanup, req)
    req.write("registered cleanup that will write to log")
    return apache.OK


def cleanup(data):
    data.log_error(data.cleanup_data)


def req_headers_out(req):
    req.headers_out["X-Test-Header"] = "test ok"
    req.write("test ok")
    return apache.OK


def _temp_file(content):
    fd, name = tempfile.mkstemp(suffix="txt")
    with os.fdopen(fd, "w") as f:
        f.write(content)
    return name


def req_sendfile(req):
    name = _temp_file("  test ok  ")
    try:
        req.sendfile(name, 2, 7)
    finally:
        os.remove(name)
    return apache.OK


def req_sendfile2(req):
    name = _temp_file("0123456789" * 100)
    try:
        req.sendfile(name)
    finally:
        os.remove(name)
    return apache.OK


def req_sendfile3(req):
    # sendfile follows a symbolic link.
    name = _temp_file("0123456789" * 100)
    link = name + ".lnk"
    os.symlink(name, link)
    try:
        req.sendfile(link)
    finally:
        os.remove(link)
        os.remove(name)
    return apache.OK


# -- no_cache, update_mtime (Apache-made headers) -----------------------------------


def req_no_cache(req):
    req.no_cache = 1
    req.write("test ok")
    return apache.OK


def req_update_mtime(req):
    req.write("mtime before: %r\n" % req.mtime, 0)
    req.update_mtime(100.0)
    req.write("mtime after: %r\n" % req.mtime, 0)
    req.update_mtime(50.0)
    req.write("mtime after an earlier time: %r\n" % req.mtime, 0)
    req.set_etag()
    req.set_last_modified()
    req.write("ETag set: %r\n" % ("ETag" in req.headers_out), 0)
    req.write("Last-Modified: %s\n" % req.headers_out.get("Last-Modified"), 0)
    req.write("test ok")
    return apache.OK


# -- server-level configuration --------------------------------------------------------


def _no_harness_options(items):
    # As mod_python's PythonOption_items: options of the harness
    # (mod_python.mutex_directory) are left out.
    return sorted(o for o in items if not o[0].startswith("mod_python"))


def req_server_get_config(req):
    srv = req.server.get_config().get("PythonDebug", "0")
    own = req.get_config().get("PythonDebug", "0")
    req.write("server PythonDebug=%s request PythonDebug=%s\n" % (srv, own))
    req.write("test ok" if srv == "1" and own == "0" else "test failed")
    return apache.OK


def req_server_get_options(req):
    for name, table in (("main_server", apache.main_server.get_options()),
                        ("base_server", req.connection.base_server.get_options()),
                        ("server", req.server.get_options()),
                        ("request", req.get_options())):
        req.write("%s: %r\n" % (name, _no_harness_options(table.items())))
    try:
        opts = apache.main_server.get_options()
        assert opts.get("global", "0") == "0"
        assert opts.get("override", "0") == "0"
        opts = req.connection.base_server.get_options()
        assert opts.get("global", "0") == "0"
        assert opts.get("override", "0") == "0"
        opts = req.server.get_options()
        assert opts["global"] == "1"
        assert opts["override"] == "1"
        opts = req.get_options()
        assert opts["global"] == "1"
        assert opts["override"] == "2"
        assert opts["local"] == "1"
    except Exception:
        req.write("test failed")
    else:
        req.write("test ok")
    return apache.OK


def test_sys_argv(req):
    req.write(repr(sys.argv))
    return apache.OK


def PythonOption_items(req):
    req.write(str(_no_harness_options(req.get_options().items())))
    return apache.OK


def interpreter(req):
    req.write(req.interpreter)
    return apache.DONE


def files_directive(req):
    req.write(str(req.hlist.directory))
    return apache.OK


none_handler = None


def server_return_1(req):
    raise apache.SERVER_RETURN(apache.OK)


def server_return_2(req):
    req.write("test ok")
    return apache.OK


# -- test_internal: SimpleTestCase ------------------------------------------------------


def handler(req):
    what = req.args or "members"
    out = []

    def show(name, value):
        out.append("%s = %r" % (name, value))

    if what == "members":
        _req_members(req, show)
    elif what == "server":
        _server_members(req, show)
    elif what == "connection":
        _connection_members(req, show)
    elif what == "config":
        show("get_config()['PythonDebug']", req.get_config()["PythonDebug"])
        show("get_options()", sorted(req.get_options().items()))
        show("get_options() == table({'testing': '123'})", req.get_options() == apache.table({"testing": "123"}))
    elif what == "remote_host":
        show("get_remote_host(REMOTE_HOST)", req.get_remote_host(apache.REMOTE_HOST))
        show("get_remote_host()", req.get_remote_host())
        show("get_remote_host(REMOTE_NOLOOKUP)", req.get_remote_host(apache.REMOTE_NOLOOKUP))
        show("get_remote_host(REMOTE_NAME, 1)", req.get_remote_host(apache.REMOTE_NAME, 1))
        show("get_remote_host(REMOTE_HOST, 1)", req.get_remote_host(apache.REMOTE_HOST, 1))
        show("get_remote_host(REMOTE_DOUBLE_REV)", req.get_remote_host(apache.REMOTE_DOUBLE_REV))
    elif what == "log_error":
        _log_error_levels(req)
        show("logged", True)
    elif what == "common_vars":
        before = len(req.subprocess_env)
        req.add_common_vars()
        show("grew", len(req.subprocess_env) > before)
        _env(req, show)
    elif what == "cgi_vars":
        before = len(req.subprocess_env)
        req.add_cgi_vars()
        show("grew", len(req.subprocess_env) > before)
        _env(req, show)
    elif what == "table":
        _table(req, show)
    req.content_type = "text/plain"
    req.write("\n".join(out) + "\n")
    return apache.OK


def _req_members(req, show):
    # The order of SimpleTestCase.test_req_members, writes included.
    show("type(connection)", str(type(req.connection)))
    show("type(server)", str(type(req.server)))
    show("next", req.next)
    show("prev", req.prev)
    show("main", req.main)
    show("the_request", req.the_request)
    show("assbackwards", req.assbackwards)
    show("proxyreq", req.proxyreq)
    show("header_only", req.header_only)
    show("protocol", req.protocol)
    show("proto_num", req.proto_num)
    show("hostname", req.hostname)
    show("request_time is recent", abs(time.time() - req.request_time) < 10)
    show("status_line", req.status_line)
    show("status", req.status)
    req.status = req.status
    show("method", req.method)
    show("method_number", req.method_number)
    show("allowed", req.allowed)
    show("allowed_xmethods", req.allowed_xmethods)
    show("allowed_methods", req.allowed_methods)
    show("sent_bodyct", req.sent_bodyct)
    before = req.bytes_sent
    show("bytes_sent", before)
    req.content_type = "text/plain"
    req.write("1234\n")
    show("bytes_sent grew by", req.bytes_sent - before)
    show("sent_bodyct after write", req.sent_bodyct)
    show("mtime", req.mtime)
    show("chunked", req.chunked)
    show("range", req.range)
    show("clength", req.clength)
    req.set_content_length(15)
    show("clength after set_content_length(15)", req.clength)
    show("remaining", req.remaining)
    show("read_length", req.read_length)
    show("read_body", req.read_body)
    show("read_chunked", req.read_chunked)
    show("expecting_100", req.expecting_100)
    show("headers_in['Host']", req.headers_in["Host"])
    show("headers_out['content-length']", req.headers_out.get("content-length"))
    show("'SERVER_SOFTWARE' in subprocess_env", "SERVER_SOFTWARE" in req.subprocess_env)
    req.notes["testing"] = "123"
    show("notes", _notes(req))
    show("phase", req.phase)
    show("interpreter", req.interpreter)
    show("interpreter == apache.interpreter", req.interpreter == apache.interpreter)
    show("interpreter == server.server_hostname", req.interpreter == req.server.server_hostname)
    show("content_type", req.content_type)
    req.content_type = "test/123"
    show("content_type after set", req.content_type)
    show("_content_type_set", req._content_type_set)
    show("handler", req.handler)
    show("content_encoding", req.content_encoding)
    show("content_languages", req.content_languages)
    show("vlist_validator", req.vlist_validator)
    show("user", req.user)
    show("ap_auth_type", req.ap_auth_type)
    show("no_cache", req.no_cache)
    show("no_local_copy", req.no_local_copy)
    show("unparsed_uri", req.unparsed_uri)
    show("uri", req.uri)
    show("filename", req.filename)
    show("filename == document_root() + uri", req.filename == req.document_root() + req.uri)
    show("canonical_filename", req.canonical_filename)
    show("path_info", req.path_info)
    show("args", req.args)
    show("finfo[FINFO_FNAME]", req.finfo[apache.FINFO_FNAME])
    show("finfo.filetype", req.finfo.filetype)
    show("finfo.size", req.finfo.size)
    show("parsed_uri", req.parsed_uri)
    show("used_path_info", req.used_path_info)
    show("eos_sent", req.eos_sent)
    show("useragent_ip", req.useragent_ip)
    show("useragent_addr[0]", req.useragent_addr[0])
    show("extension", req.extension)
    show("hlist.handler", req.hlist.handler)
    show("hlist.directory", req.hlist.directory)
    show("hlist.is_location", req.hlist.is_location)
    show("hlist.silent", req.hlist.silent)


def _notes(req):
    # mod_mime's "ap-mime-exceptions-list" note holds a pointer, not a
    # string: reading its value crashes mod_python (and it is no note of the
    # handler's), so it is left out.
    return [(k, req.notes[k]) for k in req.notes.keys() if k != "ap-mime-exceptions-list"]


def _server_members(req, show):
    s = req.server
    for name in ("defn_name", "defn_line_number", "server_admin", "server_hostname", "port",
                 "error_fname", "loglevel", "is_virtual", "timeout", "keep_alive_timeout",
                 "keep_alive_max", "keep_alive", "path", "pathlen", "limit_req_line",
                 "limit_req_fieldsize", "limit_req_fields", "names", "wild_names"):
        show("server." + name, getattr(s, name))
    show("type(server.next)", type(s.next).__name__)
    show("type(server.restart_time)", type(s.restart_time).__name__)
    show("type(server.my_generation)", type(s.my_generation).__name__)
    m = apache.main_server
    show("type(main_server)", str(type(m)))
    show("main_server.server_hostname", m.server_hostname)
    show("main_server.is_virtual", m.is_virtual)
    show("main_server.defn_line_number", m.defn_line_number)
    s.some_attribute = "server objects have a __dict__"
    show("server.some_attribute", s.some_attribute)


def _connection_members(req, show):
    c = req.connection
    show("type(base_server) is type(req.server)", type(c.base_server) is type(req.server))
    show("base_server.server_hostname", c.base_server.server_hostname)
    show("local_addr[0]", c.local_addr[0])
    show("client_addr[0]", c.client_addr[0])
    show("client_ip", c.client_ip)
    show("remote_host", c.remote_host)
    show("remote_logname", c.remote_logname)
    show("aborted", c.aborted)
    show("keepalive", c.keepalive)
    show("double_reverse", c.double_reverse)
    show("keepalives", c.keepalives)
    show("local_ip", c.local_ip)
    show("local_host", c.local_host)
    show("id is small", c.id <= 10000)
    show("notes", c.notes)
    show("repr(notes)", repr(c.notes))
    try:
        c.some_attribute = 1
    except AttributeError:
        show("connection has no __dict__", True)
    else:
        show("connection has no __dict__", False)


def _log_error_levels(req):
    # SimpleTestCase.test_apache_log_error: 8 levels through apache.log_error,
    # server.log_error and conn.log_error. The error logs are compared by the
    # Go test (levels below the LogLevel are not written).
    s = req.server
    c = req.connection
    levels = (("EMERG", apache.APLOG_EMERG), ("ALERT", apache.APLOG_ALERT), ("CRIT", apache.APLOG_CRIT),
              ("ERR", apache.APLOG_ERR), ("WARNING", apache.APLOG_WARNING), ("NOTICE", apache.APLOG_NOTICE),
              ("INFO", apache.APLOG_INFO), ("DEBUG", apache.APLOG_DEBUG))
    for name, level in levels:
        apache.log_error("coreapi-apache-x%sx" % name, level, s)
    for name, level in levels:
        s.log_error("coreapi-server-x%sx" % name, level)
    for name, level in levels:
        c.log_error("coreapi-conn-x%sx" % name, level)
    for name, level in levels:
        req.log_error("coreapi-req-x%sx" % name, level)
    for name, level in levels:
        apache.log_error("coreapi-noserver-x%sx" % name, level)


# CGI variables whose values come from the server's own set-up rather than the request (the
# Go test normalises them); the keys are still compared.
_SERVER_SPECIFIC = ("SERVER_SOFTWARE", "SERVER_SIGNATURE", "PATH", "REMOTE_PORT", "SERVER_PORT")


def _env(req, show):
    env = req.subprocess_env
    for k in sorted(env.keys()):
        v = env[k]
        if k in _SERVER_SPECIFIC and v:
            v = "(%s)" % k
        show("subprocess_env[%s]" % k, v)


class TestFailed(Exception):
    pass


def _table(req, show):
    # SimpleTestCase.test_apache_table: dict conformance of apache.table,
    # inheritance and add().
    t = apache.table()
    show("keys of empty", list(t.keys()))
    show("'a' in empty", "a" in t)
    show("len of empty", len(t))
    t["a"] = "1"
    t["B"] = "2"
    t["c"] = "3"
    t["a"] = "4"
    del t["b"]
    show("after set/del", list(t.items()))
    show("== dict", t == {"a": "4", "c": "3"})
    t.clear()
    show("clear() == table()", t == apache.table())
    t.update({"1": "100"})
    t.update({"2": "20"})
    t.update({"1": "1", "2": "2", "3": "3"})
    show("update", sorted(t.items()))
    t.clear()
    try:
        t.update(None)
    except AttributeError:
        show("update(None)", "AttributeError")

    class SimpleUserDict:
        def __init__(self):
            self.d = {1: 1, 2: 2, 3: 3}

        def keys(self):
            return list(self.d.keys())

        def __getitem__(self, i):
            return self.d[i]

    t.update(SimpleUserDict())
    show("update(mapping-like)", sorted(t.items()))
    show("== table({1:1,...})", t == apache.table({1: 1, 2: 2, 3: 3}))

    class FailingKeys:
        def keys(self):
            raise ValueError

    try:
        t.update(FailingKeys())
    except ValueError:
        show("update(failing keys)", "ValueError")
    show("copy", apache.table({"x": "y"}).copy() == apache.table({"x": "y"}))
    t = apache.table({"a": "1", "b": "2"})
    show("get missing", t.get("c"))
    show("get missing default", t.get("c", "3"))
    show("get present", t.get("a", "3"))
    t = apache.table()
    show("setdefault new", t.setdefault("key0"))
    show("setdefault again", t.setdefault("key0", "x"))
    popped = []
    t = apache.table([("k%d" % i, str(i)) for i in range(5)])
    while t:
        popped.append(t.popitem())
    show("popitem order", popped)
    t = apache.table({"a": "b"})
    t.add("a", "c")
    t.add("A", "d")
    show("add -> list", t["a"])
    show("get -> first", t.get("A"))
    show("len with duplicates", len(t))
    show("items with duplicates", list(t.items()))
    show("repr", repr(t))
    show("has_key", (t.has_key("A"), t.has_key("z")))

    class mytable(apache.table):
        def __str__(self):
            return "str() from mytable"

    mt = mytable({"a": "b"})
    show("subclass str", str(mt))
    show("subclass isinstance", isinstance(mt, apache.table))
    t = apache.table()
    try:
        t["euro"] = "\u20ac"
    except TypeError as e:
        show("non-Latin-1 value", "TypeError: %s" % e)
    # (Reading back a stored Latin-1 value such as "caf\xe9" crashes
    # mod_python: it is not tried.)
    t = apache.table()
    t[b"bytes"] = b"value"
    show("bytes key and value", list(t.items()))
    try:
        hash(apache.table())
    except TypeError:
        show("unhashable", True)
    show("make_table is table", apache.make_table is apache.table)
