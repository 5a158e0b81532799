"""mod_python 3.5's Python API as served by mpgate's workers.

The worker's import hook (bootstrap.py) serves this package from mpgate's own
runtime directory, ahead of any mod_python on sys.path, so handlers written
for mod_python 3.5 import it unchanged (``from mod_python import apache``).
All of mod_python 3.5's library modules are provided (Session's storage is
the daemon's; psp's parser is pure Python, _psp.py).
"""

__all__ = ["apache", "cgihandler", "psp",
           "publisher", "util", "python22", "version"]

from . import version

mp_version = version.version

from . import apache  # noqa: E402  (mod_python imports it here too)
