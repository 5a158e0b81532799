"""mod_python 3.5's Python API as served by mpgate's workers.

The worker's import hook (bootstrap.py) serves this package from mpgate's own
runtime directory, ahead of any mod_python on sys.path, so handlers written
for mod_python 3.5 import it unchanged (``from mod_python import apache``).
Of the library modules, Cookie and Session are provided (sessions are kept
by the daemon); util, publisher and psp are not yet.
"""

__all__ = ["apache", "cgihandler", "psp",
           "publisher", "util", "python22", "version"]

from . import version

mp_version = version.version

from . import apache  # noqa: E402  (mod_python imports it here too)
