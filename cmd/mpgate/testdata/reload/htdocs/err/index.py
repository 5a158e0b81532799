from mod_python import apache

def handler(req):
    req.content_type = "text/plain"
    req.write("err fine 1")
    return apache.OK
