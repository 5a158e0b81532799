from mod_python import apache


def handler(req):
    what = req.args or ""
    if what == "forbidden":
        return apache.HTTP_FORBIDDEN
    if what == "notfound":
        return apache.HTTP_NOT_FOUND
    if what == "raise":
        raise RuntimeError("handler failed on purpose")
    if what == "none":
        return None
    if what == "redirect":
        req.headers_out["Location"] = "/elsewhere"
        req.err_headers_out["X-Err"] = "kept"
        return apache.HTTP_MOVED_TEMPORARILY
    if what == "status":
        req.status = apache.HTTP_CREATED
        req.content_type = "text/plain"
        req.write("created\n")
        return apache.OK
    if what == "headers":
        req.content_type = "text/plain; charset=utf-8"
        req.headers_out.add("Set-Cookie", "one=1; path=/")
        req.headers_out.add("Set-Cookie", "two=2; path=/")
        req.err_headers_out["X-Err"] = "e"
        for k in sorted(req.headers_in.keys(), key=str.lower):
            if k.lower().startswith("x-test"):
                req.write("%s=%s\n" % (k, req.headers_in[k]))
        return apache.OK
    if what == "post":
        req.content_type = "text/plain"
        body = req.read()
        req.write("read %d bytes: %s\n" % (len(body), body[:40].decode("latin-1")))
        return apache.OK
    if what == "lines":
        req.content_type = "text/plain"
        for line in req.readlines():
            req.write("line %d\n" % len(line))
        return apache.OK
    req.content_type = "text/plain"
    opts = req.get_options()
    req.write("uri=%s\n" % req.uri)
    req.write("filename=%s\n" % req.filename)
    req.write("path_info=%r\n" % req.path_info)
    req.write("args=%r\n" % req.args)
    req.write("method=%s protocol=%s\n" % (req.method, req.protocol))
    req.write("unparsed_uri=%s\n" % req.unparsed_uri)
    req.write("site.name=%s site.mode=%s\n" % (opts.get("site.name"), opts.get("site.mode")))
    req.write("debug=%s\n" % req.get_config().get("PythonDebug", "0"))
    req.write("handler=%s phase=%s\n" % (req.handler, req.phase))
    req.write("hlist.directory=%s\n" % req.hlist.directory)
    return apache.OK
