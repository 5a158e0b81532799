"""mod_python.publisher for mpgate: publishes the functions and objects of
a page module at URLs (mod_python.md section 5.4).

Adapted from grisha/mod_python: lib/python/mod_python/publisher.py (3.5.0,
Apache License 2.0, Copyright Gregory Trubetskoy and the Apache Software
Foundation) and kept to what Debian's libapache2-mod-python 3.5 does on
Python 3: the same file and function mapping, traversal and publishing
rules, authentication, content-type guessing and answers.

Deliberate differences (docs/compat.md):
* Pages are loaded by mpgate's path-keyed importer (apache.import_module
  with the page's path), not by a cache of its own: a page is one module
  whether the publisher serves it or a handler imports it, and it is
  reloaded, with what imports it, when it changes.
* get_page(req, path) -- only a comment in mod_python -- returns the page
  module at path (absolute, or relative to the directory of the page being
  published), the same object the publisher serves.
* A dict __auth__ checks the user's password in it, as documented; 3.5 on
  Python 3 fails there with NameError (DictionaryType).
* __auth__, __access__ and __auth_realm__ defined inside a published
  function or method are found from the function's source (or its code
  objects), whatever the Python version's bytecode layout; 3.5 reads them
  at constant-table offsets that Python 3.11 changed.
"""

import ast
import base64
import collections.abc
import linecache
import os
import re
import sys
import types
from os.path import exists, isabs, normpath, split, join, dirname
from types import *  # noqa: F401,F403  (mod_python's publisher exports these names)
from typing import Any, Optional, Tuple

from . import apache
from . import util

import importlib.machinery as _machinery

# mod_python 3.5 computes this from imp.get_suffixes() (imp is gone in
# Python 3.12); nothing uses it but sites may read it.
imp_suffixes = " ".join(s[1:] for s in _machinery.EXTENSION_SUFFIXES + _machinery.SOURCE_SUFFIXES
                        + _machinery.BYTECODE_SUFFIXES)

PY2 = False


def _callable(obj: Any) -> bool:
    return (isinstance(obj, collections.abc.Callable) or
            (hasattr(obj, "__call__") and isinstance(obj.__call__, collections.abc.Callable)))


# ---- pages ------------------------------------------------------------------

def _load_page(req: Any, filename: str) -> types.ModuleType:
    """Returns the page module of filename through mpgate's importer, with
    the section's PythonAutoReload and PythonDebug."""
    config = req.get_config()
    autoreload = int(config.get("PythonAutoReload", 1))
    log = int(config.get("PythonDebug", 0))
    return apache.import_module(filename, autoreload=autoreload, log=log)


def get_page(req: Any, path: str) -> types.ModuleType:
    """Returns the published page module at path: absolute, or relative to
    the directory of the page being published (req.filename), not to the
    URL. It is the module the publisher serves for that file (the same
    object), loaded or reloaded as the publisher would."""
    if isabs(path):
        filename = path
    else:
        filename = normpath(join(dirname(req.filename), path))
    if not exists(filename):
        raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
    return _load_page(req, filename)


# ---- the handler ------------------------------------------------------------

def handler(req: Any) -> int:

    req.allow_methods(["GET", "POST", "HEAD"])
    if req.method not in ["GET", "POST", "HEAD"]:
        raise apache.SERVER_RETURN(apache.HTTP_METHOD_NOT_ALLOWED)

    # The module is the file req.filename names, less the extension that
    # got the request here; a request for a directory means 'index'.
    path, module_name = os.path.split(req.filename)
    if not module_name:
        module_name = 'index'

    suffixes = ['py']
    suffixes += req.get_addhandler_exts().split()
    if req.extension:
        suffixes.append(req.extension[1:])

    exp = '\\.' + '$|\\.'.join(suffixes) + '$'
    suff_matcher = re.compile(exp)
    module_name = suff_matcher.sub('', module_name)

    # The object path comes from path_info, less its leading slash and one
    # trailing slash.
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

    realm, user, passwd = process_auth(req, module)

    object = resolve_object(req, module, func_path, realm, user, passwd)

    published = publish_object(req, object)

    if (not published) and (req._bytes_queued == 0) and (req.next is None):
        log = int(req.get_config().get("PythonDebug", 0))
        if log:
            req.log_error("mod_python.publisher: nothing to publish.")

    return apache.OK


# ---- authentication ---------------------------------------------------------

_AUTH_NAMES = ("__auth__", "__access__", "__auth_realm__")


def _nested_auth(func_object: Any) -> dict:
    """Returns {name: value} for the __auth__, __access__ and __auth_realm__
    a function defines in its own body (MODPYTHON-43): nested functions
    become functions with the function's globals, literals their values.
    The function's source is read (linecache) and parsed; without it, the
    nested functions are found among its code objects."""
    code = func_object.__code__
    found = {}
    names = set(code.co_names) | set(code.co_varnames) | set(code.co_cellvars)
    if not any(n in names for n in _AUTH_NAMES):
        return found
    nested = {c.co_name: c for c in code.co_consts if isinstance(c, types.CodeType)}
    body = _function_body(code)
    if body is None:
        for n in _AUTH_NAMES:
            if n in nested:
                found[n] = types.FunctionType(nested[n], func_object.__globals__)
        return found
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in _AUTH_NAMES:
            c = nested.get(node.name)
            if c is not None:
                found[node.name] = types.FunctionType(c, func_object.__globals__)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in _AUTH_NAMES:
                    if isinstance(node.value, ast.Lambda):
                        lam = [c for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == "<lambda>"
                               and c.co_firstlineno == node.value.lineno]
                        if lam:
                            found[target.id] = types.FunctionType(lam[0], func_object.__globals__)
                        continue
                    found[target.id] = _nested_value(node.value, func_object.__globals__)
    return found


def _nested_value(node: ast.expr, globals: dict) -> Any:
    """The value of an __auth__/__access__/__auth_realm__ assignment in a
    function body: a literal, or a (dotted) name looked up in the
    function's globals. Anything else cannot be known without running the
    function, and denies access (False)."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        pass
    if isinstance(node, (ast.Name, ast.Attribute)):
        try:
            return eval(compile(ast.Expression(node), "<__auth__>", "eval"), globals)
        except Exception:
            return False
    return False


def _function_body(code: types.CodeType) -> Optional[list]:
    """Returns the statements of the function whose code is code, parsed
    from its source file, or None."""
    lines = linecache.getlines(code.co_filename)
    if not lines:
        return None
    try:
        tree = ast.parse("".join(lines))
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
            first = node.lineno
            if node.decorator_list:
                first = min([first] + [d.lineno for d in node.decorator_list])
            if code.co_firstlineno in (node.lineno, first):
                return node.body
    return None


def process_auth(req: Any, object: Any, realm: str = "unknown", user: Any = None,
                 passwd: Any = None) -> Tuple[Any, Any, Any]:

    found_auth, found_access = 0, 0
    __auth__ = __access__ = None

    if hasattr(object, "__auth_realm__"):
        realm = object.__auth_realm__

    func_object = None

    if type(object) is FunctionType:
        func_object = object
    elif type(object) == types.MethodType:
        func_object = object.__func__

    if func_object:
        # functions are a bit tricky: what they define in their body
        nested = _nested_auth(func_object)
        if "__auth__" in nested:
            found_auth, __auth__ = 1, nested["__auth__"]
        if "__access__" in nested:
            found_access, __access__ = 1, nested["__access__"]
        if "__auth_realm__" in nested:
            realm = nested["__auth_realm__"]
    else:
        if hasattr(object, "__auth__"):
            __auth__ = object.__auth__
            found_auth = 1
        if hasattr(object, "__access__"):
            __access__ = object.__access__
            found_access = 1

    if found_auth or found_access:
        # Basic credentials, decoded here: ap_get_basic_auth_pw insists on
        # AuthType and AuthName. Parsed once, then passed along.
        if not user and "Authorization" in req.headers_in:
            try:
                s = req.headers_in["Authorization"][6:].encode()
                s = base64.decodebytes(s).decode()
                user, passwd = s.split(":", 1)
            except Exception:
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


# ---- traversal and publishing rules -----------------------------------------

# tp_rules maps a type to (traversable, publishable); types not in it are
# both.
tp_rules = {}

# by default, built-in types cannot be traversed, but can be published
default_builtins_tp_rule = (False, True)
for t in list(types.__dict__.values()):
    if isinstance(t, type):
        tp_rules[t] = default_builtins_tp_rule

# those are the exceptions to the previous rules
tp_rules.update({
    # Those are not traversable nor publishable
    ModuleType: (False, False),
    BuiltinFunctionType: (False, False),
    type: (False, False),

    # A generator may be published (a property may make a new one each time).
    GeneratorType: (False, True),
})

default_tp_rule = (True, True)


def resolve_object(req: Any, obj: Any, object_str: str, realm: Any = None, user: Any = None,
                   passwd: Any = None) -> Any:
    """Traverses the objects of object_str (separated by '.') from obj and
    returns the last one."""
    parts = object_str.split('.')

    first_object = True
    for obj_str in parts:
        # path components starting with an underscore are forbidden
        if obj_str[0] == '_':
            req.log_error('Cannot traverse %s in %s because '
                          'it starts with an underscore'
                          % (obj_str, req.unparsed_uri), apache.APLOG_WARNING)
            raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)

        if first_object:
            first_object = False
        else:
            rule = tp_rules.get(type(obj), default_tp_rule)
            if not rule[0]:
                req.log_error('Cannot traverse %s in %s because '
                              '%s is not a traversable object'
                              % (obj_str, req.unparsed_uri, obj), apache.APLOG_WARNING)
                raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)

        # getattr may run code (properties, __getattr__)
        try:
            obj = getattr(obj, obj_str)
        except AttributeError:
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)

        realm, user, passwd = process_auth(req, obj, realm, user, passwd)

    rule = tp_rules.get(type(obj), default_tp_rule)
    if not rule[1]:
        req.log_error('Cannot publish %s in %s because '
                      '%s is not publishable'
                      % (obj_str, req.unparsed_uri, obj), apache.APLOG_WARNING)
        raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)

    return obj


# The presence of a closing HTML tag, in upper or lower case.
re_html = re.compile(r"</HTML\s*>\s*$", re.I)
re_charset = re.compile(r"charset\s*=\s*([^\s;]+)", re.I)


def publish_object(req: Any, obj: Any) -> bool:
    if _callable(obj):
        # Callables are called with the form's fields, and what they return
        # is published in turn.
        req.form = util.FieldStorage(req, keep_blank_values=1)
        return publish_object(req, util.apply_fs_data(obj, req.form, req=req))

    if obj is None:
        return False

    charset = None
    result = str(obj)

    if not req._content_type_set:
        # guess: a closing </HTML> in the last 100 characters
        if re_html.search(result, len(result) - 100):
            req.content_type = 'text/html'
        else:
            req.content_type = 'text/plain'
        if charset is not None:
            req.content_type += '; charset=%s' % charset

    # Written even for HEAD (Apache drops the body), not flushed, so that a
    # Content-Length can be given (MODPYTHON-105, MODPYTHON-107).
    req.write(result, 0)

    return True
