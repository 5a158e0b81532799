"""Pickling of objects whose classes (or functions) are defined in site
modules, which are not in sys.modules (mpgate.importer).

install() replaces pickle.Pickler/dump/dumps and pickle.Unpickler/load/loads
(the pickle module's attributes; copyreg is untouched) at worker start,
before any site code runs, so sessions and site code pickle through them:

  * Pickler.reducer_override writes a class or function of a site module as
    a call site_object(file, qualname, module name): two index.Foo of two
    directories are never confused. Instances of site classes pickle as
    usual; their class goes through the hook.
  * site_object loads (or reuses) the module of file, reloading it when it
    is stale and autoreload is on, so an instance pickled before a reload
    comes back as an instance of the new class; when the file is gone the
    bare module name is resolved through the request's search order.
  * Unpickler.find_class resolves a bare module name in older data (e.g.
    "index.Foo" written by mod_python) through the request's search order
    (the handler's directory, mod_python.importer.path, sys.path) first when
    it names a site module, else as pickle does.

The name mpgate.sitepickle.site_object is written into pickles: it is a
stored format and must not change.
"""

import io
import pickle
import sys
import types
from typing import Any, Optional

from . import importer

_Pickler = pickle.Pickler
_Unpickler = pickle.Unpickler


def site_object(file: str, qualname: str, module_name: str) -> Any:
    """Returns the object qualname of the site module file (see the module
    docstring); called by unpickling."""
    module = importer.load_for_pickle(file, module_name)
    return importer.get_qualname(module, qualname)


class Pickler(_Pickler):  # type: ignore[valid-type,misc]
    """pickle.Pickler that writes site classes and functions by file."""

    def reducer_override(self, obj: Any) -> Any:
        """Returns the reduction of a site class or function; NotImplemented
        for everything else (pickled as usual)."""
        if isinstance(obj, type) or obj.__class__ is types.FunctionType:
            ref = importer.site_reference(obj)
            if ref is not None:
                return (site_object, ref)
        return NotImplemented


class Unpickler(_Unpickler):  # type: ignore[valid-type,misc]
    """pickle.Unpickler that finds bare module names of site modules."""

    def find_class(self, module: str, name: str) -> Any:
        """Returns module.name, module being resolved as a site module
        first (mpgate.importer.resolve_for_pickle)."""
        site = None  # type: Optional[types.ModuleType]
        if isinstance(module, str) and isinstance(name, str):
            site = importer.resolve_for_pickle(module)
        if site is None:
            return super().find_class(module, name)
        sys.audit("pickle.find_class", module, name)
        return importer.get_qualname(site, name)


def dump(obj: Any, file: Any, protocol: Optional[int] = None, *, fix_imports: bool = True,
         buffer_callback: Any = None) -> None:
    """pickle.dump through Pickler."""
    Pickler(file, protocol, fix_imports=fix_imports, buffer_callback=buffer_callback).dump(obj)


def dumps(obj: Any, protocol: Optional[int] = None, *, fix_imports: bool = True,
          buffer_callback: Any = None) -> bytes:
    """pickle.dumps through Pickler."""
    f = io.BytesIO()
    Pickler(f, protocol, fix_imports=fix_imports, buffer_callback=buffer_callback).dump(obj)
    return f.getvalue()


def load(file: Any, *, fix_imports: bool = True, encoding: str = "ASCII", errors: str = "strict",
         buffers: Any = None) -> Any:
    """pickle.load through Unpickler."""
    return Unpickler(file, fix_imports=fix_imports, encoding=encoding, errors=errors, buffers=buffers).load()


def loads(data: Any, *, fix_imports: bool = True, encoding: str = "ASCII", errors: str = "strict",
          buffers: Any = None) -> Any:
    """pickle.loads through Unpickler."""
    if isinstance(data, str):
        raise TypeError("Can't load pickle from unicode string")
    f = io.BytesIO(data)
    return Unpickler(f, fix_imports=fix_imports, encoding=encoding, errors=errors, buffers=buffers).load()


def install() -> None:
    """Replaces the pickle module's Pickler, Unpickler, dump, dumps, load
    and loads with this module's."""
    pickle.Pickler = Pickler  # type: ignore[misc]
    pickle.Unpickler = Unpickler  # type: ignore[misc]
    pickle.dump = dump
    pickle.dumps = dumps
    pickle.load = load
    pickle.loads = loads
