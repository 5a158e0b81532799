"""The /hello/ handler: every URL below /hello/ comes here (SetHandler mod_python).

It shows what mod_python tells a handler about its request: the URI and how Apache split it into
a file name and path info, the query string, a request header, and a PythonOption.
"""

import html
from urllib.parse import parse_qs

from mod_python import apache


def handler(req):
    """Greet the visitor named in ?name=, with the greeting PythonOption."""
    greeting = req.get_options().get("greeting", "Hello")
    name = parse_qs(req.args or "").get("name", ["world"])[0]
    rows = [
        ("req.method", req.method),
        ("req.uri", req.uri),
        ("req.args", req.args),
        ("req.filename", req.filename),
        ("req.path_info", req.path_info),
        ("User-Agent", req.headers_in.get("User-Agent")),
    ]
    req.content_type = "text/html; charset=utf-8"
    req.headers_out["X-Example"] = "hello"
    req.write("<!DOCTYPE html>\n<html><head><title>hello</title>"
              '<link rel="stylesheet" href="/style.css"></head><body>\n')
    req.write("<h1>%s, %s!</h1>\n<table>\n" % (html.escape(greeting), html.escape(name)))
    for key, value in rows:
        req.write("<tr><th>%s</th><td><code>%s</code></td></tr>\n"
                  % (html.escape(key), html.escape(repr(value))))
    req.write('</table>\n<p><a href="/">back</a></p>\n</body></html>\n')
    return apache.OK
