# Named by a PythonImport inside <VirtualHost>, which mod_python never runs.

from mod_python import apache

apache.main_server.get_options()["lcvhostonly"] = "imported"
apache.log_error("lcvhostonly imported")
