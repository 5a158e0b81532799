def index(req):
    return "sub index"


def foo(req):
    return "sub foo"
