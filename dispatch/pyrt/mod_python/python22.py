"""mod_python.python22: compatibility shims mod_python kept for Python 2.2.

Handlers written for mod_python (its own test handlers among them) still do
``from mod_python.python22 import *``; under Python 3 there is nothing to
shim, so the module only has to exist.
"""
