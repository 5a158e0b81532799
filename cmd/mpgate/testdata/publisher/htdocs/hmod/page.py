def index(req):
    return "handler module page"
