# __auth__, __access__ and __auth_realm__ defined inside published functions (MODPYTHON-43).


def nested_literal(req):
    __auth__ = {"carol": "pw"}
    __auth_realm__ = "Nested Realm"
    return "nested literal ok"


def nested_access_list(req):
    __access__ = ("alice",)
    return "nested access ok"


def nested_func(req):
    def __auth__(req, user, passwd):
        return passwd == "nested"
    return "nested func ok"


class Holder:
    def method(self, req):
        __auth_realm__ = "Method Realm"

        def __auth__(req, user, passwd):
            return user == "meth" and passwd == "od"

        def __access__(req, user):
            return user == "meth"
        return "nested method ok"


holder = Holder()


def realm_only(req):
    __auth_realm__ = "Realm Only"
    return "realm only: no auth needed"
