# api phase of make bench (issue 5): a 10 MiB download, written in 64 KiB req.write() calls.
from mod_python import apache

CHUNK = bytes(range(256)) * 256  # 64 KiB
COUNT = 160  # 10 MiB


def handler(req):
    req.content_type = 'application/octet-stream'
    req.headers_out['Content-Length'] = str(len(CHUNK) * COUNT)
    for _ in range(COUNT):
        req.write(CHUNK)
    return apache.OK
