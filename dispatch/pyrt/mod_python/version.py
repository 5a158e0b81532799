"""Version of the mod_python API that mpgate's workers provide.

mod_python generates this file at build time (grisha/mod_python:
dist/version.sh); code compares mod_python.version.version with "3.3" and the
like, so it keeps 3.5.0's shape.
"""

version = "3.5.0+mpgate"

# Build-time constants of mod_python's setup.py; unknown to mpgate.
HTTPD = ""
HTTPD_VERSION = ""
APR_VERSION = ""
LIBEXECDIR = ""
SYSCONFDIR = ""
PYTHON_BIN = "/usr/bin/python3"
