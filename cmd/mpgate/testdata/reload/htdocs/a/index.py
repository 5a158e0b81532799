import config
import helper
from mod_python import apache

def handler(req):
    req.content_type = "text/plain"
    if req.args == "loaded":
        req.write(helper.LOADED)
        return apache.OK
    req.write("a %s %s %s" % (__name__, config.NAME, helper.VALUE))
    return apache.OK
