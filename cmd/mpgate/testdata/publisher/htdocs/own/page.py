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


# Further cases (publisher_test.go, publisherMore).

def unicode(req):
    return "h\u00e9llo w\u00f6rld \u20ac"


def unicode_ctype(req):
    req.content_type = "text/plain; charset=utf-8"
    return "caf\u00e9"


def generator(req):
    return (str(i) for i in range(3))


def genfunc(req):
    yield "never joined"


def empty(req):
    return ""


def zero(req):
    return 0


def false(req):
    return False


def a_tuple_result(req):
    return ("a", 1)


def write_and_return(req):
    req.write("written, ")
    return "then returned"


def status(req):
    req.status = 201
    return "created"


def header(req):
    req.headers_out["X-Page"] = "yes"
    return "with header"


def ctype_none(req):
    req.content_type = "text/x-set"
    return None


def html_spaced(req):
    return "<p>x</p>\n</html\t>\n\n"


def html_far(req):
    return "</html>" + " " * 120


def positional(req, *args):
    return "args=%r" % (args,)


def only_kw(req, *, key="k"):
    return "key=%r" % (key,)


def callable_obj(req):
    return obj.method


def blank(req, value="default"):
    return "value=%r" % (value,)


class Callme:
    def __call__(self, req, word="none"):
        return "called with %s" % word


callme = Callme()
lam = lambda req: "lambda published"  # noqa: E731
none_attr = None
from os import getcwd  # noqa: E402  (a builtin function at module level)
gen_obj = (c for c in "xyz")


class Tree:
    @property
    def gen_prop(self):
        return (str(i) for i in range(2))

    def __getattr__(self, name):
        if name.startswith("dyn"):
            return "dynamic %s" % name
        raise AttributeError(name)


tree = Tree()
