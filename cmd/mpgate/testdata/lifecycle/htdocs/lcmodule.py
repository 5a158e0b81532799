# mpgate's PythonImport cases: lcmodule::init records the interpreter it ran in, in the main
# server's options (one table per process under mpgate, one per Apache child, shared by its
# interpreters, under mod_python: hence one key per interpreter); LOADS proves the module ran once
# per interpreter; lcmodule::boom raises.

from mod_python import apache

LOADS = []
LOADS.append(apache.interpreter)
apache.log_error("lcmodule loaded / %s" % apache.interpreter)


def init():
    apache.main_server.get_options()["lcmodule::init/" + apache.interpreter] = "1"
    apache.log_error("lcmodule::init / %s" % apache.interpreter)


def boom():
    raise RuntimeError("lcmodule::boom fails on purpose")
