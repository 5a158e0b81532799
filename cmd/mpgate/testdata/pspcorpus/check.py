"""Differential check of mpgate's PSP parser (dispatch/pyrt/mod_python/_psp.py)
against Debian's C module (mod_python/_psp.cpython-*.so), run by
TestPSPParser (cmd/mpgate/psp_test.go).

Both modules get the same inputs -- the hand-written corpus (a directory of
*.psp files, with the files they include under inc/) and generated random
inputs (a deterministic seed; random mixes of PSP's tokens, whitespace,
newlines, quotes and backslashes) -- through parsestring() and through
parse(name, dir) with includes, and must return the same code, or raise the
same exceptions (type, message, cause and context chain), byte for byte.

The corpus directory also holds golden.json, the C module's answers for the
hand-written corpus, which the Python unit tests (tests/test_psp.py) check
without the C module: --update (go test ./cmd/mpgate -run TestPSPParser
-psp-update) rewrites it, otherwise it must be current.

Inputs the C module cannot survive are not generated (mod_python.md §5.5,
docs/compat.md): an include in parsestring() aborts the process, an
absolute include with a dir segfaults, an include of a directory exits.

Usage: check.py --real SO --ours PY --corpus DIR [--random N] [--seed S] [--update]
Prints a summary line ("corpus: ..., random: ...") and every mismatch;
exits 1 when there is one.
"""

import argparse
import importlib.machinery
import importlib.util
import json
import multiprocessing
import os
import random
import re
import shutil
import sys
import tempfile
from typing import Any, Dict, List, Optional, Tuple


def load(name: str, path: str) -> Any:
    """Loads the module file path (an extension module or Python source)
    under name, outside sys.modules."""
    if path.endswith(".so"):
        loader = importlib.machinery.ExtensionFileLoader(name, path)  # type: Any
        spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    else:
        spec = importlib.util.spec_from_file_location(name, path)
        loader = spec.loader
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def describe(e: BaseException, dirs: List[str]) -> List[str]:
    """Returns e and the exceptions chained to it, one line each:
    "[cause|context] Type: message" (directories replaced by @DIR@)."""
    out = []  # type: List[str]
    seen = set()
    how = ""
    cur = e  # type: Optional[BaseException]
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        msg = "%s%s: %s" % (how, type(cur).__name__, cur)
        for d in dirs:
            msg = msg.replace(d, "@DIR@")
        out.append(msg)
        if cur.__cause__ is not None:
            cur, how = cur.__cause__, "cause "
        elif cur.__context__ is not None and not cur.__suppress_context__:
            cur, how = cur.__context__, "context "
        else:
            cur = None
    return out


def outcome(f: Any, args: Tuple[Any, ...], dirs: List[str]) -> Dict[str, Any]:
    """Calls f(*args): {"code": result} or {"error": describe(exception)}."""
    try:
        return {"code": f(*args)}
    except Exception as e:  # noqa: BLE001  (every exception is an outcome)
        return {"error": describe(e, dirs)}


class Oracle:
    """Debian's C module, run in a child process: its psp_string_0 writes
    the terminating NUL one byte past its buffer when the code fills it
    exactly (parsestring(b"a" * 3076) does), which may corrupt the heap and
    kill the process ("malloc(): mismatching next->prev_size") then or on a
    later, innocent input. A call whose child dies is asked again of a new
    child (a fresh heap); an input that kills two children in a row is one
    the C module cannot parse (mpgate's parser has no such buffer): it is
    counted, not compared."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.child = None  # type: Any
        self.conn = None  # type: Any
        self.restarts = 0

    def _start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        self.child = ctx.Process(target=_oracle_main, args=(self.path, child), daemon=True)
        self.child.start()
        child.close()
        self.conn = parent

    def _stop(self) -> None:
        if self.child is not None:
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.conn.close()
            self.child.join(timeout=10)
            if self.child.is_alive():
                self.child.kill()
                self.child.join()
            self.child = None

    def call(self, fname: str, args: Tuple[Any, ...], dirs: List[str]) -> Dict[str, Any]:
        """Returns outcome(real.<fname>, args, dirs), or {"crash": exit
        status} when the input kills two children."""
        for attempt in range(2):
            if self.child is None:
                self._start()
            try:
                self.conn.send((fname, args, dirs))
                return self.conn.recv()
            except (EOFError, OSError):
                self.child.join()
                code = self.child.exitcode
                self.child = None
                self.restarts += 1
        return {"crash": code}

    def close(self) -> None:
        self._stop()


def _oracle_main(path: str, conn: Any) -> None:
    """The oracle child: answers (function name, args, dirs) with outcomes."""
    real = load("_psp", path)
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        fname, args, dirs = msg
        before = set(os.listdir("/proc/self/fd"))
        result = outcome(getattr(real, fname), args, dirs)
        # the C module never closes an included file: close what it left
        # open, or the child runs out of descriptors
        for fd in set(os.listdir("/proc/self/fd")) - before:
            try:
                os.close(int(fd))
            except OSError:
                pass
        conn.send(result)


def has_include(src: bytes) -> bool:
    """Reports whether src may contain an include directive, which the C
    module's parsestring() cannot survive."""
    return b"include" in src


# ---------------------------------------------------------------------------
# The hand-written corpus


def corpus_cases(corpus: str) -> List[str]:
    """Returns the names of the corpus's top-level *.psp files, sorted."""
    return sorted(f for f in os.listdir(corpus) if f.endswith(".psp"))


def run_corpus(real: Oracle, ours: Any, corpus: str, update: bool) -> Tuple[int, int, List[str]]:
    """Compares both modules on the corpus and with golden.json; returns
    (parse cases, parsestring cases, mismatches)."""
    d = os.path.abspath(corpus) + "/"
    dirs = [d, d[:-1]]
    golden_path = os.path.join(corpus, "golden.json")
    golden = {}  # type: Dict[str, Any]
    if os.path.exists(golden_path):
        with open(golden_path) as f:
            golden = json.load(f)
    new = {}  # type: Dict[str, Any]
    bad = []  # type: List[str]
    n_parse = n_string = 0
    for name in corpus_cases(corpus):
        with open(os.path.join(corpus, name), "rb") as f:
            src = f.read()
        want = {"parse": real.call("parse", (name, d), dirs)}
        have = {"parse": outcome(ours.parse, (name, d), dirs)}
        n_parse += 1
        if not has_include(src):
            want["parsestring"] = real.call("parsestring", (src,), dirs)
            have["parsestring"] = outcome(ours.parsestring, (src,), dirs)
            n_string += 1
        for k in want:
            if "crash" in want[k]:
                bad.append("corpus %s %s: the C module crashes (%s): keep such inputs out of the corpus"
                           % (name, k, want[k]["crash"]))
            elif want[k] != have[k]:
                bad.append("corpus %s %s:\n  src  %r\n  want %r\n  have %r" % (name, k, src[:300], want[k], have[k]))
        new[name] = want
        if not update and golden.get(name) != want:
            bad.append("corpus %s: golden.json is stale (rerun with --update): has %r, the C module gives %r"
                       % (name, golden.get(name), want))
    if not update:
        for name in sorted(set(golden) - set(new)):
            bad.append("corpus: golden.json has %s, which is not in the corpus (rerun with --update)" % name)
    if update:
        with open(golden_path, "w") as f:
            json.dump(new, f, indent=1, sort_keys=True, ensure_ascii=True)
            f.write("\n")
    return n_parse, n_string, bad


# ---------------------------------------------------------------------------
# Random inputs

# TOKENS are the pieces random inputs are made of, with their weights.
TOKENS = [
    ("<%", 8), ("<%=", 5), ("%>", 10), ("<%--", 2), ("--%>", 2), ("<%@", 1),
    (" ", 10), ("  ", 4), ("    ", 3), ("\t", 5), ("\n", 12), ("\r", 3), ("\r\n", 5),
    ('"', 4), ('"""', 1), ("'", 2), ("\\", 3), ("\\n", 2), ("\\r", 1), ("\\t", 1), ("\\\\", 1),
    (":", 6), ("%", 2), ("<", 2), (">", 2), ("-", 2), ("=", 2), ("@", 1),
    ("x", 6), ("abc", 4), ("if x:", 4), ("for i in range(2):", 3), ("else:", 2), ("pass", 2),
    ("req.write('w')", 2), ("# c", 1), ("{'a': 1}", 1),
    ("\u00e9", 2), ("\u20ac", 1), ("\U0001f600", 1),
]
_WORDS = [t for t, _ in TOKENS]
_WEIGHTS = [w for _, w in TOKENS]


def random_src(rng: random.Random, n: int, extra: List[Tuple[bytes, int]]) -> bytes:
    """Returns n random tokens (plus the byte strings of extra, with their
    weights) joined."""
    words = [w.encode("utf-8") for w in _WORDS] + [e for e, _ in extra]
    weights = _WEIGHTS + [w for _, w in extra]
    return b"".join(rng.choices(words, weights, k=n))


def random_length(rng: random.Random) -> int:
    """Mostly short inputs, some long ones (past flex's 16 KB buffer)."""
    r = rng.random()
    if r < 0.01:
        return rng.randint(3000, 12000)
    if r < 0.2:
        return rng.randint(40, 300)
    return rng.randint(0, 40)


def run_random(real: Oracle, ours: Any, count: int, seed: int) -> Tuple[int, int, List[str], List[str]]:
    """Compares both modules on count random sources through parsestring()
    and count // 2 random page sets through parse(); returns (parsestring
    inputs, parse inputs, mismatches, inputs the C module crashed on)."""
    rng = random.Random(seed)
    bad = []  # type: List[str]
    crashes = []  # type: List[str]
    # rare bytes: invalid UTF-8 and NUL (parsestring stops at a NUL)
    rare = [(b"\xff", 1), (b"\xc3", 1), (b"\0", 1)]
    for i in range(count):
        src = random_src(rng, random_length(rng), rare)
        want = real.call("parsestring", (src,), [])
        have = outcome(ours.parsestring, (src,), [])
        if "crash" in want:
            crashes.append("random parsestring #%d" % i)
        elif want != have:
            bad.append("random parsestring #%d (seed %d):\n  src  %r\n  want %r\n  have %r" % (i, seed, src, want, have))

    n_pages = count // 2
    tmp = tempfile.mkdtemp(prefix="pspcheck-")
    try:
        for i in range(n_pages):
            d = os.path.join(tmp, str(i)) + "/"
            os.makedirs(d + "sub")
            # include files: inc<k> may include inc<j> for j > k only (no
            # cycles), and names that do not exist
            names = ["inc0.psp", "inc1.psp", "sub/inc2.psp", "inc3.psp"]
            files = {}  # type: Dict[str, bytes]
            for k in range(len(names) - 1, -1, -1):
                later = names[k + 1:] + ["missing.psp"]
                inc = [(b'<%@ include file="' + n.encode() + b'" %>', 2) for n in later]
                inc += [(b'include file="' + n.encode() + b'"', 1) for n in later]
                files[names[k]] = random_src(rng, random_length(rng) // 2, rare + inc)
            inc = [(b'<%@ include file="' + n.encode() + b'" %>', 3) for n in names + ["missing.psp"]]
            inc += [(b'<%@include file="' + rng.choice(names).encode() + b'"%>', 1),
                    (b'include file="' + rng.choice(names).encode() + b'"', 1)]
            files["page.psp"] = random_src(rng, random_length(rng), rare + inc)
            for n, b in files.items():
                with open(d + n, "wb") as f:
                    f.write(b)
            dirs = [d, d[:-1]]
            want = real.call("parse", ("page.psp", d), dirs)
            have = outcome(ours.parse, ("page.psp", d), dirs)
            if "crash" in want:
                crashes.append("random parse #%d" % i)
            elif want != have:
                bad.append("random parse #%d (seed %d):\n  files %r\n  want %r\n  have %r" % (i, seed, files, want, have))
            shutil.rmtree(d)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return count, n_pages, bad, crashes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", required=True, help="Debian's _psp extension module")
    ap.add_argument("--ours", required=True, help="mpgate's _psp.py")
    ap.add_argument("--corpus", required=True, help="the hand-written corpus directory")
    ap.add_argument("--random", type=int, default=2000, help="random parsestring inputs (half as many parse page sets)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--update", action="store_true", help="rewrite the corpus's golden.json")
    a = ap.parse_args()

    # flex echoes comment and directive text to the process's stdout: keep
    # the report apart from it.
    report = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)

    real = Oracle(a.real)
    ours = load("mpgate_psp", a.ours)
    try:
        n_parse, n_string, bad = run_corpus(real, ours, a.corpus, a.update)
        r_string, r_parse, bad2, crashes = run_random(real, ours, a.random, a.seed)
    finally:
        real.close()
    bad += bad2
    # a crash is the C module's own failure, but a generator that makes
    # many would compare little
    if len(crashes) > (r_string + r_parse) // 100:
        bad.append("the C module crashed on %d of %d random inputs: %s" % (len(crashes), r_string + r_parse, crashes))
    report.write("corpus: %d parse, %d parsestring; random (seed %d): %d parsestring, %d parse; "
                 "mismatches: %d; inputs the C module crashes on: %d%s; its restarts: %d\n"
                 % (n_parse, n_string, a.seed, r_string, r_parse, len(bad), len(crashes),
                    " (%s)" % ", ".join(crashes) if crashes else "", real.restarts))
    for b in bad[:30]:
        report.write(b + "\n")
    report.flush()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
