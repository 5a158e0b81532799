import os

from mod_python import apache


def handler(req):
    if req.prev is None:
        if req.args == "static":
            req.internal_redirect("/redir/page.txt")
        else:
            req.internal_redirect("/redir/target/extra?q=1")
        return apache.OK
    req.content_type = "text/plain"
    req.write("uri=%s path_info=%s args=%s filename=%s prev=%s prev_args=%s\n" % (
        req.uri, req.path_info, req.args, os.path.basename(req.filename or ""),
        req.prev.uri, req.prev.args))
    return apache.OK
