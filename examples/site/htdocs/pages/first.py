"""First of the two stacked handlers of /pages/*.py (PythonHandler first second::handler).

It starts the page; returning apache.OK lets mod_python run the next handler in the list,
second::handler, which finishes it.
"""

import html
import os

from mod_python import apache


def handler(req):
    """Start the page for whichever .py name was requested."""
    req.content_type = "text/html; charset=utf-8"
    req.write("<!DOCTYPE html>\n<html><head><title>pages</title>"
              '<link rel="stylesheet" href="/style.css"></head><body>\n')
    req.write("<h1>%s</h1>\n" % html.escape(os.path.basename(req.filename)))
    exists = os.path.exists(req.filename)
    req.write("<p>first.handler ran for <code>%s</code> (the file %s).</p>\n"
              % (html.escape(req.uri), "exists" if exists else "does not exist"))
    return apache.OK
