# Handlers of the worker life-cycle suite (lifecycle_test.go). The functions under "mod_python's
# own" are those of grisha/mod_python test/htdocs/tests.py (Apache-2.0), verbatim; the rest are
# mpgate's own cases (lifecycle, one part per query).

import os
import sys

from mod_python import apache


# -- mod_python's own --------------------------------------------------------------------------


def server_cleanup(data):
    # for srv_register_cleanup and apache_register_cleanup below

    apache.log_error(data)


def srv_register_cleanup(req):

    req.server.register_cleanup(req, server_cleanup, "srv_register_cleanup test ok")
    req.write("registered server cleanup that will write to log")

    return apache.OK


def apache_register_cleanup(req):

    apache.register_cleanup(server_cleanup, "apache_register_cleanup test ok")
    req.write("registered server cleanup that will write to log")

    return apache.OK


def apache_exists_config_define(req):
    if apache.exists_config_define('FOOBAR'):
        req.write('FOOBAR')
    else:
        req.write('NO_FOOBAR')
    return apache.OK


def import_test(req):

    import sys, os
    directory = os.path.dirname(__file__)
    assert([os.path.normpath(d) for d in sys.path].count(directory) == 1)
    if "dummymodule" in sys.modules:
        if "dummymodule::function" not in apache.main_server.get_options():
            req.log_error("dummymodule::function not executed")
            req.write("test failed")
        else:
            req.write("test ok")
    else:
        req.log_error("dummymodule not found in sys.modules")
        req.write("test failed")

    return apache.OK


# -- mpgate's own ------------------------------------------------------------------------------


def lifecycle(req):
    what = req.args or ""
    out = []

    def show(name, value):
        out.append("%s = %r" % (name, value))

    if what == "imports":
        _imports(req, show)
    elif what == "defines":
        _defines(req, show)
    elif what == "cleanups":
        _cleanups(req, show)
    else:
        show("unknown part", what)
    req.content_type = "text/plain"
    req.write("\n".join(out) + "\n")
    return apache.OK


def _imports(req, show):
    # What the PythonImports of this interpreter ("lifecycle") left behind: they ran once, in
    # the reverse of the file's order, before this request; the failing ones did not stop the
    # others; the one inside <VirtualHost> never ran; a handler's import gets the module the
    # PythonImport loaded.
    import lcorder
    import lcmodule
    show("lcorder.CALLS", lcorder.CALLS)
    show("lcmodule.LOADS", lcmodule.LOADS)
    opts = apache.main_server.get_options()
    for key in ("lcmodule::init/lifecycle", "lcvhostonly"):
        show("main_server option %s" % key, opts.get(key))
    directory = os.path.dirname(__file__)
    show("docroot entries in sys.path", [os.path.normpath(d) for d in sys.path].count(directory))
    show("apache.interpreter", apache.interpreter)


def _defines(req, show):
    # apache.exists_config_define answers from the names defined once the configuration is read:
    # -D, Define (with or without a value), less UnDefine; MPGATE is mpgate's own, never Apache's.
    for name in ("FOOBAR", "LIFECYCLE_GONE", "LIFECYCLE_VALUE", "MPGATE", "lifecycle_value", ""):
        show("exists_config_define(%r)" % name, apache.exists_config_define(name))
    for bad in (None, 1, b"FOOBAR"):
        try:
            apache.exists_config_define(bad)
        except Exception as e:
            show("exists_config_define(%r)" % (bad,), "%s: %s" % (type(e).__name__, e))


def _failing_cleanup(data):
    raise RuntimeError("lifecycle cleanup fails on purpose: %s" % data)


def _logging_cleanup(data):
    apache.log_error("lifecycle cleanup ran: %s" % data)


def _cleanups(req, show):
    # Cleanups that run when the child (the worker) stops: last registered first; one that
    # raises is logged by python_cleanup and the others still run. Bad arguments are refused.
    apache.register_cleanup(_logging_cleanup, "first registered")
    apache.register_cleanup(_failing_cleanup, "apache.register_cleanup")
    req.server.register_cleanup(req, _logging_cleanup, "second registered")
    for args in ((None, _logging_cleanup), (req, None), (req, "not callable")):
        try:
            req.server.register_cleanup(*args)
        except Exception as e:
            show("server.register_cleanup%r" % (tuple(type(a).__name__ for a in args),),
                 "%s: %s" % (type(e).__name__, e))
    for args in ((None,), ("not callable",)):
        try:
            apache.register_cleanup(*args)
        except Exception as e:
            show("apache.register_cleanup%r" % (tuple(type(a).__name__ for a in args),),
                 "%s: %s" % (type(e).__name__, e))
    show("registered", True)
