# Module-level __auth__, __access__ and __auth_realm__ (publisher_test.go).

__auth_realm__ = "Secure Zone"


def __auth__(req, user, passwd):
    return user in ("alice", "bob") and passwd == "secret"


__access__ = ["alice"]


def index(req):
    return "secure index for %s" % req.user if req.user else "secure index"


class Area:
    __auth_realm__ = "Inner Area"

    def __auth__(self, req, user, passwd):
        return passwd == "inner"

    def page(self, req):
        return "inner page"


area = Area()
