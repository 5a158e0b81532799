import config
from mod_python import apache

def handler(req):
    req.content_type = "text/plain"
    req.write("b %s %s" % (__name__, config.NAME))
    return apache.OK
