# mpgate's own publisher cases (publisher_test.go): what the publisher makes of arguments,
# return values and objects.

from mod_python import apache, util


def index(req):
    return "own index"


def hello(req, name="world"):
    return "hello %s" % name


def args(req, first, second=None):
    return "first=%r second=%r" % (first, second)


def kwargs(req, **kw):
    return "kw=%r" % sorted(kw.items())


def noreq(alpha=None):
    return "noreq alpha=%r" % (alpha,)


def many(req, item=None):
    return "item=%r" % (item,)


def raw(req):
    return b"bytes value"


def nothing(req):
    return None


def written(req):
    req.write("written directly")


def number(req):
    return 42


def adict(req):
    return {"a": 1}


def html(req):
    return "<html><body>page</body></HTML>  \n"


def html_early(req):
    return "<html></html>" + "x" * 200


def ctype(req):
    req.content_type = "text/x-custom"
    return "custom type"


def raises(req):
    raise ValueError("publisher page raised")


def forbidden(req):
    raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)


def redirect(req):
    util.redirect(req, "/elsewhere", text="moved on")


def form(req):
    fs = req.form
    return "keys=%r list=%r" % (sorted(fs.keys(), key=repr), fs.list)


def returns_callable(req):
    return hello


class Obj:
    attr = "attribute value"
    number = 7

    def method(self, req, xvalue="0"):
        return "method xvalue=%s" % xvalue

    def _private(self, req):
        return "private"

    @property
    def prop(self):
        return "property value"


obj = Obj()
mapping = {"k": "v"}
text = "a module string"
a_list = [1, 2, 3]


def with_default_none(req, value=None):
    return "value is %r" % (value,)
