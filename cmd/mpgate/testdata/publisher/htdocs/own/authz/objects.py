# Authentication on traversed objects only (no module-level __auth__).


class Guarded:
    __auth_realm__ = "Guarded Area"
    __auth__ = {"gina": "pw"}

    def page(self, req):
        return "guarded page"


class Listed:
    __access__ = ["lisa"]

    def page(self, req):
        return "listed page"


guarded = Guarded()
listed = Listed()


def open_page(req):
    return "open page"


def realm_attr(req):
    def __auth__(req, user, passwd):
        return passwd == "attr"
    return "realm attr ok"


realm_attr.__auth_realm__ = "From Attribute"


def nested_access(req):
    __access__ = ("alice",)
    return "nested access"


def nested_call(req):
    __auth__ = dict(a="b")
    return "nested call"
