"""Entry point of an mpgate worker: ``/usr/bin/python3 -s bootstrap.py``.

It installs an import hook at the front of sys.meta_path that serves the
packages ``mod_python`` and ``mpgate`` and the module ``_apache`` from this
directory, so that neither Debian's /usr/lib/python3/dist-packages/mod_python
nor a PythonPath that replaces sys.path can shadow or drop them; removes this
directory from sys.path (handlers must not import the runtime's files by
accident); then runs mpgate.worker.main().
"""

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import types
from typing import Optional, Sequence

RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))

_PACKAGES = ("mod_python", "mpgate")
_APACHE_FILE = os.path.join(RUNTIME_DIR, "mod_python", "_apache.py")


class _AliasLoader:
    """Loads mod_python._apache as the module already imported as _apache."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        """Returns the module object of _apache."""
        return importlib.import_module("_apache")

    def exec_module(self, module: types.ModuleType) -> None:
        """Does nothing: _apache is already executed."""


class RuntimeFinder:
    """Finds mod_python, mpgate and _apache in RUNTIME_DIR, before any other
    finder looks at sys.path."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[types.ModuleType] = None) -> Optional[importlib.machinery.ModuleSpec]:
        """Returns the spec of a runtime module, or None for any other name."""
        top = fullname.partition(".")[0]
        if fullname == "_apache":
            return importlib.util.spec_from_file_location("_apache", _APACHE_FILE)
        if fullname == "mod_python._apache":
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(), origin=_APACHE_FILE)
        if top not in _PACKAGES:
            return None
        if fullname == top:
            search = [RUNTIME_DIR]
        else:
            search = [os.path.join(RUNTIME_DIR, *fullname.split(".")[:-1])]
        return importlib.machinery.PathFinder.find_spec(fullname, search)


def install(remove_path: bool = True) -> None:
    """Installs RuntimeFinder (once) and, unless remove_path is false (the
    tests), takes RUNTIME_DIR off sys.path."""
    if not any(isinstance(f, RuntimeFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, RuntimeFinder())
    if not remove_path:
        return
    here = os.path.normcase(os.path.realpath(RUNTIME_DIR))
    sys.path[:] = [p for p in sys.path
                   if os.path.normcase(os.path.realpath(p or os.curdir)) != here]


def main() -> int:
    """Installs the hook and runs the worker; returns its exit code."""
    install()
    from mpgate import worker
    return worker.main()


if __name__ == "__main__":
    sys.exit(main())
