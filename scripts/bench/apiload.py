#!/usr/bin/python3
"""apiload.py: the request bodies, answer checks and upload memory of the api phase of
scripts/bench.sh (issue 5: mod_python.publisher, mod_python.psp, util.FieldStorage uploads,
10 MiB downloads), for one system serving the sites scripts/bench/sites/api-*.

Commands:
  apiload.py blob OUT
      the 10 MiB download (bytes 0..255 repeated) that api-download writes in 64 KiB
      req.write() calls, written to OUT for api-sendfile's req.sendfile().
  apiload.py body MIB OUT
      a multipart/form-data body of a text field `note` and a file part `file` (filename
      blob.bin) of MIB MiB of pseudo-random bytes, into OUT; OUT.meta (JSON) holds the
      boundary, the file part's size and MD5, and the answer the upload handler must give.
  apiload.py check NAME BASE BODY
      one request to each case at BASE (http://127.0.0.1:PORT), the upload with BODY; TSV
      lines: name case status bytes md5 ok detail (ok: the answer is what the handler must
      give: "Hello world", 100 table rows, the upload's size and MD5, 10 MiB of the pattern).
  apiload.py hwm NAME WORKDIR BASE N BODY...
      first a warm-up: WARM_CONNS (8) uploads of the first BODY at once, twice, so that every
      process that will handle an upload has run the handler once (imports done); then for
      each BODY (smallest first: memory a smaller upload left behind cannot hide a larger
      one's growth) the system's processes (scripts/bench/procs.py's roles) have their peak
      RSS (VmHWM) reset to their current RSS (/proc/PID/clear_refs, 5), N uploads of BODY are
      made one after the other (each answer checked), and VmHWM is read again; TSV lines:
        name mib role procs rss_kb hwm_kb growth_kb pid reset failed
      rss_kb: the largest RSS before, hwm_kb: the largest peak after, growth_kb: the largest
      peak-minus-before of one process (a process started meanwhile counts its whole peak), pid
      that process; reset: 1 if every reset worked (otherwise growth is against the peak before
      the uploads); failed: uploads whose answer was wrong.
"""
import hashlib
import http.client
import json
import os
import random
import sys
import threading
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procs  # noqa: E402  (scripts/bench/procs.py: a system's processes by role)

MIB = 1 << 20
WARM_CONNS = 8
CHUNK = bytes(range(256)) * 256  # 64 KiB, as api-download/download.py
DOWNLOAD = len(CHUNK) * 160
CASES = {  # case -> path under BASE
    "publisher": "/api-pub/hello.py",
    "psp": "/api-psp/rows.psp",
    "upload": "/api-upload/upload",
    "download": "/api-download/download",
    "sendfile": "/api-sendfile/sendfile",
}


def download_md5():
    h = hashlib.md5()
    for _ in range(160):
        h.update(CHUNK)
    return h.hexdigest()


def cmd_blob(out):
    with open(out, "wb") as f:
        for _ in range(160):
            f.write(CHUNK)


def cmd_body(mib, out):
    rnd = random.Random(mib)
    boundary = "----mpgateapibench%016x" % rnd.getrandbits(64)
    md5 = hashlib.md5()
    with open(out, "wb") as f:
        f.write((f"--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n"
                 f"api bench, {mib} MiB\r\n"
                 f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob.bin\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode())
        for _ in range(mib):
            b = rnd.randbytes(MIB)
            md5.update(b)
            f.write(b)
        f.write(f"\r\n--{boundary}--\r\n".encode())
    meta = {"boundary": boundary, "size": mib * MIB, "md5": md5.hexdigest(),
            "answer": f"blob.bin {mib * MIB} {md5.hexdigest()}\n"}
    with open(out + ".meta", "w") as f:
        json.dump(meta, f)


def request(base, method, path, body=None, meta=None, timeout=120):
    """(status, body bytes, error string) of one request; an upload streams BODY from its file."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout, blocksize=65536)
    try:
        if body is None:
            conn.request(method, path)
        else:
            with open(body, "rb") as f:
                conn.request(method, path, body=f, headers={
                    "Content-Type": f"multipart/form-data; boundary={meta['boundary']}",
                    "Content-Length": str(os.path.getsize(body))})
        r = conn.getresponse()
        return r.status, r.read(), ""
    except (OSError, http.client.HTTPException) as e:
        return 0, b"", f"{type(e).__name__}: {e}"
    finally:
        conn.close()


def load_meta(body):
    with open(body + ".meta") as f:
        return json.load(f)


def judge(case, status, data, meta):
    """(ok, detail) of one answer."""
    if status != 200:
        return False, f"status {status}: {data[:200]!r}"
    if case == "publisher":
        return data == b"Hello world\n", repr(data[:60])
    if case == "psp":
        rows = data.count(b"<tr>")
        ok = rows == 100 and b"<td>99</td><td>9801</td><td>row-099</td>" in data
        return ok, f"{rows} rows"
    if case == "upload":
        return data.decode(errors="replace") == meta["answer"], repr(data[:80])
    if case in ("download", "sendfile"):
        ok = len(data) == DOWNLOAD and hashlib.md5(data).hexdigest() == download_md5()
        return ok, f"{len(data)} bytes"
    return False, "unknown case"


def cmd_check(name, base, body):
    meta = load_meta(body)
    bad = 0
    for case, path in CASES.items():
        if case == "upload":
            status, data, err = request(base, "POST", path, body, meta)
        else:
            status, data, err = request(base, "GET", path)
        ok, detail = judge(case, status, data, meta)
        if err:
            detail = err
        bad += not ok
        detail = detail.replace("\t", " ").replace("\n", " ")
        print(f"{name}\t{case}\t{status}\t{len(data)}\t{hashlib.md5(data).hexdigest()}\t{int(ok)}\t{detail}")
    return 1 if bad else 0


def status_kb(pid, key):
    b = procs.read(f"/proc/{pid}/status")
    if b is None:
        return None
    for line in b.decode().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def upload(name, base, body, meta):
    """One upload of body; whether its answer was right (a wrong one is logged on stderr)."""
    status, data, err = request(base, "POST", CASES["upload"], body, meta)
    ok, detail = judge("upload", status, data, meta)
    if not ok:
        sys.stderr.write(f"apiload: {name}: upload of {meta['size'] // MIB} MiB: {err or detail}\n")
    return ok


def cmd_hwm(name, work, base, n, bodies):
    metas = [load_meta(b) for b in bodies]
    for _ in range(2):
        threads = [threading.Thread(target=upload, args=(name, base, bodies[0], metas[0]))
                   for _ in range(WARM_CONNS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for body, meta in zip(bodies, metas):
        hwm_one(name, work, base, n, body, meta)
    return 0


def hwm_one(name, work, base, n, body, meta):
    tab = procs.table()
    before = {}
    reset = 1
    for p in procs.members(work, tab):
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            reset = 0
        rss = status_kb(p, "VmRSS")
        if rss is not None:
            before[p] = (tab[p][2], rss)
    failed = sum(not upload(name, base, body, meta) for _ in range(n))
    tab = procs.table()
    agg = {}
    for p, ro in procs.members(work, tab).items():
        hwm = status_kb(p, "VmHWM")
        if hwm is None:
            continue
        rss0 = before[p][1] if p in before and before[p][0] == tab[p][2] else 0
        a = agg.setdefault(ro, {"procs": 0, "rss": 0, "hwm": 0, "growth": -1, "pid": 0})
        a["procs"] += 1
        a["rss"] = max(a["rss"], rss0)
        a["hwm"] = max(a["hwm"], hwm)
        if hwm - rss0 > a["growth"]:
            a["growth"], a["pid"] = hwm - rss0, p
    mib = meta["size"] // MIB
    for ro in sorted(agg):
        a = agg[ro]
        print(f"{name}\t{mib}\t{ro}\t{a['procs']}\t{a['rss']}\t{a['hwm']}\t{a['growth']}\t{a['pid']}\t{reset}\t{failed}")


def main():
    a = sys.argv[1:]
    if len(a) == 2 and a[0] == "blob":
        cmd_blob(a[1])
    elif len(a) == 3 and a[0] == "body":
        cmd_body(int(a[1]), a[2])
    elif len(a) == 4 and a[0] == "check":
        sys.exit(cmd_check(a[1], a[2], a[3]))
    elif len(a) >= 6 and a[0] == "hwm":
        sys.exit(cmd_hwm(a[1], a[2], a[3], int(a[4]), a[5:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
