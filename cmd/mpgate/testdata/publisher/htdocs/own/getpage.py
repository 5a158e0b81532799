# publisher.get_page (mpgate's; only a comment in mod_python 3.5).
from mod_python import publisher


def index(req):
    page = publisher.get_page(req, "page.py")
    again = publisher.get_page(req, req.document_root() + "/own/page.py")
    return "%s same=%s" % (page.hello(req, "from get_page"), page is again)


def missing(req):
    publisher.get_page(req, "no_such_page.py")
    return "not reached"


def absolute(req):
    page = publisher.get_page(req, req.document_root() + "/own/sub/index.py")
    return page.foo(req)


def relative_up(req):
    page = publisher.get_page(req, "../addpy/page.py")
    return page.hello(req, "up")


def directory(req):
    publisher.get_page(req, "sub")
    return "not reached"


def same_as_import(req):
    from mod_python import apache
    page = publisher.get_page(req, "page.py")
    return "same=%s" % (page is apache.import_module(req.document_root() + "/own/page.py"))
