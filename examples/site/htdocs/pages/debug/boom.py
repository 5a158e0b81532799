"""The /pages/debug/*.py handler (PythonHandler boom): it raises on purpose.

With PythonDebug On, mod_python answers 500 with the traceback in the page instead of Apache's
plain error page. The section's PythonOptions override (section) and mask (color) the outer ones.
"""


def handler(req):
    """Raise, after looking at the options, so that the traceback shows them."""
    options = req.get_options()
    raise ValueError("boom: this handler raises on purpose (section=%r, color=%r)"
                     % (options.get("section"), options.get("color")))
