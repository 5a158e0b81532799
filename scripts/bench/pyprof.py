#!/usr/bin/python3
"""pyprof.py: mpgate's Python workers under cProfile, for scripts/bench.sh.

  pyprof.py run OUTDIR BOOTSTRAP
      what the daemon runs instead of `python3 -s BOOTSTRAP` when its --python is the wrapper
      bench.sh writes: the worker, unchanged, under cProfile; at exit (SHUTDOWN from a daemon
      stopping) the profile goes to OUTDIR/worker-PID.prof.
  pyprof.py report OUTDIR
      the merged profile of all workers: requests served (calls of Worker.handle_request), time
      per request, and the functions with the most own time and the most cumulative time.
"""
import cProfile
import glob
import io
import os
import pstats
import re
import runpy
import sys


def run(outdir, boot):
    sys.argv = [boot]
    prof = cProfile.Profile()
    code = 0
    try:
        prof.runcall(runpy.run_path, boot, run_name="__main__")
    except SystemExit as e:
        code = e.code
    finally:
        prof.dump_stats(os.path.join(outdir, "worker-%d.prof" % os.getpid()))
    sys.exit(code)


def report(outdir):
    files = sorted(glob.glob(os.path.join(outdir, "worker-*.prof")))
    if not files:
        print("no worker profiles in %s" % outdir)
        return
    st = pstats.Stats(files[0], stream=io.StringIO())
    for f in files[1:]:
        st.add(f)
    reqs = 0
    per_req = 0.0
    for (fn, _, name), (cc, nc, tt, ct, _) in st.stats.items():
        if name == "handle_request" and fn.endswith(os.path.join("mpgate", "worker.py")):
            reqs += nc
            per_req += ct
    if not reqs:
        print("%d worker profiles, no Worker.handle_request calls" % len(files))
        return
    per_req /= reqs
    print("%d worker profiles, %d requests; Worker.handle_request: %.1f us per request under cProfile"
          " (which inflates Python calls); %% below: of that time" % (len(files), reqs, 1e6 * per_req))

    def short(fn):
        return re.sub(r".*/pyrt-[0-9a-f]+/", "", re.sub(r".*/htdocs/", "htdocs/", fn))

    # Only what runs inside a request: a function whose time per request exceeds handle_request's
    # is waiting for the next request (recv_into) or encloses the serve loop.
    rows = [(k, v) for k, v in st.stats.items()
            if v[3] / reqs <= per_req * 1.0001 and v[2] / reqs <= per_req * 1.0001]

    def table(key, n, title):
        print()
        print(title)
        print("%9s %9s %9s %6s %6s  %s" % ("calls/req", "own us", "cum us", "own %", "cum %", "function"))
        for (fn, line, name), v in sorted(rows, key=lambda kv: kv[1][key], reverse=True)[:n]:
            cc, nc, tt, ct, _ = v
            print("%9.2f %9.2f %9.2f %6.1f %6.1f  %s:%d(%s)" % (
                nc / reqs, 1e6 * tt / reqs, 1e6 * ct / reqs, 100 * tt / reqs / per_req,
                100 * ct / reqs / per_req, short(fn), line, name))

    table(2, 20, "== by own time, per request")
    table(3, 20, "== by cumulative time, per request")


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "run":
        run(a[1], a[2])
    elif len(a) == 2 and a[0] == "report":
        report(a[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
