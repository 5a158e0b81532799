"""mod_python.wsgi for mpgate: the PEP 3333 gateway handler (mod_python.md
§5.7). Adapted from grisha/mod_python: lib/python/mod_python/wsgi.py (3.5,
Apache License 2.0, Gregory Trubetskoy).

Configuration, as in mod_python 3.5::

    <Location /app>
        SetHandler mod_python
        PythonHandler mod_python.wsgi
        PythonOption mod_python.wsgi.application mymodule::application
    </Location>

PythonOption mod_python.wsgi.application names the application: "module"
(callable "application") or "module::callable", imported with
apache.import_module (PythonAutoReload and PythonDebug of the section
apply). An unset option fails the request (KeyError, 500); a module without
the callable logs a warning and declines. The environ comes from
req.build_wsgi_env(): SCRIPT_NAME is the base URI (PythonOption
mod_python.wsgi.base_uri, else the <Location> path without its trailing
"/", else ""), PATH_INFO the rest of the URI; a request whose URI does not
start with base_uri logs a warning and declines. start_response is
req.wsgi_start_response; each item the application returns is written and
flushed as it comes (a large iterable is never held in memory), and the
result's close() is called unless it is a list or tuple.

Differences from mod_python 3.5, each made in mpgate.request:
  * the status given to start_response is sent (3.5 sends 200 whatever the
    application says, grisha/mod_python#53);
  * start_response(status, headers, None) is start_response(status,
    headers), as PEP 3333 says (3.5 raises SystemError).
As in 3.5, items of the iterable that are str are written UTF-8 encoded
(req.write); other non-bytes items fail the request with req.write's
TypeError, logged with the traceback.
"""

from typing import Any

from mod_python import apache


def handler(req: Any) -> int:
    """Runs the WSGI application of PythonOption mod_python.wsgi.application
    for req."""
    options = req.get_options()

    # Find the application callable.
    app = None
    app_str = options["mod_python.wsgi.application"]
    if app_str:
        if "::" in app_str:
            mod_str, callable_str = app_str.split("::", 1)
        else:
            mod_str, callable_str = app_str, "application"
        config = req.get_config()
        autoreload, log = True, False
        if "PythonAutoReload" in config:
            autoreload = config["PythonAutoReload"] == "1"
        if "PythonDebug" in config:
            log = config["PythonDebug"] == "1"
        module = apache.import_module(mod_str, autoreload=autoreload, log=log)

        try:
            app = module.__dict__[callable_str]
        except KeyError:
            pass

    if not app:
        req.log_error(
            "WSGI handler: mod_python.wsgi.application (%s) not found, declining."
            % repr(app_str), apache.APLOG_WARNING)
        return apache.DECLINED

    # Build the environ.
    env = req.build_wsgi_env()
    if env is None:
        # None means a base_uri mismatch: with a <Location> alone the
        # request could not have come here, so it is mod_python.wsgi.base_uri.
        base_uri = options.get("mod_python.wsgi.base_uri")
        req.log_error(
            "WSGI handler: req.uri (%s) does not start with mod_python.wsgi.base_uri (%s), declining."
            % (repr(req.uri), repr(base_uri)), apache.APLOG_WARNING)
        return apache.DECLINED

    # Run the application.
    response = None
    try:
        response = app(env, req.wsgi_start_response)
        for token in response:
            req.write(token)
    finally:
        # call close() if there is one
        if type(response) not in (list, tuple):
            getattr(response, "close", lambda: None)()

    return apache.OK
