def hello(req):
    return "hello via AddHandler"


def index(req):
    return "addh index"
