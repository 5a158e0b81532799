"""Second of the two stacked handlers of /pages/*.py: PythonHandler ... second::handler."""

import html

from mod_python import apache


def handler(req):
    """Finish the page that first.handler started, showing this section's PythonOptions."""
    options = req.get_options()
    req.write("<p>second::handler ran after it. PythonOptions here:</p>\n<ul>\n")
    for key in sorted(options.keys()):
        req.write("<li><code>%s = %s</code></li>\n"
                  % (html.escape(key), html.escape(options[key])))
    req.write('</ul>\n<p><a href="/">back</a></p>\n</body></html>\n')
    return apache.OK
