# api phase of make bench (issue 5): a multipart upload read with util.FieldStorage.
# Writes the size and MD5 of the part named "file", read back from its file object in 64 KB
# reads (as a handler saving an upload would), never whole into memory.
import hashlib

from mod_python import apache, util


def handler(req):
    form = util.FieldStorage(req)
    part = form['file']
    part.file.seek(0)
    md5 = hashlib.md5()
    size = 0
    while True:
        chunk = part.file.read(65536)
        if not chunk:
            break
        md5.update(chunk)
        size += len(chunk)
    req.content_type = 'text/plain'
    req.write('%s %d %s\n' % (part.filename, size, md5.hexdigest()))
    return apache.OK
