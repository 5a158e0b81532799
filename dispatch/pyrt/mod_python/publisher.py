"""mod_python.publisher for mpgate: publishes the functions and objects of
a page module at URLs (mod_python.md section 5.4).

Adapted from grisha/mod_python: lib/python/mod_python/publisher.py (3.5.0,
Apache License 2.0, Copyright Gregory Trubetskoy and the Apache Software
Foundation) and kept to what Debian's libapache2-mod-python 3.5 does on
Python 3: the same file and function mapping, traversal and publishing
rules, authentication, content-type guessing, answers and log lines. The
statements a PythonDebug traceback can show are worded as there.

Deliberate differences (docs/compat.md):
* Pages are loaded by mpgate's path-keyed importer (mpgate.importer), not
  by a cache of the publisher's own: a page is one module whether the
  publisher serves it or a handler imports it, and it is reloaded, with
  what imports it, when it or a module it imports changes.
* get_page(req, path) -- only a comment in mod_python -- returns the page
  module at path (a file: absolute, or relative to the directory of the
  page being published), the same object the publisher serves.
* Basic credentials are decoded (3.5 calls base64.decodestring, gone since
  Python 3.9, and answers 400 to every request with credentials for a page
  that needs them).
* A dict __auth__ checks the user's password in it, as documented; 3.5 on
  Python 3 fails there with NameError (DictionaryType).
* __auth__, __access__ and __auth_realm__ assigned inside a published
  function or method are read from its bytecode by what the instructions
  do (dis), on any Python version; 3.5 reads them at constant-table offsets
  that Python 3.11 changed. A value the bytecode does not tell (a call, a
  closure, an expression) refuses access, with an error-log line.
"""

import base64
import collections.abc
import dis
import os
import re
import sys
import types
import weakref
from os.path import exists, isabs, isfile, normpath, split, join, dirname  # noqa: F401  (3.5's names)
from types import *  # noqa: F401,F403  (mod_python's publisher exports these names)
from typing import Any, Dict, List, Optional, Tuple

import importlib.machinery as _machinery

from . import apache
from . import util
from mpgate import importer as _importer

# mod_python 3.5 computes this from imp.get_suffixes() (imp is gone in
# Python 3.12); nothing uses it but sites may read it.
imp_suffixes = " ".join(s[1:] for s in _machinery.EXTENSION_SUFFIXES + _machinery.SOURCE_SUFFIXES
                        + _machinery.BYTECODE_SUFFIXES)

PY2 = False


def _callable(obj: Any) -> bool:
    return (isinstance(obj, collections.abc.Callable) or
            (hasattr(obj, "__call__") and isinstance(obj.__call__, collections.abc.Callable)))


####################### The published pages ####################################

def _load_page(req: Any, filename: str, dispatcher: bool = True) -> types.ModuleType:
    """Returns the page module of filename from mpgate's importer (keyed by
    the file's path; reloaded when the daemon reports it or a module it
    imports changed, unless PythonAutoReload is Off), logging 3.5's
    "Publisher loading page" notice before a (re)load when PythonDebug is
    On. dispatcher false records the calling site module (get_page's
    caller) as depending on the page, as apache.import_module does."""
    config = req.get_config()
    autoreload = int(config.get("PythonAutoReload", 1))
    log = int(config.get("PythonDebug", 0))

    def notice(reload: bool) -> None:
        if log:
            req.log_error('Publisher %s page %s' % ("reloading" if reload else "loading", filename),
                          apache.APLOG_NOTICE)

    module, _ = _importer.import_module(filename, autoreload=autoreload, dispatcher=dispatcher, notice=notice)
    if not dispatcher:
        # The module itself (what the publisher serves), not an object the
        # page's code put in sys.modules in its stead: the importer has it
        # in this request's cache, so this loads nothing.
        module, _ = _importer.import_module(filename, autoreload=autoreload, dispatcher=True)
    return module


class PageCache:
    """3.5's page cache as far as sites use it: page_cache[req] is the page
    module of req.filename."""

    def __getitem__(self, req: Any) -> types.ModuleType:
        return _load_page(req, req.filename)


page_cache = PageCache()


def get_page(req: Any, path: str) -> types.ModuleType:
    """Returns the published page module of the file at path: absolute, or
    relative to the directory of the page being published (req.filename),
    not to the URL. It is the very module the publisher serves for that
    file, loaded or reloaded as the publisher would; the calling page
    depends on it (reloaded when it changes). Do not keep it beyond the
    request. A path that is not a file answers 404, with an error-log line.

    This is the interface 3.5 left as a comment in publisher.py."""
    if isabs(path):
        filename = normpath(path)
    else:
        filename = normpath(join(dirname(req.filename), path))
    if not isfile(filename):
        req.log_error('mod_python.publisher: get_page: no page file %s' % filename, apache.APLOG_ERR)
        raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
    return _load_page(req, filename, dispatcher=False)


####################### The publisher handler himself ##########################

def handler(req: Any) -> int:
    """The content handler (PythonHandler mod_python.publisher): maps the
    request to a page module and an object path in it, checks the
    authentication of the module and of every object traversed, and
    publishes the object (mod_python.md section 5.4, steps 1-7)."""

    req.allow_methods(["GET", "POST", "HEAD"])
    if req.method not in ["GET", "POST", "HEAD"]:
        raise apache.SERVER_RETURN(apache.HTTP_METHOD_NOT_ALLOWED)

    # The module is the file req.filename names, less the extension that
    # got the request here. A request for a directory ends in a slash: the
    # 'index' module.

    path,module_name =  os.path.split(req.filename)

    if not module_name:
        module_name = 'index'

    suffixes = ['py']
    suffixes += req.get_addhandler_exts().split()
    if req.extension:
        suffixes.append(req.extension[1:])

    exp = '\\.' + '$|\\.'.join(suffixes) + '$'
    suff_matcher = re.compile(exp)
    module_name = suff_matcher.sub('',module_name)

    # The object path comes from req.path_info, less its leading slash and
    # one trailing slash.

    func_path = ''

    if req.path_info:
        func_path = req.path_info[1:]
        if func_path[-1:] == '/':
            func_path = func_path[:-1]

    # path/<module_name>.py, else path/index.py with module_name as the
    # first part of the object path.

    req.filename = path + '/' + module_name + '.py'

    if not exists(req.filename):
        if func_path:
            func_path = module_name + '/' + func_path
        else:
            func_path = module_name

        module_name = 'index'
        req.filename = path + '/' + module_name + '.py'

        if not exists(req.filename):
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)

    if not func_path:
        func_path = 'index'

    func_path = func_path.replace('/', '.')

    req.filename = normpath(req.filename)

    module = _load_page(req, req.filename)

    # does it have an __auth__?
    realm, user, passwd = process_auth(req, module)

    # resolve the object ('traverse')
    object = resolve_object(req, module, func_path, realm, user, passwd)

    # publish the object
    published = publish_object(req, object)

    # we log a message if nothing was published, it helps with debugging
    if (not published) and (req._bytes_queued==0) and (req.next is None):
        log=int(req.get_config().get("PythonDebug", 0))
        if log:
            req.log_error("mod_python.publisher: nothing to publish.")

    return apache.OK


####################### Authentication #########################################

_AUTH_NAMES = ("__auth__", "__access__", "__auth_realm__")


class _Unknown:
    """A value the bytecode of a function does not tell."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


_UNKNOWN = _Unknown("it is computed")

# What _analyse found, by code object: {name: (node, line)}.
_analysed = weakref.WeakKeyDictionary()  # type: weakref.WeakKeyDictionary

_STORE_OPS = frozenset(("STORE_FAST", "STORE_DEREF", "STORE_NAME", "STORE_GLOBAL"))
_NEUTRAL_OPS = frozenset(("NOP", "RESUME", "CACHE", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL",
                          "NOT_TAKEN"))
_BUILD_OPS = {"BUILD_LIST": "list", "BUILD_TUPLE": "tuple", "BUILD_SET": "set"}
_EXTEND_OPS = {"LIST_EXTEND": "list", "SET_UPDATE": "set", "DICT_UPDATE": "dict"}

# MAKE_FUNCTION / SET_FUNCTION_ATTRIBUTE flags.
_FN_DEFAULTS, _FN_KWDEFAULTS, _FN_ANNOTATIONS, _FN_CLOSURE = 0x01, 0x02, 0x04, 0x08


def _stack_effect(ins: Any) -> Optional[int]:
    """The stack effect of ins when it does not jump, None if unknown."""
    try:
        return dis.stack_effect(ins.opcode, ins.arg, jump=False)
    except TypeError:  # Python < 3.8: no jump argument
        try:
            return dis.stack_effect(ins.opcode, ins.arg)
        except (TypeError, ValueError):
            return None
    except ValueError:
        return None


def _analyse(code: types.CodeType) -> Dict[str, Tuple[Any, int]]:
    """Returns {name: (node, line)} for the __auth__, __access__ and
    __auth_realm__ the function of code assigns in its body.

    The instructions are run symbolically, one basic block at a time:
    constants, the function's globals (and attributes of them), lists,
    tuples, sets and dicts of those, and functions made from a constant code
    object (lambdas and nested defs) are known; anything else, and whatever
    reaches a jump target, is not (_UNKNOWN). A node is ("const", value),
    ("global", name), ("attr", node, name), (kind, [nodes]) for list, tuple
    and set, ("dict", [(key, value)]), or ("func", code, defaults,
    kwdefaults, closure). A name assigned twice with different nodes is not
    known either."""
    try:
        return _analysed[code]
    except (KeyError, TypeError):
        pass
    found = {}  # type: Dict[str, Tuple[Any, int]]
    wanted = set(_AUTH_NAMES) & (set(code.co_varnames) | set(code.co_cellvars) | set(code.co_names))
    if wanted:
        try:
            found = _simulate(code, wanted)
        except Exception as e:  # noqa: B902  (an unforeseen instruction layout refuses, never crashes)
            found = {n: (_Unknown("its bytecode could not be read (%s: %s)" % (type(e).__name__, e)),
                         code.co_firstlineno) for n in wanted if _stores(code, n)}
    try:
        _analysed[code] = found
    except TypeError:
        pass
    return found


def _stores(code: types.CodeType, name: str) -> bool:
    """Reports whether an instruction of code assigns name (True when the
    instructions cannot be read)."""
    try:
        for ins in dis.get_instructions(code):
            if "STORE" in ins.opname and (ins.argval == name or (isinstance(ins.argval, tuple) and name in ins.argval)):
                return True
    except Exception:  # noqa: B902
        return True
    return False


def _simulate(code: types.CodeType, wanted: set) -> Dict[str, Tuple[Any, int]]:
    """_analyse's symbolic run."""
    stores = {}  # type: Dict[str, List[Tuple[Any, int]]]
    stack = []  # type: List[Any]
    line = code.co_firstlineno
    py = sys.version_info[:2]

    def pop() -> Any:
        return stack.pop() if stack else _UNKNOWN

    def pop_n(n: int) -> List[Any]:
        items = [pop() for _ in range(n)]
        items.reverse()
        return items

    def store(name: Any, value: Any) -> None:
        if name in wanted:
            stores.setdefault(name, []).append((value, line))

    try:
        labels = set(dis.findlabels(code.co_code))
    except Exception:  # noqa: B902  (is_jump_target still tells)
        labels = set()
    for ins in dis.get_instructions(code):
        if ins.offset in labels or getattr(ins, "is_jump_target", False):
            # Reached from elsewhere too: what the stack holds is not known.
            stack[:] = [_UNKNOWN] * len(stack)
        if hasattr(ins, "line_number"):
            if ins.line_number is not None:
                line = ins.line_number
        elif ins.starts_line is not None:
            line = ins.starts_line
        op, arg, val = ins.opname, ins.arg, ins.argval

        if op in ("LOAD_CONST", "LOAD_SMALL_INT"):
            stack.append(("const", val))
        elif op == "LOAD_GLOBAL":
            if py >= (3, 11) and arg is not None and arg & 1:
                stack.append(_UNKNOWN)  # the NULL pushed for a call
            stack.append(("global", val))
        elif op == "LOAD_ATTR":
            owner = pop()
            if py >= (3, 12) and arg is not None and arg & 1:
                stack.extend((_UNKNOWN, _UNKNOWN))  # a method load
            else:
                stack.append(_UNKNOWN if owner is _UNKNOWN else ("attr", owner, val))
        elif op in _BUILD_OPS:
            items = pop_n(arg)
            stack.append(_UNKNOWN if _UNKNOWN in items else (_BUILD_OPS[op], items))
        elif op == "BUILD_MAP":
            items = pop_n(2 * arg)
            stack.append(_UNKNOWN if _UNKNOWN in items else ("dict", list(zip(items[::2], items[1::2]))))
        elif op == "BUILD_CONST_KEY_MAP":
            keys = pop()
            values = pop_n(arg)
            if (keys is _UNKNOWN or keys[0] != "const" or not isinstance(keys[1], tuple)
                    or len(keys[1]) != arg or _UNKNOWN in values):
                stack.append(_UNKNOWN)
            else:
                stack.append(("dict", [(("const", k), v) for k, v in zip(keys[1], values)]))
        elif op in _EXTEND_OPS and arg == 1:
            more = pop()
            target = pop()
            kind = _EXTEND_OPS[op]
            if target is _UNKNOWN or target[0] != kind or more is _UNKNOWN or more[0] != "const":
                stack.append(_UNKNOWN)
            elif kind == "dict":
                stack.append(("dict", target[1] + [(("const", k), ("const", v)) for k, v in more[1].items()]))
            else:
                stack.append((kind, target[1] + [("const", v) for v in more[1]]))
        elif op == "MAKE_FUNCTION":
            if py < (3, 11):
                pop()  # the qualified name
            fcode = pop()
            flags = arg if py < (3, 13) and arg is not None else 0
            closure = pop() if flags & _FN_CLOSURE else None
            if flags & _FN_ANNOTATIONS:
                pop()
            kwdefaults = pop() if flags & _FN_KWDEFAULTS else None
            defaults = pop() if flags & _FN_DEFAULTS else None
            if fcode is _UNKNOWN or fcode[0] != "const" or not isinstance(fcode[1], types.CodeType):
                stack.append(_UNKNOWN)
            else:
                stack.append(("func", fcode[1], defaults, kwdefaults, closure is not None))
        elif op == "SET_FUNCTION_ATTRIBUTE":
            func = pop()
            value = pop()
            if func is _UNKNOWN or func[0] != "func":
                stack.append(_UNKNOWN)
            else:
                _, fcode, defaults, kwdefaults, closure = func
                if arg & _FN_DEFAULTS:
                    defaults = value
                if arg & _FN_KWDEFAULTS:
                    kwdefaults = value
                if arg & _FN_CLOSURE:
                    closure = True
                stack.append(("func", fcode, defaults, kwdefaults, closure))
        elif op in _STORE_OPS:
            store(val, pop())
        elif op == "STORE_FAST_LOAD_FAST":
            store(val[0], pop())
            stack.append(_UNKNOWN)
        elif op == "STORE_FAST_STORE_FAST":
            store(val[0], pop())
            store(val[1], pop())
        elif op in _NEUTRAL_OPS:
            pass
        else:
            if "STORE" in op:
                for n in (val if isinstance(val, tuple) else (val,)):
                    store(n, _UNKNOWN)
            effect = _stack_effect(ins)
            if effect is None:
                raise ValueError("no stack effect for %s" % op)
            stack[:] = [_UNKNOWN] * max(len(stack) + effect, 0)

    found = {}  # type: Dict[str, Tuple[Any, int]]
    for name, values in stores.items():
        node, first = values[0]
        if any(v != node for v, _ in values[1:]):
            node = _Unknown("it is assigned more than once")
        found[name] = (node, first)
    return found


def _value(node: Any, func: types.FunctionType) -> Any:
    """Returns the value of an _analyse node for func (its globals), or
    raises LookupError saying why it cannot be known."""
    if isinstance(node, _Unknown):
        raise LookupError(node.why)
    kind = node[0]
    if kind == "const":
        return node[1]
    if kind == "global":
        g = func.__globals__
        if node[1] in g:
            return g[node[1]]
        b = func.__builtins__
        b = b if isinstance(b, dict) else getattr(b, "__dict__", {})
        if node[1] in b:
            return b[node[1]]
        raise LookupError("the global name %r is not defined" % node[1])
    if kind == "attr":
        owner = _value(node[1], func)
        try:
            return getattr(owner, node[2])
        except Exception as e:  # noqa: B902  (whatever getattr raises)
            raise LookupError("getting attribute %r failed (%s: %s)" % (node[2], type(e).__name__, e))
    if kind == "list":
        return [_value(n, func) for n in node[1]]
    if kind == "tuple":
        return tuple(_value(n, func) for n in node[1])
    if kind == "set":
        return set(_value(n, func) for n in node[1])
    if kind == "dict":
        return dict((_value(k, func), _value(v, func)) for k, v in node[1])
    if kind == "func":
        _, code, defaults, kwdefaults, closure = node
        if closure:
            raise LookupError("the nested function %s uses variables of %s" % (code.co_name, func.__qualname__))
        f = types.FunctionType(code, func.__globals__, code.co_name,
                               _value(defaults, func) if defaults is not None else None)
        if kwdefaults is not None:
            f.__kwdefaults__ = _value(kwdefaults, func)
        return f
    raise LookupError("unknown node %r" % (kind,))


def _nested_auth(req: Any, func_object: types.FunctionType) -> Dict[str, Any]:
    """Returns {name: value} for the __auth__, __access__ and __auth_realm__
    func_object assigns in its body (MODPYTHON-43): nested functions and
    lambdas become functions with func_object's globals. A value that
    cannot be known is logged and given as None."""
    code = func_object.__code__
    values = {}  # type: Dict[str, Any]
    for name, (node, line) in _analyse(code).items():
        try:
            values[name] = _value(node, func_object)
        except LookupError as e:
            then = 'the realm stays' if name == '__auth_realm__' else 'access is refused'
            req.log_error('mod_python.publisher: cannot tell the value of %s in %s (%s, line %d) without '
                          'calling it: %s; %s' % (name, func_object.__qualname__, code.co_filename, line, e, then),
                          apache.APLOG_ERR)
            values[name] = None
    return values


def process_auth(req: Any, object: Any, realm: Any = "unknown", user: Any = None,
                 passwd: Any = None) -> Tuple[Any, Any, Any]:
    """Checks the __auth__, __access__ and __auth_realm__ of object (its
    attributes; for a function or method, what its body assigns) against the
    request's Basic credentials, parsed only when needed; raises
    SERVER_RETURN 400, 401 or 403, else returns (realm, user, passwd) for the
    next object."""

    found_auth, found_access = 0, 0

    if hasattr(object, "__auth_realm__"):
        realm = object.__auth_realm__

    func_object = None

    if type(object) is FunctionType:
        func_object = object
    elif type(object) == types.MethodType:
        func_object = object.__func__

    if func_object:
        # functions are a bit tricky: what they assign in their body

        nested = _nested_auth(req, func_object)

        if "__auth__" in nested:
            found_auth, __auth__ = 1, nested["__auth__"]

        if "__access__" in nested:
            found_access, __access__ = 1, nested["__access__"]

        if nested.get("__auth_realm__") is not None:
            realm = nested["__auth_realm__"]

    else:
        if hasattr(object, "__auth__"):
            __auth__ = object.__auth__
            found_auth = 1
        if hasattr(object, "__access__"):
            __access__ = object.__access__
            found_access = 1

    if found_auth or found_access:
        # because ap_get_basic insists on making sure that AuthName and
        # AuthType directives are specified and refuses to do anything
        # otherwise (which is technically speaking a good thing), we
        # have to do base64 decoding ourselves.
        #
        # to avoid needless header parsing, user and password are parsed
        # once and the are received as arguments
        if not user and "Authorization" in req.headers_in:
            try:
                s = req.headers_in["Authorization"][6:].encode()
                s = base64.decodebytes(s).decode()
                user, passwd = s.split(":", 1)
            except:  # noqa: E722  (3.5: anything wrong is a bad request)
                raise apache.SERVER_RETURN(apache.HTTP_BAD_REQUEST)

    if found_auth:

        if not user:
            # note that Opera supposedly doesn't like spaces around "=" below
            s = 'Basic realm="%s"' % realm
            req.err_headers_out["WWW-Authenticate"] = s
            raise apache.SERVER_RETURN(apache.HTTP_UNAUTHORIZED)

        if _callable(__auth__):
            rc = __auth__(req, user, passwd)
        else:
            if isinstance(__auth__, dict):
                rc = user in __auth__ and __auth__[user] == passwd
            else:
                rc = __auth__

        if not rc:
            s = 'Basic realm = "%s"' % realm
            req.err_headers_out["WWW-Authenticate"] = s
            raise apache.SERVER_RETURN(apache.HTTP_UNAUTHORIZED)

    if found_access:

        if _callable(__access__):
            rc = __access__(req, user)
        else:
            if type(__access__) in (list, tuple):
                rc = user in __access__
            else:
                rc = __access__

        if not rc:
            raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)

    return realm, user, passwd


####################### Traversal and publishing rules #########################

# tp_rules is a dictionary, indexed by type, with tuple values.
# The first item in the tuple is a boolean telling if the object can be traversed (default is True)
# The second item in the tuple is a boolen telling if the object can be published (default is True)
tp_rules = {}

# by default, built-in types cannot be traversed, but can be published
default_builtins_tp_rule = (False, True)
for t in list(types.__dict__.values()):
    if isinstance(t, type):
        tp_rules[t]=default_builtins_tp_rule

# those are the exceptions to the previous rules
tp_rules.update({
    # Those are not traversable nor publishable
    ModuleType          : (False, False),
    BuiltinFunctionType : (False, False),
    type                : (False, False),

    # Publishing a generator may not seem to makes sense, because
    # it can only be done once. However, we could get a brand new generator
    # each time a new-style class property is accessed.
    GeneratorType       : (False, True),

})

# types which are not referenced in the tp_rules dictionary will be traversable
# AND publishable
default_tp_rule = (True, True)

def resolve_object(req: Any, obj: Any, object_str: str, realm: Any = None, user: Any = None,
                   passwd: Any = None) -> Any:
    """
    This function traverses the objects separated by .
    (period) to find the last one we're looking for.
    """
    parts = object_str.split('.')

    first_object = True
    for obj_str in parts:
        # path components starting with an underscore are forbidden
        if obj_str[0]=='_':
            req.log_error('Cannot traverse %s in %s because '
                          'it starts with an underscore'
                          % (obj_str, req.unparsed_uri), apache.APLOG_WARNING)
            raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)

        if first_object:
            first_object = False
        else:
            # if we're not in the first object (which is the module)
            # we're going to check whether be can traverse this type or not
            rule = tp_rules.get(type(obj), default_tp_rule)
            if not rule[0]:
                req.log_error('Cannot traverse %s in %s because '
                              '%s is not a traversable object'
                              % (obj_str, req.unparsed_uri, obj), apache.APLOG_WARNING)
                raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)

        # we know it's OK to call getattr
        # note that getattr can really call some code because
        # of property objects (or attribute with __get__ special methods)...
        try:
            obj = getattr(obj, obj_str)
        except AttributeError:
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)

        # we process the authentication for the object
        realm, user, passwd = process_auth(req, obj, realm, user, passwd)

    # we're going to check if the final object is publishable
    rule = tp_rules.get(type(obj), default_tp_rule)
    if not rule[1]:
        req.log_error('Cannot publish %s in %s because '
                      '%s is not publishable'
                      % (obj_str, req.unparsed_uri, obj), apache.APLOG_WARNING)
        raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)

    return obj

# The presence of a closing HTML tag, in upper or lower case.
re_html = re.compile(r"</HTML\s*>\s*$",re.I)
re_charset = re.compile(r"charset\s*=\s*([^\s;]+)",re.I)

def publish_object(req: Any, obj: Any) -> bool:
    """Publishes obj: a callable is called with the form's fields and what
    it returns is published in turn; None writes nothing (False); anything
    else is written as str(obj), unflushed (MODPYTHON-107; Apache drops the
    body of a HEAD, MODPYTHON-105), with a guessed Content-Type unless the
    page set one."""
    if _callable(obj):

        # To publish callables, we call them and recursively publish the result
        # of the call (as done by util.apply_fs_data)

        req.form = util.FieldStorage(req, keep_blank_values=1)
        return publish_object(req, util.apply_fs_data(obj, req.form, req=req))

    if obj is None:
        return False

    result = str(obj)

    if not req._content_type_set:
        # a closing </HTML> in the last 100 characters (a negative start
        # searches from 0)
        if re_html.search(result,len(result)-100):
            req.content_type = 'text/html'
        else:
            req.content_type = 'text/plain'

    req.write(result, 0)

    return True
