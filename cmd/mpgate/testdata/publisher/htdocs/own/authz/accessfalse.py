__access__ = False


def index(req):
    return "never"
