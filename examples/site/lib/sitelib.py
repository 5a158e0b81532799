"""Page helpers for the /app/ handlers, found through PythonPath like views.py."""

import html


def page(title, body):
    """Return a whole HTML page with the given title and body (HTML)."""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
            '<link rel="stylesheet" href="/style.css"></head><body>\n<h1>%s</h1>\n%s'
            '<p><a href="/app/">app</a> &middot; <a href="/">home</a></p>\n</body></html>\n'
            % (html.escape(title), html.escape(title), body))


def table(rows):
    """Return an HTML table of (name, value) pairs."""
    cells = "".join("<tr><th>%s</th><td><code>%s</code></td></tr>\n"
                    % (html.escape(str(k)), html.escape(str(v))) for k, v in rows)
    return "<table>\n%s</table>\n" % cells
