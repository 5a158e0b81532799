from . import util

def describe():
    return "sub sees " + util.VALUE
