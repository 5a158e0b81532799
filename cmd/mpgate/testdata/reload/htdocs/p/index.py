import mypkg.sub
from mypkg import util
from mypkg.sub import describe
from mod_python import apache

def handler(req):
    req.content_type = "text/plain"
    req.write("p %s %s %s" % (mypkg.sub.__name__, util.VALUE, describe()))
    return apache.OK
