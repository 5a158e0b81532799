"""The /app/ handler: PythonHandler views::dispatch, found through PythonPath.

dispatch routes on the first path component below /app/: Apache maps /app/echo to the file name
.../htdocs/app/echo (which need not exist), so the route is the last part of req.filename.
"""

import html
from urllib.parse import parse_qs

from mod_python import apache

import sitelib


def dispatch(req):
    """Run the view named by the URL, or answer 404."""
    name = req.filename.rsplit("/", 1)[1]
    view = VIEWS.get(name)
    if view is None:
        return apache.HTTP_NOT_FOUND
    req.content_type = "text/html; charset=utf-8"
    return view(req)


def index(req):
    """List the views."""
    title = req.get_options().get("app.title", "app")
    links = "".join('<li><a href="/app/%s">%s</a></li>\n' % (n, n or "(this page)")
                    for n in sorted(VIEWS))
    req.write(sitelib.page(title, "<ul>\n%s</ul>\n" % links))
    return apache.OK


def echo(req):
    """GET: a form. POST: the body the form sent, read with req.read()."""
    if req.method == "POST":
        body = req.read()
        fields = parse_qs(body.decode("utf-8", "replace"))
        text = fields.get("text", [""])[0]
        rows = [("Content-Type", req.headers_in.get("Content-Type")),
                ("bytes read", len(body)), ("text", text)]
        req.write(sitelib.page("echo", sitelib.table(rows)))
        return apache.OK
    if req.method not in ("GET", "HEAD"):
        req.allow_methods(["GET", "POST"])
        return apache.HTTP_METHOD_NOT_ALLOWED
    form = ('<form method="post" action="/app/echo">\n'
            '<textarea name="text" rows="4" cols="40">Hello, mpgate</textarea><br>\n'
            '<button type="submit">send</button>\n</form>\n')
    req.write(sitelib.page("echo", form))
    return apache.OK


def config(req):
    """Show req.get_config() (directives) and req.get_options() (PythonOption)."""
    body = ("<h2>get_config()</h2>\n" + sitelib.table(sorted(req.get_config().items()))
            + "<h2>get_options()</h2>\n" + sitelib.table(sorted(req.get_options().items())))
    req.write(sitelib.page("config", body))
    return apache.OK


def headers(req):
    """Show the request headers, and send one back."""
    req.headers_out["X-Example"] = "app"
    rows = sorted(req.headers_in.items())
    req.write(sitelib.page("headers", "<p>Request headers as the handler sees them"
                           " (Authorization included):</p>\n" + sitelib.table(rows)
                           + "<p>The response carries <code>X-Example: %s</code>.</p>\n"
                           % html.escape(req.headers_out["X-Example"])))
    return apache.OK


VIEWS = {"": index, "echo": echo, "config": config, "headers": headers}
