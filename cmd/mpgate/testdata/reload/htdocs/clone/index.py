import os
from mod_python import apache

# mod_python 3.3's hook: the old module copies its state into the new one
# before the new code runs.
if "state" not in globals():
    state = {"hits": 0}

def __mp_clone__(module):
    module.state = state

VERSION = 1

def handler(req):
    state["hits"] += 1
    req.content_type = "text/plain"
    req.write("clone %d %d %d" % (os.getpid(), VERSION, state["hits"]))
    return apache.OK
