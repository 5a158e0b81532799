import time

VALUE = "v1"
LOADED = repr(time.time())
