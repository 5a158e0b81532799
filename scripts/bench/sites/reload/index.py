# Reload-latency handler (scripts/bench.sh, import phase): writes the VERSION of
# its sibling module dep.py, which reloadbench rewrites by atomic rename.
import dep
from mod_python import apache


def handler(req):
    req.content_type = 'text/plain'
    req.write('VERSION %d\n' % dep.VERSION)
    return apache.OK
