"""Reads mod_python sessions for `mpgate sessions import`.

Usage: python3 read_modpython_sessions.py files|dbm PATH
       python3 read_modpython_sessions.py repr   (a stored pickle on stdin)

Writes one JSON object per session to stdout:
  {"id", "data" (base64 of the stored pickle, unchanged), "created", "accessed", "timeout"}
and a last line {"summary": {"read", "skipped"}}; problems go to stderr, one line each.

FileSession keeps one pickle per session in PATH/XX/<sid> (PATH being the
mp_sess directory, or its parent); DbmSession keeps sid -> pickle in a dbm
file (PATH, with or without the dbm module's own suffix). Each value is the
pickle of {"_data", "_created", "_accessed", "_timeout"} that mod_python's
BaseSession.save wrote. Only those three numbers are read here, with an
unpickler that resolves every class to an inert stand-in: no code of the
site (or anything else) runs, and the pickle is passed on byte for byte.
"""

import base64
import dbm
import json
import os
import pickle
import re
import sys

SID = re.compile(r"^[0-9a-f]{32}$")


class _Inert:
    """Stands for any class a session's data refers to."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __call__(self, *args, **kwargs):
        return _Inert()


class _MetaUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        return _Inert

    def persistent_load(self, pid):
        return None


def meta(blob):
    """Returns (created, accessed, timeout) of a stored session dict."""
    d = _MetaUnpickler(__import__("io").BytesIO(blob), encoding="latin-1").load()
    if not isinstance(d, dict):
        raise ValueError("not a session dict")
    return float(d["_created"]), float(d["_accessed"]), int(d["_timeout"])


def emit(sid, blob, counts):
    try:
        created, accessed, timeout = meta(blob)
    except Exception as e:  # noqa: BLE001 (a broken record is reported and skipped)
        print("session %s: unreadable: %s: %s" % (sid, type(e).__name__, e), file=sys.stderr)
        counts["skipped"] += 1
        return
    print(json.dumps({"id": sid, "data": base64.b64encode(blob).decode("ascii"),
                      "created": created, "accessed": accessed, "timeout": timeout}))
    counts["read"] += 1


def read_files(path, counts):
    if os.path.isdir(os.path.join(path, "mp_sess")):
        path = os.path.join(path, "mp_sess")
    for sub in sorted(os.listdir(path)):
        d = os.path.join(path, sub)
        if not (len(sub) == 2 and os.path.isdir(d)):
            continue
        for sid in sorted(os.listdir(d)):
            if not SID.match(sid) or sid[:2] != sub:
                continue
            with open(os.path.join(d, sid), "rb") as f:
                emit(sid, f.read(), counts)


def read_dbm(path, counts):
    db = dbm.open(path, "r")
    try:
        for key in sorted(db.keys()):
            sid = key.decode("latin-1") if isinstance(key, bytes) else key
            if not SID.match(sid):
                print("key %r: not a session id; skipped" % sid, file=sys.stderr)
                counts["skipped"] += 1
                continue
            emit(sid, db[key], counts)
    finally:
        db.close()


def show():
    """Prints the session data of the pickle on stdin, every class shown as
    its module.name (nothing of the site runs)."""

    class Named(_Inert):
        pass

    class Unpickler(_MetaUnpickler):
        def find_class(self, module, name):
            return type("%s.%s" % (module, name), (Named,), {"__repr__": lambda self: "<%s.%s>" % (module, name)})

    d = Unpickler(sys.stdin.buffer, encoding="latin-1").load()
    print(repr(d.get("_data") if isinstance(d, dict) else d))
    return 0


def main():
    if sys.argv[1:] == ["repr"]:
        return show()
    if len(sys.argv) != 3 or sys.argv[1] not in ("files", "dbm"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    counts = {"read": 0, "skipped": 0}
    try:
        (read_files if sys.argv[1] == "files" else read_dbm)(sys.argv[2], counts)
    except (OSError, dbm.error) as e:
        print("%s: %s" % (sys.argv[2], e), file=sys.stderr)
        return 1
    print(json.dumps({"summary": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
