"""Module docstring, dropped under -OO."""
import sys

from mod_python import apache


def documented():
    """Function docstring."""


def handler(req):
    req.content_type = "text/plain"
    if req.args == "assert":
        assert False, "assert statements run"
        req.write("assert statements are stripped\n")
        return apache.OK
    req.write("optimize=%d\n" % sys.flags.optimize)
    req.write("__debug__=%r\n" % __debug__)
    req.write("module doc=%r\n" % __doc__)
    req.write("function doc=%r\n" % documented.__doc__)
    return apache.OK
