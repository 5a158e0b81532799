"""Shows the configuration a request got, for htaccess_test.go."""

from mod_python import apache


def _show(req, name):
    req.content_type = "text/plain"
    opts = req.get_options()
    cfg = req.get_config()
    fn = req.filename or "None"
    if "/htdocs/" in fn:
        fn = "htdocs/" + fn.split("/htdocs/", 1)[1]
    d = req.hlist.directory or "None"
    if "/htdocs/" in d:
        d = "htdocs/" + d.split("/htdocs/", 1)[1]
    lines = [
        "handler=" + name,
        "filename=" + fn,
        "uri=" + req.uri,
        "directory=" + d,
        "interpreter=" + req.interpreter,
        "debug=" + cfg.get("PythonDebug", "0"),
    ]
    for k in sorted(opts.keys()):
        if not k.startswith("mod_python"):
            lines.append("option %s=%s" % (k, opts[k]))
    req.write("\n".join(lines) + "\n")
    return apache.OK


def handler(req):
    return _show(req, "show")


def sub(req):
    return _show(req, "sub")


def other(req):
    return _show(req, "other")
