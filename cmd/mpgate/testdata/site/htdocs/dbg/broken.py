from mod_python import apache


def render(req):
    req.content_type = "text/plain"
    req.write("partial output\n")
    return 1 / 0
