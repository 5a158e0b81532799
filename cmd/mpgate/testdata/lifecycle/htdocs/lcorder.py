# PythonImport lcorder::first and lcorder::second: the order the functions are called in.

CALLS = []


def first():
    CALLS.append("first")


def second():
    CALLS.append("second")
