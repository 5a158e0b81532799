# Module-level __auth__ that refuses everybody, with a realm.
__auth_realm__ = "Refusing"


def __auth__(req, user, passwd):
    return False


def index(req):
    return "never"
