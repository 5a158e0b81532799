__access__ = True


def index(req):
    return "access true ok"
