def index(req):
    return "addpy index"


def hello(req, name="world"):
    return "addpy hello %s" % name
