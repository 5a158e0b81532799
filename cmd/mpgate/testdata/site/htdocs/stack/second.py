from mod_python import apache
import shared


def handler(req):
    req.write("second: %s\n" % shared.GREETING)
    if req.args == "stop":
        return apache.DECLINED
    return apache.OK
