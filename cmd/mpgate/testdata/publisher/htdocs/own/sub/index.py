# A subdirectory's index module, under PythonDebug Off (site.conf).


def index(req):
    return "sub index"


def foo(req):
    return "sub foo"


def nothing(req):
    return None


def raises(req):
    raise ValueError("sub page raised")
