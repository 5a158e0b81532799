# publisher.get_page (mpgate's; only a comment in mod_python 3.5).
from mod_python import publisher


def index(req):
    page = publisher.get_page(req, "page.py")
    again = publisher.get_page(req, req.document_root() + "/own/page.py")
    return "%s same=%s" % (page.hello(req, "from get_page"), page is again)


def missing(req):
    publisher.get_page(req, "no_such_page.py")
    return "not reached"
