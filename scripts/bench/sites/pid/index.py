# `mpgate reload` handler (scripts/bench.sh, import phase): writes the pid of the
# worker that served the request, so the client sees when every worker is new.
import os

from mod_python import apache


def handler(req):
    req.content_type = 'text/plain'
    req.write('%d\n' % os.getpid())
    return apache.OK
