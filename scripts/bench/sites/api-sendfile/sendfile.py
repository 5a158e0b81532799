# api phase of make bench (issue 5): a 10 MiB download by req.sendfile() of blob.bin, which
# scripts/bench.sh writes beside this file (the same bytes as api-download's).
import os

from mod_python import apache

BLOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'blob.bin')


def handler(req):
    req.content_type = 'application/octet-stream'
    req.headers_out['Content-Length'] = str(os.path.getsize(BLOB))
    req.sendfile(BLOB)
    return apache.OK
