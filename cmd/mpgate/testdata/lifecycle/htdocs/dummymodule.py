# mod_python's test/htdocs/dummymodule.py (grisha/mod_python, Apache-2.0), verbatim: imported by
# the two PythonImports of test_import.

from mod_python import apache

apache.log_error("dummymodule / %s" % apache.interpreter)

def function():
    apache.log_error("dummymodule::function / %s" % apache.interpreter)
    apache.main_server.get_options()["dummymodule::function"] = "1"
