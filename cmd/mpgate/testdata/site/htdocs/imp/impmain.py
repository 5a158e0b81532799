import os

import impsib
import imppkg.sub
from imppkg import util
from imppkg.sub import describe
from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    if req.args == "missing":
        import impmissing  # noqa: F401  (the error page is the point)
    if req.args == "broken":
        from imppkg import broken  # noqa: F401
    mod = apache.import_module("impsib")
    lines = [
        "names %s %s %s %s %s" % (__name__, impsib.__name__, imppkg.__name__, imppkg.sub.__name__, util.__name__),
        "values %s %s %s" % (impsib.VALUE, util.VALUE, describe()),
        "same %s %s" % (mod is impsib, imppkg.util is util),
        "files %s %s" % (os.path.basename(impsib.__file__), os.path.relpath(util.__file__, os.path.dirname(__file__))),
        "package %r %r" % (imppkg.__package__, imppkg.sub.__package__),
    ]
    req.write("\n".join(lines) + "\n")
    return apache.OK
