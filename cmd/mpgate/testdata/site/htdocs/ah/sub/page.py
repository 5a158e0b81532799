from mod_python import apache


def render(req):
    opts = req.get_options()
    req.content_type = "text/plain"
    req.write("page.render mode=%s masked=%r\n" % (opts.get("site.mode"), opts.get("site.masked")))
    req.write("filename=%s path_info=%r\n" % (req.filename, req.path_info))
    return apache.OK
