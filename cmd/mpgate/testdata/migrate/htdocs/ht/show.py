from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    opts = req.get_options()
    req.write("marker=%s where=%s\n" % (opts.get("marker"), opts.get("where")))
    req.write("filename=%s path_info=%s\n" % (req.filename, req.path_info))
    req.write("interpreter=%s handler=%s\n" % (req.interpreter, req.handler))
    return apache.OK
