import dep
from mod_python import apache

def handler(req):
    req.content_type = "text/plain"
    req.write("frozen %s" % dep.VALUE)
    return apache.OK
