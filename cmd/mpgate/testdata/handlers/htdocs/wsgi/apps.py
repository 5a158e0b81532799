# WSGI applications of the handlers suite, selected by the first word of the query string
# (/wsgi/anything?env runs env).
import hashlib
import sys


def env(environ, start_response):
    """The environ keys a PEP 3333 application relies on."""
    req = environ["wsgi.input"]
    lines = []
    for k in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_URI",
              "CONTENT_TYPE", "CONTENT_LENGTH", "SERVER_PROTOCOL", "GATEWAY_INTERFACE",
              "HTTP_X_TEST", "HTTP_AUTHORIZATION", "SERVER_NAME", "SCRIPT_FILENAME"):
        lines.append("%s=%r" % (k, environ.get(k, "(absent)")))
    lines.append("wsgi.version=%r" % (environ["wsgi.version"],))
    lines.append("wsgi.url_scheme=%r" % environ["wsgi.url_scheme"])
    lines.append("wsgi.input=%s" % type(environ["wsgi.input"]).__name__)
    lines.append("wsgi.errors is sys.stderr=%r" % (environ["wsgi.errors"] is sys.stderr))
    lines.append("wsgi.multithread bool=%r" % isinstance(environ["wsgi.multithread"], bool))
    lines.append("wsgi.multiprocess=%r" % environ["wsgi.multiprocess"])
    lines.append("req.path_info=%r" % req.path_info)
    lines.append("req.subprocess_env SCRIPT_NAME=%r" % req.subprocess_env.get("SCRIPT_NAME"))
    body = ("\n".join(lines) + "\n").encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def status404(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("X-App", "status404")])
    return [b"no such thing\n"]


def status201(environ, start_response):
    start_response("201 Created", [("Content-Type", "text/plain"), ("Location", "http://example.com/new")])
    return [b"created\n"]


def status_reason(environ, start_response):
    start_response("200 Fine Thanks", [("Content-Type", "text/plain")])
    return [b"custom reason\n"]


def status_invalid(environ, start_response):
    start_response("abc", [("Content-Type", "text/plain")])
    return [b"never\n"]


def headers(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("X-Str", "str"),
                              (b"X-Bytes", b"bytes"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                              ("X-Latin", "caf\xe9")])
    return [b"headers\n"]


def headers_tuple(environ, start_response):
    start_response("200 OK", (("Content-Type", "text/plain"),))
    return [b"never\n"]


def header_list_item(environ, start_response):
    start_response("200 OK", [["Content-Type", "text/plain"]])
    return [b"never\n"]


def header_int_value(environ, start_response):
    start_response("200 OK", [("Content-Length", 5)])
    return [b"never\n"]


def header_not_latin1(environ, start_response):
    start_response("200 OK", [("X-Euro", "\u20ac")])
    return [b"never\n"]


def write_callable(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written first\n")
    return [b"returned second\n"]


class Closing:
    """An iterable with close(), which logs that it ran."""

    def __init__(self, environ, items):
        self.environ = environ
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def close(self):
        self.environ["wsgi.errors"].write("closed_by_wsgi_server\n")
        self.environ["wsgi.errors"].flush()


def closing(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing(environ, [b"one\n", b"two\n"])


def generator(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(5):
        yield b"line %d\n" % i


def big(environ, start_response):
    """1 MiB in 256 items, made as they are asked for."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    for i in range(256):
        yield bytes([i]) * 4096


def content_length(environ, start_response):
    body = b"exactly this long\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def empty(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return []


def no_start_response(environ, start_response):
    return [b"no start_response\n"]


def str_items(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return ["caf\xe9 as str\n", b"bytes\n"]


def int_items(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fine\n", 42]


def raise_before(environ, start_response):
    raise RuntimeError("raised_before_start_response")


def raise_after(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"partial output\n")
    raise RuntimeError("raised_after_start_response")


def raise_in_iterable(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"first item\n"
    raise RuntimeError("raised_in_iterable")


def exc_info(environ, start_response):
    try:
        1 / 0
    except ZeroDivisionError:
        start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"never\n"]


def exc_info_none(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")], None)
    return [b"exc_info None\n"]


def errors(environ, start_response):
    environ["wsgi.errors"].write("written_to_wsgi_errors\n")
    environ["wsgi.errors"].flush()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logged\n"]


def post_read(environ, start_response):
    data = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d bytes, md5 %s\n" % (len(data), hashlib.md5(data).hexdigest().encode())]


def post_length(environ, start_response):
    """Reads CONTENT_LENGTH bytes in pieces, as PEP 3333 applications do."""
    n = int(environ.get("CONTENT_LENGTH") or 0)
    inp = environ["wsgi.input"]
    pieces = []
    while n > 0:
        chunk = inp.read(min(n, 1000))
        if not chunk:
            break
        pieces.append(chunk)
        n -= len(chunk)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d pieces: %r\n" % (len(pieces), b"".join(pieces)[:40])]


def post_lines(environ, start_response):
    inp = environ["wsgi.input"]
    lines = [inp.readline(), inp.readline(4), inp.readline()] + inp.readlines()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [repr(lines).encode() + b"\n"]


def fieldstorage(environ, start_response):
    """cgi.FieldStorage over wsgi.input, as older WSGI applications read forms."""
    import cgi
    form = cgi.FieldStorage(fp=environ["wsgi.input"], environ=environ)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s=%r\n" % (k, form.getlist(k))).encode("utf-8") for k in sorted(form.keys())]


CASES = {f.__name__: f for f in (
    env, status404, status201, status_reason, status_invalid, headers, headers_tuple,
    header_list_item, header_int_value, header_not_latin1, write_callable, closing, generator,
    big, content_length, empty, no_start_response, str_items, int_items, raise_before,
    raise_after, raise_in_iterable, exc_info, exc_info_none, errors, post_read, post_length,
    post_lines, fieldstorage)}


def application(environ, start_response):
    case = environ.get("QUERY_STRING", "").partition("&")[0] or "env"
    return CASES[case](environ, start_response)
