"""Tests of mpgate's embedded Python runtime (unittest, standard library only).

Run from dispatch/pyrt: ``/usr/bin/python3 -m unittest discover -s tests -t .``.
Importing this package installs the runtime's import hook in the test process,
as bootstrap.py does in a worker, so that ``_apache`` and this directory's
``mod_python`` are the ones imported.
"""

import os
import sys

_PYRT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _PYRT not in sys.path:
    sys.path.insert(0, _PYRT)

import bootstrap  # noqa: E402

bootstrap.install(remove_path=False)
