# mpgate's own cases of mod_python.util (forms_test.go), beyond mod_python's tests: one
# function per request path (the last path segment names it, so that the same cases run in
# the directories with other options), each writing what it sees in a form both servers print
# the same way.

import hashlib
import io
import os

from mod_python import apache, util


def handler(req):
    name = req.uri.rstrip("/").split("/")[-1].replace(".", "_")
    func = globals().get("case_" + name)
    if func is None:
        return apache.HTTP_NOT_FOUND
    req.content_type = "text/plain"
    out = func(req)
    if out is not None:
        req.write(out)
    return apache.OK


def attempt(fn):
    """fn()'s result, or its exception as "Type: message"."""
    try:
        return fn()
    except Exception as e:
        return "%s: %s" % (type(e).__name__, e)


def describe(item):
    """One line per attribute of a form item, in a fixed order."""
    out = ["  class=%s" % type(item).__name__,
           "  name=%r" % (item.name,)]
    if isinstance(item, util.StringField):
        out.append("  bytes=%r" % bytes(item))
        out.append("  value=%r" % (item.value,))
    else:
        data = item.value
        out.append("  value: %d bytes, md5 %s" % (len(data), hashlib.md5(data).hexdigest()))
        if len(data) <= 200:
            out.append("  value=%r" % (data,))
        out.append("  file=%s pos=%d" % (type(item.file).__name__, item.file.tell()))
    for attr in ("filename", "type", "ctype", "type_options", "disposition", "disposition_options",
                 "disp_options"):
        out.append("  %s=%r" % (attr, getattr(item, attr, "(none)")))
    headers = getattr(item, "headers", None)
    if isinstance(headers, dict):
        out.append("  headers=dict %r" % (sorted(headers.items()),))
    else:
        out.append("  headers=%s %r" % (type(headers).__name__, list(headers.items())))
    return out


def dump(fs):
    """Everything a site can read from a FieldStorage."""
    out = ["repr(list)=%r" % (fs.list,) if all(isinstance(i, util.StringField) for i in fs.list)
           else "list: %d items" % len(fs.list)]
    out.append("len=%d" % len(fs))
    out.append("keys=%r" % (fs.keys(),))
    out.append("iter=%r" % (list(fs),))
    out.append("items names=%r" % ([n for n, _ in fs.items()],))
    for i, item in enumerate(fs.list):
        out.append("item %d:" % i)
        out.extend(describe(item))
    for k in fs.keys():
        v = fs[k]
        out.append("fs[%r]: %s" % (k, "list of %d" % len(v) if isinstance(v, list) else type(v).__name__))
        out.append("getfirst(%r)=%r" % (k, bytes(fs.getfirst(k)) if isinstance(fs.getfirst(k), bytes) else "Field"))
        out.append("getlist(%r): %d" % (k, len(fs.getlist(k))))
        out.append("has_key(%r)=%r in=%r" % (k, fs.has_key(k), k in fs))
    return "\n".join(out) + "\n"


def case_dump(req):
    return dump(util.FieldStorage(req))


def case_dump_blank(req):
    return dump(util.FieldStorage(req, keep_blank_values=1))


def case_dump_strict(req):
    return dump(util.FieldStorage(req, keep_blank_values=1, strict_parsing=1))


def case_list(req):
    return repr(util.FieldStorage(req).list) + "\n"


def case_files(req):
    """Multipart uploads: each file's name, size and MD5, read through .file."""
    fs = util.FieldStorage(req, keep_blank_values=1)
    out = []
    for item in fs.list:
        if isinstance(item, util.Field):
            data = item.file.read()
            out.append("%r %r %d %s" % (item.name, item.filename, len(data), hashlib.md5(data).hexdigest()))
        else:
            out.append("%r = %r" % (item.name, bytes(item)))
    return "\n".join(out) + "\n"


def case_sizes(req):
    """Each field's name, class and size, for large forms."""
    fs = util.FieldStorage(req)
    return "".join("%r %s %d %s\n" % (i.name, type(i).__name__, len(i.value), hashlib.md5(i.value).hexdigest())
                   for i in fs.list)


def case_lookup(req):
    """The mapping API on a FieldStorage of the request's form."""
    fs = util.FieldStorage(req, keep_blank_values=1)
    first = fs.keys()[0] if fs.keys() else "none"
    out = [
        ("fs[first]", attempt(lambda: fs[first])),
        ("fs['missing']", attempt(lambda: fs["missing"])),
        ("fs[b'missing']", attempt(lambda: fs[b"missing"])),
        ("get('missing', 'dflt')", attempt(lambda: fs.get("missing", "dflt"))),
        ("get(['unhashable'], 'dflt')", attempt(lambda: fs.get(["unhashable"], "dflt"))),
        ("get() without default", attempt(lambda: fs.get("missing"))),
        ("getfirst('missing')", attempt(lambda: fs.getfirst("missing"))),
        ("getfirst('missing', 'd')", attempt(lambda: fs.getfirst("missing", "d"))),
        ("getlist('missing')", attempt(lambda: fs.getlist("missing"))),
        ("has_key('missing')", attempt(lambda: fs.has_key("missing"))),
        ("'missing' in fs", attempt(lambda: "missing" in fs)),
        ("repr(fs)", attempt(lambda: repr(fs))),
    ]
    return "".join("%s -> %r\n" % kv for kv in out)


def case_mutate(req):
    """add_field, __setitem__, __delitem__, clear and the list attribute."""
    fs = util.FieldStorage(req, keep_blank_values=1)
    out = []

    def show(what):
        out.append("%s: %r keys=%r" % (what, fs.list, fs.keys()))

    show("parsed")
    fs.add_field("added", "one")
    fs.add_field("added", b"two")
    fs.add_field(b"added", 3)
    show("add_field")
    out.append("setitem str -> %s" % attempt(lambda: fs.__setitem__("k", b"v")))
    out.append("setitem str value -> %s" % attempt(lambda: fs.__setitem__(b"k", "v")))
    fs[b"k"] = b"v1"
    fs[b"k"] = b"v2"
    show("setitem")
    fs[b"added"] = b"replaced"
    show("setitem again")
    del fs["added"]
    show("delitem")
    out.append("del missing -> %s" % attempt(lambda: fs.__delitem__("nope")))
    fs.list.append(util.Field("manual"))
    out.append("manual Field repr -> %s" % attempt(lambda: repr(fs.list[-1])))
    fs.list.pop()
    old = fs.list
    fs.clear()
    show("clear")
    out.append("old list kept: %r" % (old,))
    return "\n".join(out) + "\n"


def case_stringfield(req):
    """What a StringField is, as a site handles one."""
    fs = util.FieldStorage(req, keep_blank_values=1)
    out = []
    for item in fs.list:
        if not isinstance(item, util.StringField):
            continue
        out.append("%r:" % (item.name,))
        for what, fn in [
            ("isinstance bytes", lambda: isinstance(item, bytes)),
            ("isinstance str", lambda: isinstance(item, str)),
            ("== value", lambda: item == item.value),
            ("== 'abc'", lambda: item == "abc"),
            ("== b'abc'", lambda: item == b"abc"),
            ("len", lambda: len(item)),
            ("decode", lambda: item.decode("utf-8")),
            ("str()", lambda: str(item)),
            ("+ b'!'", lambda: item + b"!"),
            ("upper", lambda: item.upper()),
            ("file.read()", lambda: item.file.read()),
            ("file again", lambda: item.file.read()),
            ("repr", lambda: repr(item)),
            ("hash == hash(bytes)", lambda: hash(item) == hash(bytes(item))),
            ("missing attr", lambda: item.nosuch),
        ]:
            out.append("  %s -> %r" % (what, attempt(fn)))
    return "\n".join(out) + "\n"


def case_classes(req):
    """The classes built by hand, as sites (Trac) do."""
    sf = util.StringField("caf\u00e9")
    sf.name = "n"
    sb = util.StringField(b"raw")
    sb.name = b"b"
    f = util.Field("f", io.BytesIO(b"data"), "text/plain", {}, "form-data", {"filename": "x.txt"})
    g = util.Field("g", io.BytesIO(b""), "text/plain", {}, "form-data", {})
    fl = util.FieldList()
    fl.append(sf)
    fl.append(sb)
    fl.append(f)
    t1 = fl.table()
    fl.insert(0, g)
    out = [
        ("StringField(str)", attempt(lambda: (bytes(sf), sf.value, repr(sf)))),
        ("StringField(bytes)", attempt(lambda: (bytes(sb), sb.value, repr(sb)))),
        ("StringField(int)", attempt(lambda: (bytes(util.StringField(42)), util.StringField(42).value))),
        ("StringField class attrs", attempt(lambda: (sf.filename, sf.headers, sf.ctype, sf.type_options,
                                                     sf.disposition, sf.disp_options))),
        ("Field bc", attempt(lambda: (f.name, f.value, f.filename, f.type, f.disposition, f.headers, repr(f)))),
        ("Field bc no filename", attempt(lambda: (g.filename, g.value))),
        ("Field missing attr", attempt(lambda: f.nosuch)),
        ("table before insert", attempt(lambda: sorted(map(repr, t1)))),
        ("table after insert", attempt(lambda: sorted(map(repr, fl.table())))),
        ("readBlockSize", util.readBlockSize),
        ("parse_header", attempt(lambda: util.parse_header(b'form-data; name="a"; filename="b c.txt"; X=Y; bare'))),
        ("parse_header quoted", attempt(lambda: util.parse_header(b' Text/HTML ; charset = "utf-8" ; q="'))),
        ("parse_header latin", attempt(lambda: util.parse_header(b'attachment; filename="\xe9t\xe9"'))),
        ("parse_header str", attempt(lambda: util.parse_header("text/plain"))),
        ("exports", sorted(n for n in ("Field", "StringField", "FieldList", "FieldStorage", "parse_qs",
                                       "parse_qsl", "parse_header", "apply_fs_data", "redirect",
                                       "readBlockSize", "MethodWrapper", "PY2", "BytesIO", "tempfile",
                                       "MethodType", "FunctionType", "BuiltinFunctionType", "collections")
                           if hasattr(util, n))),
    ]
    return "".join("%s -> %r\n" % kv for kv in out)


QUERIES = [
    "spam=1&spam=2&eggs=3",
    "a=1&b=2&a=3",
    "a=&b=2&c",
    "&&x=1&&;;y=2;",
    "=v&k=&k2==&k3=a=b",
    "plus=a+b&pct=%41%2b%zz%4&nul=ab%00cd",
    "name=caf%C3%A9&%C3%A9t%C3%A9=%E2%82%AC",
    "bad=%FF%FE&ok=1",
    "",
]


def case_qs(req):
    """parse_qs and parse_qsl of QUERIES[int(req.args)] (bytes, and str through parse_qs),
    or of the odd arguments named by req.args."""
    odd = {
        "none": lambda: util.parse_qs(None),
        "int": lambda: util.parse_qsl(1),
        "euro": lambda: util.parse_qs("k=\u20ac"),
    }
    if req.args in odd:
        return "%r\n" % (attempt(odd[req.args]),)
    # "bytesN": bytes only (mod_python's parse_qs of a str that is not UTF-8 once %-decoded
    # crashes the Apache child).
    bytes_only = req.args.startswith("bytes")
    q = QUERIES[int(req.args[5:] if bytes_only else req.args)]
    b = q.encode("latin-1")
    out = ["%r:" % q]
    if not bytes_only:
        out += ["  parse_qs str %r" % (attempt(lambda: util.parse_qs(q)),),
                "  parse_qs str blank %r" % (attempt(lambda: util.parse_qs(q, 1)),),
                "  parse_qs str strict %r" % (attempt(lambda: util.parse_qs(q, 0, 1)),)]
    out += ["  parse_qs bytes %r" % (attempt(lambda: util.parse_qs(b)),),
           "  parse_qs bytes blank %r" % (attempt(lambda: util.parse_qs(b, 1)),),
           "  parse_qsl bytes %r" % (attempt(lambda: util.parse_qsl(b)),),
           "  parse_qsl bytes blank %r" % (attempt(lambda: util.parse_qsl(b, True)),)]
    return "\n".join(out) + "\n"


def case_qs_args(req):
    """parse_qs of this request's query string and body."""
    out = ["args=%r" % (req.args,),
           "parse_qs(args) %r" % (attempt(lambda: util.parse_qs(req.args or "")),),
           "parse_qs(args, 1) %r" % (attempt(lambda: util.parse_qs(req.args or "", 1)),),
           "parse_qsl(body) %r" % (attempt(lambda: util.parse_qsl(req.read(), 1)),)]
    return "\n".join(out) + "\n"


# ---- apply_fs_data ----
# Names of three letters or fewer would not survive mod_python's parse_qsl of a query string
# (see forms_test.go), so the parameters have longer ones.

def shown(v):
    """v for the output: the request object by its type (its repr has an address)."""
    if type(v).__name__ == "mp_request":
        return "<request>"
    if isinstance(v, util.Field):
        return "Field(%r, %r)" % (v.name, v.filename)
    if isinstance(v, (list, tuple)):
        return [shown(x) for x in v]
    return v


def func(alpha, beta=None, *rest):
    return ("func", alpha, beta, rest)


def func_kw(alpha, **kw):
    return ("func_kw", alpha, sorted(((k, shown(v)) for k, v in kw.items()), key=repr))


def func_req(req, alpha=None):
    return ("func_req", shown(req), alpha)


def func_none():
    return ("func_none",)


class Plain:
    def __init__(self, alpha, beta="dflt"):
        self.got = (alpha, beta)

    def __repr__(self):
        return "Plain%r" % (self.got,)

    def method(self, alpha, gamma=None):
        return ("method", alpha, gamma)

    def __call__(self, beta, alpha=None):
        return ("__call__", alpha, beta)


class NoInit:
    def __repr__(self):
        return "NoInit()"


class Hierarchy:
    """An instance whose __call__ is itself a callable instance (the "abuse of objects to
    create hierarchy" of mod_python's code)."""

    def __init__(self):
        self.__call__ = Plain("x")


def case_apply(req):
    fs = util.FieldStorage(req, keep_blank_values=1)
    targets = [
        ("function", func),
        ("function **kw", func_kw),
        ("function req", func_req),
        ("function no args", func_none),
        ("lambda", lambda alpha, gamma=None: ("lambda", alpha, gamma)),
        ("class", Plain),
        ("class without __init__", NoInit),
        ("bound method", Plain("x").method),
        ("callable instance", Plain("x")),
        ("hierarchy", Hierarchy()),
        ("builtin len", len),
        ("builtin dict", dict),
        ("not callable", 42),
    ]
    out = []
    for what, obj in targets:
        out.append("%s -> %r" % (what, shown(attempt(lambda: util.apply_fs_data(obj, fs, req=req)))))
    out.append("no req kw -> %r" % (shown(attempt(lambda: util.apply_fs_data(func, fs))),))
    out.append("extra kw -> %r" % (shown(attempt(lambda: util.apply_fs_data(func_kw, fs, extra=1))),))
    return "\n".join(out) + "\n"


def case_apply_files(req):
    """apply_fs_data passes file parts as Field objects."""
    fs = util.FieldStorage(req)

    def upload(upfile, note=None):
        values = [x.value for x in upfile] if isinstance(upfile, list) else upfile.value
        return "%r %r %r" % (shown(upfile), values, note)

    return "%r\n" % (attempt(lambda: util.apply_fs_data(upload, fs, req=req)),)


# ---- redirect ----

def case_redirect(req):
    util.redirect(req, "/elsewhere")
    req.write("not reached")


def case_redirect_permanent(req):
    util.redirect(req, "http://example.test/new?x=1", permanent=1)


def case_redirect_text(req):
    req.err_headers_out["X-Before"] = "kept"
    req.headers_out["X-Out"] = "dropped on redirect"
    util.redirect(req, "/dummy", text="test ok")


def case_redirect_held(req):
    req.write("held before the redirect ", 0)
    util.redirect(req, "/held")


def case_redirect_after_write(req):
    req.write("sent\n")
    return "%s\n" % attempt(lambda: util.redirect(req, "/late"))


def case_redirect_bytes(req):
    return "%s\n" % attempt(lambda: util.redirect(req, b"/bytes"))


def case_redirect_form(req):
    fs = util.FieldStorage(req)
    target = fs.getfirst("location", fs.getfirst(b"location", b"none"))
    util.redirect(req, "/next?to=" + target.decode())


# ---- other requests ----

def case_twice(req):
    """A second FieldStorage finds the body consumed."""
    first = util.FieldStorage(req)
    second = util.FieldStorage(req)
    return "first %r\nsecond %r\n" % (first.list, second.list)


def case_read_first(req):
    """A FieldStorage after the handler read the body itself."""
    body = req.read()
    return "read %r\nform %r\n" % (body, util.FieldStorage(req).list)


def case_callbacks(req):
    """file_callback and field_callback receive what mod_python gives them."""
    calls = []

    def file_cb(filename):
        calls.append(("file", filename))
        return io.BytesIO()

    def field_cb():
        calls.append(("field",))
        return io.BytesIO()

    fs = util.FieldStorage(req, file_callback=file_cb, field_callback=field_cb)
    out = ["calls %r" % (calls,)]
    for item in fs.list:
        out.append("%s %r %r file=%s" % (type(item).__name__, item.name, item.value, type(item.file).__name__))
    noncallable = util.FieldStorage(req, file_callback="nope", field_callback=1)
    out.append("non-callable callbacks: %d items" % len(noncallable.list))
    return "\n".join(out) + "\n"


def case_memory(req):
    """How much the worker's peak memory grows while a FieldStorage reads the upload: the
    files go to temporary files, not to memory."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident size

    def kib(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    before = kib("VmRSS")
    fs = util.FieldStorage(req)
    peak = kib("VmHWM")
    sizes = ["%r %d" % (i.name, len(i.file.read()) if isinstance(i, util.Field) else len(i)) for i in fs.list]
    return "fields %s\ngrowth_kib %d\n" % (", ".join(sizes), peak - before)


def case_env(req):
    """What the request carried, to check a case's setup."""
    return "method=%s args=%r ctype=%r clen=%r\n" % (
        req.method, req.args, req.headers_in.get("content-type"), req.headers_in.get("content-length"))


def case_pid(req):
    return "%d\n" % os.getpid()
