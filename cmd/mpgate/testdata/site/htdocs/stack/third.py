from mod_python import apache


def handler(req):
    req.write("third\n")
    return apache.OK
