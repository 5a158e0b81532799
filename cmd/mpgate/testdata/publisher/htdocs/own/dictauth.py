# A dict __auth__ (mod_python 3.5 on Python 3 fails on it: NameError DictionaryType).
__auth__ = {"dave": "pw"}


def index(req):
    return "dict auth ok for %s" % req.user
