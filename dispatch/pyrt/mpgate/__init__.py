"""mpgate's embedded Python runtime: the worker process that runs unchanged
mod_python 3.5 handlers for the daemon (dispatch/*.go).

proto mirrors the worker wire of dispatch/proto.go; worker is the process's
loop; request emulates mod_python's request, connection and server objects.
bootstrap.py (beside this package) starts it.
"""
