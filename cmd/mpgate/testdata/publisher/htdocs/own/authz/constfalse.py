__auth__ = False


def index(req):
    return "never"
