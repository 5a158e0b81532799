"""mod_python.cgihandler for mpgate: runs CGI scripts in the worker, as
mod_python 3.5 does (mod_python.md §5.8). Adapted from grisha/mod_python:
lib/python/mod_python/cgihandler.py (3.5, Apache License 2.0, Gregory
Trubetskoy).

Configuration::

    <Directory /srv/www/cgi>
        SetHandler mod_python
        PythonHandler mod_python.cgihandler
    </Directory>

Per request, as in 3.5: the script is subprocess_env["SCRIPT_FILENAME"] if
set, else req.filename; its base name without the extension is looked up
in the script's own directory only, as imp.find_module does (a package
directory of that name, then an extension module, then NAME.py, then
NAME.pyc), never along sys.path: a name found nowhere there is 404. The
working directory becomes the script's, os.environ holds the CGI variables
(apache.build_cgi_env) and nothing else, sys.stdin reads the request body
and sys.stdout parses the header block and writes the body
(apache.CGIStdin, CGIStdout), and the file is executed afresh as a module
named after it: `if __name__ == "__main__":` blocks do not run, as in 3.5.
Requests are serialised by a lock, as there.

Differences from mod_python 3.5:
  * os.environ, the working directory, sys.argv, sys.stdin and sys.stdout
    are what they were once the request ends, error or not. 3.5 replaces
    os.environ with an empty dict for good when cgihandler is first
    imported (every later handler of the process sees that dict, and
    subprocesses never see the CGI variables), leaves sys.argv empty, and
    swaps sys.stdin and sys.stdout (apache.restore_nocgi). Here os.environ
    stays the process's real environment, emptied and given the CGI
    variables for the script's run, so that subprocesses the script starts
    get them as under real CGI.
  * Nothing is purged from sys.modules. 3.5 deletes, before each request,
    every module imported since cgihandler was (all but the top directory
    of the standard library: packages such as email, C extensions and
    installed packages included), so that what a script imports runs again
    each time. Here the script itself runs afresh each request; the site
    modules it imports are the importer's (keyed by path, out of
    sys.modules), loaded once and reloaded when they or what they import
    change, as for any handler; installed packages and the standard library
    are imported once.
  * The script's module is in sys.modules under its name only while it
    runs, and only when no other module holds that name (3.5's
    imp.load_module re-executes a script named like a loaded module, e.g.
    json.py, into that module).
  * A script that writes no blank line after its header block gets an
    empty 200 response, as in 3.5, and a warning in the error log naming
    the script.
  * A request whose file name has no base name (a directory) is 404 (3.5
    runs the directory's __init__.py, if any).
  * Reading stdin and writing bytes to stdout work (apache.CGIStdin,
    CGIStdout).
"""

import importlib.machinery
import importlib.util
import os
import sys
import threading
import types
from typing import Any, Optional, Tuple

from mod_python import apache

# The lock of mod_python 3.5: the working directory, os.environ and
# sys.stdin/stdout are the process's. Re-entrant, so that a script whose
# code dispatches another request in-process cannot deadlock.
_lock = threading.RLock()

_SOURCE = "source"
_BYTECODE = "bytecode"
_EXTENSION = "extension"


def handler(req: Any) -> int:
    """Runs the CGI script req maps to."""

    # get the filename of the script
    if "script_filename" in req.subprocess_env:
        dir, file = os.path.split(req.subprocess_env["script_filename"])
    else:
        dir, file = os.path.split(req.filename)
    module_name, ext = os.path.splitext(file)

    with _lock:
        # The CGI spec requires the current working directory to be the
        # script's; not thread safe, hence the lock.
        cwd = os.getcwd()
        environ = dict(os.environ)
        argv = sys.argv
        os.chdir(dir)
        try:
            # The script sees the CGI variables only (3.5's os.environ = {}).
            os.environ.clear()

            # simulate the CGI environment
            env, si, so = apache.setup_cgi(req)
            try:
                # we do not search the pythonpath (security reasons)
                found = _find_script(module_name, dir) if module_name else None
                if found is None:
                    raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)

                # this executes the module
                _run_script(module_name, found)

                out = sys.stdout
                if isinstance(out, apache.CGIStdout) and not out.headers_sent and out.pos:
                    req.log_error("mod_python.cgihandler: %s wrote no blank line after its header block; "
                                  "its output (%d bytes) was not sent" % (found[0], len(out.headers)),
                                  apache.APLOG_WARNING)
                return apache.OK
            finally:
                # unsimulate the CGI environment
                apache.restore_nocgi(env, si, so)
        finally:
            os.environ.clear()
            os.environ.update(environ)
            sys.argv = argv
            os.chdir(cwd)


def _find_script(name: str, dir: str) -> Optional[Tuple[str, str, bool]]:
    """Returns (file, kind, is_package) of module name in dir, looked up as
    imp.find_module(name, [dir]) does, or None."""
    package = os.path.join(dir, name)
    for suffix, kind in ((".py", _SOURCE), (".pyc", _BYTECODE)):
        init = os.path.join(package, "__init__" + suffix)
        if os.path.isfile(init):
            return init, kind, True
    suffixes = ([(s, _EXTENSION) for s in importlib.machinery.EXTENSION_SUFFIXES]
                + [(s, _SOURCE) for s in importlib.machinery.SOURCE_SUFFIXES]
                + [(s, _BYTECODE) for s in importlib.machinery.BYTECODE_SUFFIXES])
    for suffix, kind in suffixes:
        path = os.path.join(dir, name + suffix)
        if os.path.isfile(path):
            return path, kind, False
    return None


def _run_script(name: str, found: Tuple[str, str, bool]) -> types.ModuleType:
    """Executes the script found by _find_script as a new module called
    name, in sys.modules under that name while it runs if the name is
    free."""
    path, kind, is_package = found
    if kind == _EXTENSION:
        loader = importlib.machinery.ExtensionFileLoader(name, path)  # type: Any
    elif kind == _BYTECODE:
        loader = importlib.machinery.SourcelessFileLoader(name, path)
    else:
        loader = importlib.machinery.SourceFileLoader(name, path)
    locations = [os.path.dirname(path)] if is_package else None
    spec = importlib.util.spec_from_file_location(name, path, loader=loader,
                                                  submodule_search_locations=locations)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)

    placed = name not in sys.modules
    if placed:
        sys.modules[name] = module
    try:
        if kind == _SOURCE:
            # Compiled from the source each time, never from __pycache__
            # (whose check by whole seconds and size misses quick edits).
            with open(path, "rb") as f:
                source = f.read()
            exec(compile(source, path, "exec", dont_inherit=True), module.__dict__)
        else:
            loader.exec_module(module)
    finally:
        if placed:
            sys.modules.pop(name, None)
    return module
