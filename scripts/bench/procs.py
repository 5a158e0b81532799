#!/usr/bin/python3
"""procs.py: the processes of one benchmarked system, by role, for scripts/bench.sh.

A system is a WORKDIR laid out as the anchors' start.sh lays it out: run/httpd.pid (Apache's
parent) and, when there is one, run/daemon.pid (a daemon that is not Apache's child: the
anchors' Go responders, `mpgate serve`). Its processes are those two and all their descendants,
as ../shared/anchors/mem.sh counts them, each given a role from its command line:

  apache   Apache's parent and children, and mod_fcgid's process manager (all apache2)
  wsgi     mod_wsgi daemon processes
  relay    `mpgate fcgid` processes (mod_fcgid's, one request at a time)
  app      the anchors' FastCGI responders (fcgiraw, fcgihello, hello.fcgi)
  daemon   `mpgate serve`
  worker   mpgate's Python workers (python descendants of the daemon)

Commands:
  procs.py count WORKDIR [ROLE]   number of processes (of ROLE)
  procs.py pids WORKDIR ROLE      their pids, comma-separated
  procs.py mem WORKDIR            TSV: role procs rss_kb pss_kb, then a total line
  procs.py cpu NAME WORKDIR -- CMD...
      runs CMD (a wrk run), and prints TSV lines
        name role procs cpu_s busy_pct us_per_req
      for each role, for CMD itself (role "client"), for the rest of the machine ("other":
      other processes, interrupts) and for the machine's idle time ("idle", busy_pct of all
      CPU time). CPU is utime+stime from /proc/PID/stat (processes that exist after the run; a
      process started during the run counts whole). us_per_req divides by the requests wrk
      reports ("N requests in"). CMD's output is kept on stderr.
"""
import os
import re
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def table():
    """pid -> (ppid, utime+stime ticks, argv list, comm) for every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        stat = read(f"/proc/{d}/stat")
        cmd = read(f"/proc/{d}/cmdline")
        if stat is None or cmd is None:
            continue
        s = stat.decode(errors="replace")
        comm = s[s.index("(") + 1:s.rindex(")")]
        f = s[s.rindex(")") + 2:].split()
        # after comm: state(0) ppid(1) ... utime(11) stime(12)
        if f[0] == "Z":
            continue
        argv = [a.decode(errors="replace") for a in cmd.split(b"\0") if a]
        out[int(d)] = (int(f[1]), int(f[11]) + int(f[12]), argv, comm)
    return out


def roots(work):
    r = set()
    for name in ("httpd.pid", "daemon.pid"):
        b = read(os.path.join(work, "run", name))
        if b and b.strip().isdigit():
            r.add(int(b))
    return r


def members(work, tab):
    """pid -> role for the system's processes."""
    keep = roots(work)
    pids = set()
    for p in tab:
        q, seen = p, 0
        while q in tab and q not in keep and q > 1 and seen < 64:
            q, seen = tab[q][0], seen + 1
        if q in keep:
            pids.add(p)
    out = {}
    for p in pids:
        out[p] = role(p, tab, pids)
    return out


def role(p, tab, pids):
    _, _, argv, comm = tab[p]
    a0 = os.path.basename(argv[0]) if argv else comm
    if "wsgi" in comm or "wsgi" in a0:
        return "wsgi"
    if a0 == "apache2" or comm == "apache2":
        return "apache"
    if a0 == "mpgate" or comm == "mpgate":
        return "relay" if "fcgid" in argv[1:2] else "daemon"
    if re.match(r"python", a0) or re.match(r"python", comm):
        # a worker is a python under mpgate serve; anything else python is an app
        q = tab[p][0]
        while q in tab and q in pids:
            if "serve" in tab[q][2][1:2]:
                return "worker"
            q = tab[q][0]
        return "app"
    return "app"


def smaps(p):
    b = read(f"/proc/{p}/smaps_rollup")
    if b is None:
        return None
    rss = pss = 0
    for line in b.decode().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def cpu_total():
    """(busy, idle) ticks of the whole machine from /proc/stat."""
    f = [int(x) for x in read("/proc/stat").decode().splitlines()[0].split()[1:]]
    idle = f[3] + f[4]  # idle + iowait
    busy = sum(f[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy, idle


def cmd_count(work, want=None):
    tab = table()
    m = members(work, tab)
    print(sum(1 for r in m.values() if want is None or r == want))


def cmd_pids(work, want):
    m = members(work, table())
    print(",".join(str(p) for p, r in sorted(m.items()) if r == want))


def cmd_mem(work):
    tab = table()
    m = members(work, tab)
    agg = {}
    for p, r in m.items():
        v = smaps(p)
        if v is None:
            continue
        a = agg.setdefault(r, [0, 0, 0])
        a[0] += 1
        a[1] += v[0]
        a[2] += v[1]
    tot = [0, 0, 0]
    for r in sorted(agg):
        print(f"{r}\t{agg[r][0]}\t{agg[r][1]}\t{agg[r][2]}")
        tot = [x + y for x, y in zip(tot, agg[r])]
    print(f"total\t{tot[0]}\t{tot[1]}\t{tot[2]}")


def cmd_cpu(name, work, argv):
    t0 = table()
    b0, i0 = cpu_total()
    ru0 = os.times()
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    b1, i1 = cpu_total()
    ru1 = os.times()
    t1 = table()
    sys.stderr.write(res.stdout)
    m = re.search(r"(\d+) requests in", res.stdout)
    reqs = int(m.group(1)) if m else 0
    mem = members(work, t1)
    agg = {}
    for p, r in mem.items():
        before = t0[p][1] if p in t0 and t0[p][2] == t1[p][2] else 0
        a = agg.setdefault(r, [0, 0])
        a[0] += 1
        a[1] += t1[p][1] - before
    client = round((ru1.children_user + ru1.children_system - ru0.children_user - ru0.children_system) * TICK)
    busy, idle = b1 - b0, i1 - i0
    rows = [(r, agg[r][0], agg[r][1]) for r in sorted(agg)]
    rows.append(("client", 1, client))
    rows.append(("other", 0, max(0, busy - sum(x[2] for x in rows))))
    for r, n, ticks in rows:
        pct = 100.0 * ticks / busy if busy else 0.0
        us = 1e6 * ticks / TICK / reqs if reqs else 0.0
        print(f"{name}\t{r}\t{n}\t{ticks / TICK:.2f}\t{pct:.1f}\t{us:.1f}")
    total = busy + idle
    print(f"{name}\tidle\t0\t{idle / TICK:.2f}\t{100.0 * idle / total if total else 0:.1f}\t0")
    print(f"{name}\trequests\t0\t{reqs}\t0\t0")
    return res.returncode


def main():
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "count":
        cmd_count(a[1], a[2] if len(a) > 2 else None)
    elif len(a) == 3 and a[0] == "pids":
        cmd_pids(a[1], a[2])
    elif len(a) == 2 and a[0] == "mem":
        cmd_mem(a[1])
    elif len(a) >= 5 and a[0] == "cpu" and a[3] == "--":
        sys.exit(cmd_cpu(a[1], a[2], a[4:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
