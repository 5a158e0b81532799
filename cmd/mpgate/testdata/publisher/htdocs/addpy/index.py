def index(req):
    return "addpy index.py"


def other(req):
    return "addpy index.py other"
