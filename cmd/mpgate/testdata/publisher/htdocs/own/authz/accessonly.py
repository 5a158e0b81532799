# __access__ alone: no credentials needed to reach it, the user is None then.


def __access__(req, user):
    return user is None or user == "alice"


def index(req):
    return "access only ok"
