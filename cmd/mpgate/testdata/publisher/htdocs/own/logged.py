# Pages for error-log checks (publisher_test.go): each URL is used once.


def index(req):
    return "logged index"


def nothing(req):
    return None


obj_text = "text"
