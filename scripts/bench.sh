#!/usr/bin/env bash
# bench.sh (make bench): mpgate's hello handler through mod_proxy_fcgi and mod_fcgid, measured
# against the performance anchors (../shared/anchors) in one run, behind the same private Apache,
# and written up in BENCHMARKS.md.
#
# Systems, each behind its own Apache 2.4 on a free 127.0.0.1 port, all answering "Hello world\n":
#   mpgate-proxy            mod_proxy_fcgi (enablereuse=on) -> `mpgate serve` -> Python worker
#   mpgate-fcgid            mod_fcgid -> `mpgate fcgid` relays -> daemon (started by a relay) -> worker
#   fcgi-proxy-goraw-reuse  anchor: ceiling of the proxy path (hand-written Go responder)
#   fcgi-fcgid-go           anchor: ceiling of the fcgid path (Go responder run by mod_fcgid)
#   modpython-handler       anchor: mod_python embedded, the same handler file (handlers/mp/hello.py)
#   modwsgi-daemon          anchor: mod_wsgi daemon mode
# mpgate's Apache is the anchors' common base config, obtained by running the anchors' start.sh for
# the `static` anchor (whose own part is empty) once and stopping it; each mpgate system gets a copy
# of that httpd.conf (its directory and port substituted) with mpgate's lines appended: the
# user-facing snippet (apache-conf/mpgate-*.conf) and the <Directory> section as the rewrite
# package writes it for `SetHandler mod_python` + `PythonHandler hello`.
#
# Phases (each system fresh where it says so):
#   1. memory: one system at a time, fresh: start, settle at 16 connections (3 s wrk slices until the
#      process count stops growing), one DUR run at 16, then PSS/RSS of Apache + all its descendants
#      + the daemon and its workers (run/daemon.pid: for mpgate-fcgid the daemon a relay started,
#      from its pid file in the run directory).
#   2. throughput: all systems started fresh side by side; mod_fcgid's spawn phase (SPAWN of 4 s
#      slices at 64 connections, the two fcgid systems interleaved) is recorded on its own; then the
#      anchors' bench.sh (warm-up WARM at 64 connections each, then REPS x CONNS x systems
#      interleaved, DUR each).
#   3. where the time goes: one DUR run at 16 connections per system with CPU time per process role
#      from /proc (procs.py cpu), and `perf record -a` during one more run of each mpgate system.
#   4. import (issue 3), its own systems, each fresh, serving the sites in scripts/bench/sites
#      (`PythonHandler index` in each directory), 16 connections throughout:
#      a. reload latency, mpgate-proxy and mpgate-fcgid (settled first): `reloadbench edits`
#         rewrites reload/dep.py (VERSION = N) EDITS times by rename under closed-loop load.
#      b. no per-request cost: the anchors' bench.sh at 16 connections (WARM, then REPS x DUR,
#         interleaved) over a handler importing 200 site modules (imports200/, generated) and one
#         importing 1 (imports1/), both through mpgate-proxy, and the modpython-publisher and
#         modpython-handler anchors.
#      c. `mpgate reload` under load: `reloadbench reload` runs it RELOADS times against pid/.
#   5. sessions (issue 4): the anchors' handlers/sess/sess.py (Session.Session(req), s['n'] += 1,
#      save, write the count) under sessload (../shared/anchors/go/cmd/sessload, built into the
#      scratch directory), 16 connections:
#      a. mpgate-proxy and mpgate-fcgid serving sess.py from the daemon's store (`PythonHandler
#         sess`, no session options) and the modpython-session anchor's /sess/file/ (FileSession)
#         and /sess/dbm/ (DbmSession), all up at once: warm-up (WARM each; mpgate-fcgid settled
#         first), then REPS x {per-conn, shared} x the four, interleaved, DUR each; then REPS
#         lost-update checks each (sessload -c 50 -n 500 -mode shared -check).
#      b. scale: for 1,000, 10,000 and 100,000 stored sessions (SCALE), a fresh database filled by
#         scripts/bench/sessfill (package session on the file, daemon stopped), then mpgate-proxy
#         on it (--session-db): file size, the daemon's RSS/PSS, REPS sessload per-conn runs.
#      c. purge: 100,000 sessions that all expire at one instant, the daemon up; at that instant
#         `mpgate sessions purge` through the daemon's control socket, timed.
#   6. api (issue 5): mod_python's library handlers, mpgate-proxy and mpgate-fcgid against
#      mod_python 3.5 embedded (the anchors' modpython lines: Debian's mod_python.so) in the same
#      run, all three up at once, serving the same sites (scripts/bench/sites/api-*, each
#      `<Directory> SetHandler mod_python` + its PythonHandler): publisher (`index()` returns
#      "Hello world\n"), psp (rows.psp: a loop of 100 table rows of `<%= %>`), upload (a
#      multipart body with a 10 MiB file part, read with util.FieldStorage; the handler writes the
#      part's size and MD5), download (10 MiB in 64 KiB req.write() calls) and sendfile (the same
#      10 MiB by req.sendfile()). Every answer is checked once (apiload.py check); then wrk at
#      16 connections (publisher, psp) or 4 (the rest; uploads by upload.lua): warm-up WARM each,
#      REPS x cases x systems interleaved, DUR each. Then, for each UPLOAD_MB size, UPLOADS
#      sequential uploads per system with the processes' peak RSS (VmHWM) reset before
#      (/proc/PID/clear_refs) and read after (apiload.py hwm): worker, daemon, relay, Apache.
#   7. gateway (issue 6): the transports and the authorizers. Four systems up at once, each serving
#      the anchors' hello.py in open/ and, in secure/, the same handler behind `AuthType Basic`,
#      `Require valid-user` and a PythonAuthenHandler checking alice's password
#      (req.get_basic_auth_pw()): modpython-gw (mod_python 3.5 embedded), mpgate-proxy-gw
#      (mod_proxy_fcgi; the check through mod_authnz_fcgi to `mpgate serve --authz-listen`),
#      mpgate-fcgid-gw (mod_fcgid relays; the check through FcgidAuthenticator) and mpgate-cgi-gw
#      (mod_cgid running `mpgate cgi` per request). The mpgate systems' Apache lines are written
#      by `mpgate migrate --apply` on the site (the same lines a migrated site gets). Every
#      answer is checked once (200 "Hello world" with the password, 401 without); then wrk:
#      mpgate-fcgid settled on secure/ (3 s slices at 16 connections until its process count
#      stops growing), a warm-up of WARM at 16 connections on secure/ (handler and authenticator)
#      for the others, then open and secure (with the password) at 1 and 16 connections, secure
#      without a password (401) at 16: REPS x cases x systems interleaved, GW_DUR each (3 s by
#      default, shorter than DUR: 20 runs per repetition).
# Everything started is stopped on exit (Apache by its PidFile, daemons by their pid files).
#
# PHASES (default "memory throughput profile import sessions api gateway") picks phases 1-7 by name. The
# report is BENCHMARKS.md regenerated whole when any of phases 1-3 ran (the import, sessions and
# api sections kept from the existing file when phases 4-6 did not run); with PHASES made of
# "import", "sessions" and "api" only, only those sections of the existing file are replaced,
# everything else is left as it is.
#
# Env: REPS (3), DUR (5s), CONNS ("1 16 64"), WARM (3s), SPAWN (40s), OUT (BENCHMARKS.md in the
# repository), BENCH_DIR (scratch: a new /tmp/mpgate-bench.XXXXXX, kept), ANCHORS
# (../shared/anchors), SYSTEMS (all six, in the order above; phases 1-3), PERF (1; 0 skips perf),
# PHASES, EDITS (50), RELOADS (5), SCALE ("1000 10000 100000"; phase 5), PURGE_N (100000),
# UPLOAD_MB ("1 10 50"; phase 6), UPLOADS (3; phase 6), GW_DUR (3s; phase 7).
# The defaults take about 21 minutes on a 2-core machine (phase 4 alone about 2, phase 5 about
# 4.5, phase 6 about 6, phase 7 about 3.5); DUR=8s (the anchors' first study) about 27.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
here=$repo/scripts/bench
anchors=$(realpath -m "${ANCHORS:-$repo/../shared/anchors}")
REPS=${REPS:-3} DUR=${DUR:-5s} CONNS=${CONNS:-1 16 64} WARM=${WARM:-3s} SPAWN=${SPAWN:-40s}
PERF=${PERF:-1} EDITS=${EDITS:-50} RELOADS=${RELOADS:-5}
SCALE=${SCALE:-1000 10000 100000} PURGE_N=${PURGE_N:-100000}
UPLOAD_MB=${UPLOAD_MB:-1 10 50} UPLOADS=${UPLOADS:-3} GW_DUR=${GW_DUR:-3s}
all_phases="memory throughput profile import sessions api gateway"
PHASES=${PHASES:-$all_phases}
for p in $PHASES; do
	[[ " $all_phases " == *" $p "* ]] || { echo "bench.sh: unknown phase $p in PHASES (want some of: $all_phases)" >&2; exit 2; }
done
# has_phase NAME: whether PHASES holds NAME.
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }
OUT=${OUT:-$repo/BENCHMARKS.md}
SYSTEMS=${SYSTEMS:-mpgate-proxy mpgate-fcgid fcgi-proxy-goraw-reuse fcgi-fcgid-go modpython-handler modwsgi-daemon}
py=/usr/bin/python3 # Debian's: mod_python and mod_wsgi are built against it, and the workers run it
export REPS DUR CONNS WARM

[ -x "$anchors/start.sh" ] || { echo "bench.sh: no anchors at $anchors (set ANCHORS)" >&2; exit 1; }
secs() { local v=$1; case $v in *ms) echo 1 ;; *m) echo $((${v%m} * 60)) ;; *s) echo "${v%s}" ;; *) echo "$v" ;; esac; }

# --- scratch directory, packages, the binary -------------------------------------------------
root=${BENCH_DIR:-$(mktemp -d /tmp/mpgate-bench.XXXXXX)}
mkdir -p "$root"/{raw,mem,run}
chmod 755 "$root" # Apache's children (www-data when run as root) must get through
"$repo/scripts/install-debs.sh" wrk curl libapache2-mod-wsgi-py3 libapache2-mod-python libapache2-mod-fcgid apache2-bin
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then
	"$repo/scripts/install-debs.sh" linux-perf || PERF=0
fi
[ -x "$repo/bin/mpgate" ] || make -C "$repo" build
# A copy: other builds may replace bin/mpgate during the run, and www-data must be able to run it.
cp "$repo/bin/mpgate" "$root/mpgate"
chmod 755 "$root/mpgate"
bin=$root/mpgate
started=() # workdirs to stop on exit
log() { echo "bench: $(date +%T) $*" >&2; }
t_start=$(date +%s)

# free_ports N: N distinct free TCP ports on 127.0.0.1 (bound to port 0, then released).
free_ports() {
	"$py" -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

# --- starting and stopping one system ----------------------------------------------------------
# own DIR...: give DIRs to www-data when running as root (as start.sh does for its WORKDIR).
own() { if [ "$(id -u)" = 0 ]; then chown -R www-data:www-data "$@"; fi; }

# base_of WORK PORT: WORK as the anchors' start.sh makes it (htdocs with the anchors' handlers, run/,
# logs/, httpd.conf with the common base config), for the `static` anchor, whose own lines are
# empty: start.sh runs once (then stop.sh), into $root/base; each mpgate system gets a copy with
# its own directory and port substituted.
base_of() {
	local work=$1 port=$2 bport
	if [ ! -e "$root/base/httpd.conf" ]; then
		bport=$(free_ports 1)
		started+=("$root/base")
		"$anchors/start.sh" static "$bport" "$root/base" >/dev/null
		"$anchors/stop.sh" "$root/base" >/dev/null
		rm -f "$root/base/run/"* "$root/base/logs/"*
		sed -i "s|^Listen 127.0.0.1:$bport\$|Listen 127.0.0.1:BASEPORT|" "$root/base/httpd.conf"
		grep -qx 'Listen 127.0.0.1:BASEPORT' "$root/base/httpd.conf" || { log "unexpected base config"; return 1; }
	fi
	mkdir -p "$work"
	cp -a "$root/base/." "$work/"
	sed -i -e "s|$root/base|$work|g" -e "s|^Listen 127.0.0.1:BASEPORT\$|Listen 127.0.0.1:$port|" \
		-e "1s|.*|# $(basename "$work"): the anchors' base (start.sh static), mpgate's lines appended by scripts/bench.sh|" \
		"$work/httpd.conf"
}

# start_mpgate VIA PORT WORK [pyprof] [DIR=HANDLER...]: mpgate behind the anchors' base Apache,
# serving htdocs/DIR with `SetHandler mod_python` + `PythonHandler HANDLER` for each DIR (default:
# the anchors' mp=hello; a DIR found in $root/sites is copied there first); its URL file lists
# /DIR/HANDLER for each. With pyprof, the daemon's --python is a wrapper that runs each worker
# under cProfile (pyprof.py). The global daemon_args (e.g. "--session-db FILE") is added to the
# command line of a proxy system's `mpgate serve`.
start_mpgate() {
	local via=$1 port=$2 work=$3 run=$3/mprun python=$py mode=${4:-} sections=${*:5} urls="" d h
	sections=${sections:-mp=hello}
	base_of "$work" "$port"
	mkdir -p "$work/bin" "$run"
	for d in $sections; do
		if [ -d "$root/sites/${d%%=*}" ]; then cp -r "$root/sites/${d%%=*}" "$work/htdocs/"; fi
	done
	cp "$bin" "$work/bin/mpgate"
	if [ "$mode" = pyprof ]; then
		mkdir -p "$work/pyprof"
		cp "$here/pyprof.py" "$work/bin/"
		python=$work/bin/python-pyprof
		printf '#!/bin/sh\n# mpgate runs "PYTHON -s BOOTSTRAP": the worker under cProfile instead.\nexec %s -s %s run %s "$2"\n' \
			"$py" "$work/bin/pyprof.py" "$work/pyprof" >"$python"
		chmod 755 "$python"
	fi
	# The site as mod_python ran it (what the daemon reads): the modpython-handler anchor's section,
	# or the sections asked for.
	printf '# The mod_python site mpgate runs (scripts/bench.sh).\nDocumentRoot %s/htdocs\n' "$work" >"$work/site.conf"
	for d in $sections; do
		h=${d#*=} d=${d%%=*}
		cat >>"$work/site.conf" <<-EOF
			<Directory $work/htdocs/$d>
			    SetHandler mod_python
			    PythonHandler $h
			</Directory>
		EOF
	done
	local args="--config $work/site.conf --run-dir $run --server-root $work --python $python"
	# The daemon's own flags (not the relays'), e.g. --session-db: mpgate-proxy only.
	local dargs=${daemon_args:-}
	local conf=$work/httpd.conf
	if [ "$via" = proxy ]; then
		cp "$repo/apache-conf/mpgate-proxy.conf" "$work/"
		cat >>"$conf" <<-EOF
			# mpgate via mod_proxy_fcgi: apache-conf/mpgate-proxy.conf, then the sections as rewrite/ writes them (keep in step).
			Define MPGATE_RUN $run
			Include $work/mpgate-proxy.conf
		EOF
	else
		cp "$repo/apache-conf/mpgate-fcgid.conf" "$work/"
		mkdir -p "$run/fcgid"
		cat >>"$conf" <<-EOF
			# mpgate via mod_fcgid: apache-conf/mpgate-fcgid.conf, then the sections as rewrite/ writes them (keep in step).
			Define MPGATE_BIN $work/bin/mpgate
			Define MPGATE_CONFIG $work/site.conf
			Define MPGATE_RUN $run
			Include $work/mpgate-fcgid.conf
		EOF
	fi
	for d in $sections; do
		h=${d#*=} d=${d%%=*}
		if [ "$via" = proxy ]; then
			cat >>"$conf" <<-EOF
				<Directory $work/htdocs/$d>
				    <IfDefine MPGATE>
				    SetHandler mod_python
				    PythonHandler $h
				    </IfDefine>
				    SetHandler "proxy:unix:$run/mpgate.sock|fcgi://mpgate"
				    ProxyFCGIBackendType GENERIC
				    SetEnv ap_trust_cgilike_cl 1
				    CGIPassAuth On
				</Directory>
			EOF
		else
			cat >>"$conf" <<-EOF
				<Directory $work/htdocs/$d>
				    <IfDefine MPGATE>
				    SetHandler mod_python
				    PythonHandler $h
				    </IfDefine>
				    SetHandler fcgid-script
				    Options +ExecCGI
				    FcgidWrapper "$work/bin/mpgate fcgid $args" virtual
				    CGIPassAuth On
				</Directory>
			EOF
		fi
		urls="$urls /$d/$h"
	done
	echo "${urls# }" >"$work/url"
	own "$work" # relays and the daemon they start run as www-data and write in the run directory
	if [ "$via" = proxy ]; then
		# shellcheck disable=SC2086
		start_daemon "$work" $args $dargs || return 1
	fi
	start_apache "$work" "$port"
}

# start_daemon WORK ARGS...: `mpgate serve ARGS` for a proxy system (its run directory is
# WORK/mprun), its pid in WORK/run/daemon.pid; waits for its socket. As mpgate-proxy.conf says:
# the daemon runs beside Apache (as root here it runs its workers as www-data and gives its
# socket to www-data's group), not as Apache's child.
start_daemon() {
	local work=$1
	shift
	nohup "$work/bin/mpgate" serve "$@" >>"$work/logs/daemon.log" 2>&1 </dev/null &
	echo $! >"$work/run/daemon.pid"
	for _ in $(seq 600); do [ -S "$work/mprun/mpgate.sock" ] && break; sleep 0.05; done
	[ -S "$work/mprun/mpgate.sock" ] || { log "mpgate serve did not listen; see $work/logs/daemon.log"; return 1; }
}

# start_apache WORK PORT: Apache on WORK/httpd.conf, once it accepts connections on PORT.
start_apache() {
	/usr/sbin/apache2 -f "$1/httpd.conf" -k start
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && break
		sleep 0.05
	done
}

# start_modpython PORT WORK [DIR=HANDLER...]: mod_python 3.5 embedded in the anchors' base Apache,
# loaded as the anchors' start.sh loads it for its modpython-* anchors (Debian's mod_python.so,
# `PythonOption mod_python.mutex_directory`), serving htdocs/DIR with `SetHandler mod_python` +
# `PythonHandler HANDLER` for each DIR (one found in $root/sites is copied there first): the same
# sections mpgate's daemon reads in start_mpgate.
start_modpython() {
	local port=$1 work=$2 d h
	base_of "$work" "$port"
	cat >>"$work/httpd.conf" <<-EOF
		# mod_python embedded, as the anchors' start.sh loads it (modpython-*), then the sections (scripts/bench.sh).
		LoadModule python_module /usr/lib/apache2/modules/mod_python.so
		PythonOption mod_python.mutex_directory $work/run
	EOF
	for d in "${@:3}"; do
		h=${d#*=} d=${d%%=*}
		if [ -d "$root/sites/$d" ]; then cp -r "$root/sites/$d" "$work/htdocs/"; fi
		cat >>"$work/httpd.conf" <<-EOF
			<Directory $work/htdocs/$d>
			    SetHandler mod_python
			    PythonHandler $h
			</Directory>
		EOF
	done
	own "$work"
	start_apache "$work" "$port"
}

# The api phase's sites (scripts/bench/sites/api-*) and the anchors' hello (mp/, the URL start_system
# checks and settle loads), as DIR=HANDLER sections; api_urls WORK writes the URL file: hello, then
# the cases in the order of api_cases (their paths as apiload.py's CASES).
api_sections="mp=hello api-pub=mod_python.publisher api-psp=mod_python.psp api-upload=upload api-download=download api-sendfile=sendfile"
api_cases="publisher psp upload download sendfile"
# origin WORK: the system's http://127.0.0.1:PORT.
origin() { url "$1" | sed 's|^\(http://[^/]*\).*|\1|'; }
api_urls() {
	echo "/mp/hello /api-pub/hello.py /api-psp/rows.psp /api-upload/upload /api-download/download /api-sendfile/sendfile" >"$1/url"
}

# url WORK [N]: the system's URL (the Nth of its URL file, default the first).
url() {
	echo "http://127.0.0.1:$(sed -n 's/^Listen 127.0.0.1:\([0-9]*\)$/\1/p' "$1/httpd.conf")$(cut -d' ' -f"${2:-1}" "$1/url")"
}

# start_system NAME PORT WORK: start one system fresh and check its answer: "Hello world", or
# for the import phase's sites what their handler writes (VERSION 0, a pid).
start_system() {
	local name=$1 port=$2 work=$3 body want="Hello world"
	stop_system "$work"
	rm -rf "$work"
	started+=("$work")
	case $name in
	mpgate-proxy) start_mpgate proxy "$port" "$work" ;;
	mpgate-fcgid) start_mpgate fcgid "$port" "$work" ;;
	mpgate-proxy-pyprof) start_mpgate proxy "$port" "$work" pyprof ;;
	mpgate-proxy-edits) start_mpgate proxy "$port" "$work" "" reload=index && want="VERSION 0" ;;
	mpgate-fcgid-edits) start_mpgate fcgid "$port" "$work" "" reload=index && want="VERSION 0" ;;
	mpgate-proxy-reload) start_mpgate proxy "$port" "$work" "" pid=index && want="[0-9]+" ;;
	mpgate-proxy-imports1) start_mpgate proxy "$port" "$work" "" imports1=index ;;
	mpgate-proxy-imports200) start_mpgate proxy "$port" "$work" "" imports200=index ;;
	mpgate-proxy-sess*) start_mpgate proxy "$port" "$work" "" sess=sess && want="[0-9]+" ;;
	mpgate-fcgid-sess) start_mpgate fcgid "$port" "$work" "" sess=sess && want="[0-9]+" ;;
	modpython-session) "$anchors/start.sh" "$name" "$port" "$work" >/dev/null && want="[0-9]+" ;;
	mpgate-proxy-api) start_mpgate proxy "$port" "$work" "" $api_sections && api_urls "$work" ;;
	mpgate-fcgid-api) start_mpgate fcgid "$port" "$work" "" $api_sections && api_urls "$work" ;;
	modpython-api) start_modpython "$port" "$work" $api_sections && api_urls "$work" ;;
	mpgate-proxy-gw) start_gateway proxy "$port" "$work" ;;
	mpgate-fcgid-gw) start_gateway fcgid "$port" "$work" ;;
	mpgate-cgi-gw) start_gateway cgi "$port" "$work" ;;
	modpython-gw) start_gateway modpython "$port" "$work" ;;
	*) "$anchors/start.sh" "$name" "$port" "$work" >/dev/null ;;
	esac
	body=$(curl -fsS --max-time 60 "$(url "$work")") || { log "$name: request failed; see $work/logs"; return 1; }
	[[ $body =~ ^$want$ ]] || { log "$name answered '$body'"; return 1; }
	if [[ $name == mpgate-fcgid* ]]; then
		# The relay started the daemon in a session of its own: count it (and its workers) by the
		# pid file it wrote, as run/daemon.pid, which mem.sh and stop.sh read.
		local pid
		pid=$(cat "$work/mprun/mpgate.pid")
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "serve .*$work/mprun" || { log "pid $pid is not the daemon"; return 1; }
		echo "$pid" >"$work/run/daemon.pid"
	fi
}

# stop_system WORK: stop Apache and the daemon (anchors' stop.sh), and a daemon a relay started
# that was not recorded yet.
stop_system() {
	local work=$1 pid
	[ -d "$work" ] || return 0
	"$anchors/stop.sh" "$work" >/dev/null || true
	pid=$(cat "$work/mprun/mpgate.pid" 2>/dev/null) || return 0
	if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "serve .*$work/mprun"; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 700); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
		kill -9 "$pid" 2>/dev/null || true
	fi
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for w in "${started[@]}"; do stop_system "$w"; done
	[ $rc = 0 ] || log "failed (exit $rc); scratch output kept in $root"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wrk_run OUT CONNS DUR URL: one wrk run (wrk needs connections >= threads).
wrk_run() {
	local t=2
	[ "$2" -lt 2 ] && t=1
	wrk -t$t -c"$2" -d"$3" --latency "$4" >"$1" 2>&1 || true
}
# wrk_line FILE: "rps p99_ms errors" from wrk's output.
wrk_line() {
	awk '
	function ms(v) { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) ; else if (v ~ /s$/) n *= 1000; return n }
	/^Requests\/sec/ { rps = $2 }
	$1 == "99%" { p99 = ms($2) }
	/Socket errors|Non-2xx/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) e += $i }
	END { printf "%s\t%.3f\t%d\n", rps, p99, e }' "$1"
}

# settle WORK CONNS: 3 s wrk slices until the system's process count stops growing (30 s at most).
settle() {
	local work=$1 c=$2 before after u
	u=$(url "$work")
	for _ in $(seq 10); do
		before=$("$here/procs.py" count "$work")
		wrk -t2 -c"$c" -d3s "$u" >/dev/null 2>&1 || true
		after=$("$here/procs.py" count "$work")
		[ "$after" -le "$before" ] && return 0
	done
}

# --- machine ---------------------------------------------------------------------------------
{
	printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	if [ "$PHASES" = "$all_phases" ]; then
		printf 'command\t%s\n' "REPS=$REPS DUR=$DUR CONNS=\"$CONNS\" WARM=$WARM SPAWN=$SPAWN EDITS=$EDITS RELOADS=$RELOADS SCALE=\"$SCALE\" PURGE_N=$PURGE_N UPLOAD_MB=\"$UPLOAD_MB\" UPLOADS=$UPLOADS GW_DUR=$GW_DUR make bench"
	elif [ "$PHASES" = import ]; then
		printf 'command\t%s\n' "PHASES=import REPS=$REPS DUR=$DUR WARM=$WARM EDITS=$EDITS RELOADS=$RELOADS ./scripts/bench.sh"
	elif [ "$PHASES" = sessions ]; then
		printf 'command\t%s\n' "PHASES=sessions REPS=$REPS DUR=$DUR WARM=$WARM SCALE=\"$SCALE\" PURGE_N=$PURGE_N ./scripts/bench.sh"
	elif [ "$PHASES" = api ]; then
		printf 'command\t%s\n' "PHASES=api REPS=$REPS DUR=$DUR WARM=$WARM UPLOAD_MB=\"$UPLOAD_MB\" UPLOADS=$UPLOADS ./scripts/bench.sh"
	elif [ "$PHASES" = gateway ]; then
		printf 'command\t%s\n' "PHASES=gateway REPS=$REPS GW_DUR=$GW_DUR WARM=$WARM ./scripts/bench.sh"
	else
		printf 'command\t%s\n' "PHASES=\"$PHASES\" REPS=$REPS DUR=$DUR CONNS=\"$CONNS\" WARM=$WARM SPAWN=$SPAWN EDITS=$EDITS RELOADS=$RELOADS SCALE=\"$SCALE\" PURGE_N=$PURGE_N UPLOAD_MB=\"$UPLOAD_MB\" UPLOADS=$UPLOADS GW_DUR=$GW_DUR ./scripts/bench.sh"
	fi
	printf 'phases\t%s\n' "$PHASES"
	printf 'nproc\t%s\n' "$(nproc)"
	printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	printf 'kernel\t%s\n' "$(uname -r)"
	printf 'os\t%s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")"
	printf 'mem\t%s\n' "$(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	printf 'apache\t%s\n' "$(/usr/sbin/apache2 -v | sed -n 's/^Server version: //p') (mpm_event)"
	printf 'modules\t%s\n' "$(dpkg-query -W -f '${Package} ${Version}, ' libapache2-mod-python libapache2-mod-wsgi-py3 libapache2-mod-fcgid 2>/dev/null | sed 's/, $//')"
	printf 'python\t%s\n' "$("$py" --version 2>&1) ($py)"
	printf 'go\t%s\n' "$({ go version || /usr/local/go/bin/go version; } 2>/dev/null | head -1)"
	printf 'wrk\t%s\n' "$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
	printf 'mpgate\t%s\n' "$("$bin" version 2>&1) ($(sha256sum "$bin" | cut -c1-12))"
	printf 'load_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$root/machine.tsv"

read -r -a ports <<<"$(free_ports 13)"
log "scratch output in $root"

# --- 1. memory, one fresh system at a time ---------------------------------------------------
i=0 # next free port in ports
phase_memory() {
	local n d
	printf 'name\tphase\trole\tprocs\trss_kb\tpss_kb\n' >"$root/mem.tsv"
	for n in $SYSTEMS; do
		d=$root/mem/$n
		log "memory: $n"
		start_system "$n" "${ports[$i]}" "$d"
		i=$((i + 1))
		sleep 1
		"$here/procs.py" mem "$d" | sed "s/^/$n\tidle\t/" >>"$root/mem.tsv"
		settle "$d" 16
		wrk_run "$root/raw/mem-$n.txt" 16 "$DUR" "$(url "$d")"
		"$here/procs.py" mem "$d" | sed "s/^/$n\tafter_16\t/" >>"$root/mem.tsv"
		printf '%s\tmem.sh\t%s\n' "$n" "$("$anchors/mem.sh" "$d")" >>"$root/mem.tsv"
		stop_system "$d"
	done
}

# --- 2. throughput: all systems side by side -------------------------------------------------
# start_all: start every system of SYSTEMS fresh in $root/run (phases 2 and 3 share them).
start_all() {
	local n
	for n in $SYSTEMS; do
		log "start: $n"
		start_system "$n" "${ports[$i]}" "$root/run/$n"
		i=$((i + 1))
	done
	sleep 1
}
phase_throughput() {
	local n d s role fcgid_systems=""
	start_all
	printf 'slice\tt_s\tname\tprocs\tapp_procs\trps\tp99_ms\terrors\n' >"$root/spawn.tsv"
	for n in $SYSTEMS; do case $n in *fcgid*) fcgid_systems="$fcgid_systems $n" ;; esac; done
	if [ -n "$fcgid_systems" ]; then
		log "mod_fcgid spawn phase: $SPAWN per system at 64 connections:$fcgid_systems"
		for s in $(seq $(($(secs "$SPAWN") / 4))); do
			for n in $fcgid_systems; do
				d=$root/run/$n
				wrk_run "$root/raw/spawn-$n-$s.txt" 64 4s "$(url "$d")"
				role=app
				[ "$n" = mpgate-fcgid ] && role=relay
				printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$s" $((s * 4)) "$n" "$("$here/procs.py" count "$d")" \
					"$("$here/procs.py" count "$d" $role)" "$(wrk_line "$root/raw/spawn-$n-$s.txt")" >>"$root/spawn.tsv"
			done
		done
	fi
	log "bench.sh: REPS=$REPS DUR=$DUR CONNS=\"$CONNS\" over: $SYSTEMS"
	# shellcheck disable=SC2086
	"$anchors/bench.sh" "$root/run" $SYSTEMS >"$root/runs.tsv"
}

# --- 3. where the time goes ------------------------------------------------------------------
# profile NAME: perf record -a during a 16-connection run of NAME, and the report's top lines:
# by command and object, then the symbols of each role of the system (percent of that role).
profile() {
	local n=$1 d=$root/run/$1 dur wrk_pid ro pids
	dur=$(secs "$DUR")
	log "perf: $n at 16 connections"
	wrk -t2 -c16 -d"${dur}s" "$(url "$d")" >"$root/raw/perf-wrk-$n.txt" 2>&1 &
	wrk_pid=$!
	sleep 1
	perf record -q -e cpu-clock -F 999 -a -g -o "$root/perf-$n.data" -- sleep $((dur > 3 ? dur - 2 : 1)) >/dev/null 2>&1 || true
	wait "$wrk_pid" || true
	{
		echo "== $n: by command and object, percent of all samples (all CPUs; idle is swapper)"
		perf report -i "$root/perf-$n.data" --stdio --no-children --sort comm,dso -g none --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20 || true
		for ro in daemon relay worker apache; do
			pids=$("$here/procs.py" pids "$d" "$ro")
			[ -n "$pids" ] || continue
			echo "== $n: $ro ($(tr ',' '\n' <<<"$pids" | wc -l) processes): user-space symbols, percent of all the $ro samples (kernel ones left out)"
			perf report -i "$root/perf-$n.data" --stdio --no-children --pid "$pids" --percentage relative --sort dso,sym -g none --percent-limit 0.7 2>/dev/null | grep -v '^#' | grep -v '^$' | grep -v 'kernel.kallsyms' | head -15 || true
		done
	} >>"$root/perf.txt"
}
phase_profile() {
	local n d
	has_phase throughput || start_all
	printf 'name\trole\tprocs\tcpu_s\tbusy_pct\tus_per_req\n' >"$root/cpu.tsv"
	for n in $SYSTEMS; do
		d=$root/run/$n
		log "cpu: $n"
		"$here/procs.py" cpu "$n" "$d" -- wrk -t2 -c16 -d"$DUR" "$(url "$d")" >>"$root/cpu.tsv" 2>"$root/raw/cpu-$n.txt"
	done
	: >"$root/perf.txt"
	if [ "$PERF" = 1 ] && perf record -q -e cpu-clock -o "$root/perf-probe.data" -- true >/dev/null 2>&1; then
		for n in $SYSTEMS; do case $n in mpgate-*) profile "$n" ;; esac; done
	else
		log "perf unusable or PERF=0: no profile (the CPU table above still says where the time goes)"
	fi

	stop_started
	# The workers' Python, by function: a fresh mpgate-proxy whose workers run under cProfile, at 2
	# connections (fewer than the CPUs, so that wall-clock profiling is not preemption), stopped to
	# make the workers write their profiles.
	: >"$root/pyprof.txt"
	if [[ " $SYSTEMS " == *" mpgate-proxy "* ]]; then
		d=$root/run/mpgate-proxy-pyprof
		log "cProfile: mpgate-proxy workers at 2 connections"
		if start_system mpgate-proxy-pyprof "${ports[$i]}" "$d"; then
			wrk -t2 -c2 -d"$DUR" "$(url "$d")" >"$root/raw/pyprof-wrk.txt" 2>&1 || true
			stop_system "$d"
			"$py" "$here/pyprof.py" report "$d/pyprof" >"$root/pyprof.txt" 2>&1 || true
		else
			log "cProfile run failed; skipped"
		fi
	fi
}

# --- 4. import (issue 3): reload latency, per-request cost of loaded modules, mpgate reload ---
# gen_imports DIR N: a site directory whose handler (index.py) imports N site modules m000.py...
# at its top and answers as the anchors' hello.py.
gen_imports() {
	local dir=$1 n=$2 k
	mkdir -p "$dir"
	{
		printf '# Generated by scripts/bench.sh (import phase): imports %d site modules, answers as hello.py.\n' "$n"
		for ((k = 0; k < n; k++)); do printf 'import m%03d\n' "$k"; done
		cat <<-'EOF'
			from mod_python import apache


			def handler(req):
			    req.content_type = 'text/plain'
			    req.write('Hello world\n')
			    return apache.OK
		EOF
	} >"$dir/index.py"
	for ((k = 0; k < n; k++)); do
		printf '# Generated by scripts/bench.sh (import phase): site module %d of %d.\nVALUE = %d\n\n\ndef value():\n    return VALUE\n' \
			"$((k + 1))" "$n" "$k" >"$dir/$(printf 'm%03d.py' "$k")"
	done
}
phase_import() {
	local rb=$root/reloadbench ib=$root/import n d gobin iports j=0
	gobin=$(command -v go || echo /usr/local/go/bin/go)
	(cd "$repo" && "$gobin" build -o "$rb" ./scripts/bench/reloadbench)
	mkdir -p "$ib/raw" "$root/sites"
	cp -r "$here/sites/reload" "$here/sites/pid" "$root/sites/"
	gen_imports "$root/sites/imports1" 1
	gen_imports "$root/sites/imports200" 200
	read -r -a iports <<<"$(free_ports 7)"

	# a. Reload latency: EDITS renames of reload/dep.py under 16 connections, after the system
	# settled (for mpgate-fcgid: mod_fcgid has spawned the relays it keeps at 16 connections).
	for n in mpgate-proxy-edits mpgate-fcgid-edits; do
		d=$ib/$n
		log "import: reload latency, $n, $EDITS edits at 16 connections"
		start_system "$n" "${iports[$j]}" "$d"
		j=$((j + 1))
		settle "$d" 16
		"$rb" edits -url "$(url "$d")" -file "$d/htdocs/reload/dep.py" -c 16 -edits "$EDITS" \
			-raw "$ib/raw/edits-$n.tsv" >"$root/import-edits-$n.json" || log "reloadbench edits failed on $n; see above"
		stop_system "$d"
	done

	# b. No per-request cost: 200 site modules vs 1 through mpgate-proxy, and mod_python's
	# publisher (which stats its page on every request) vs its handler, interleaved.
	local cost="mpgate-proxy-imports200 mpgate-proxy-imports1 modpython-publisher modpython-handler"
	for n in $cost; do
		start_system "$n" "${iports[$j]}" "$ib/$n"
		j=$((j + 1))
	done
	log "import: per-request cost, anchors' bench.sh at 16 connections, REPS=$REPS DUR=$DUR over: $cost"
	# shellcheck disable=SC2086
	CONNS=16 "$anchors/bench.sh" "$ib" $cost >"$root/import-runs.tsv"
	for n in $cost; do stop_system "$ib/$n"; done

	# c. mpgate reload under load, RELOADS times.
	n=mpgate-proxy-reload d=$ib/$n
	log "import: mpgate reload under 16 connections, $RELOADS times"
	start_system "$n" "${iports[$j]}" "$d"
	"$rb" reload -url "$(url "$d")" -c 16 -reloads "$RELOADS" -raw "$ib/raw/reload.tsv" \
		-- "$d/bin/mpgate" reload --run-dir "$d/mprun" >"$root/import-reload.json" || log "reloadbench reload failed; see above"
	stop_system "$d"
}

# --- 5. sessions (issue 4): mpgate's daemon store vs mod_python FileSession and DbmSession ------
# sessload_tsv LINE...: sessload's "k=v ..." lines as the TSV values of KEYS (in that order),
# empty where a key is missing.
sessload_tsv() {
	awk -v keys="$SESSLOAD_KEYS" '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END { n = split(keys, k, " "); for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? "\t" : ""), v[k[i]]; printf "\n" }' <<<"$*"
}
phase_sessions() {
	local sb=$root/sessions sl=$root/sessload fill=$root/sessfill gobin sports j=0 n d t rep mode size line
	local t0 e acc purge_s
	gobin=$(command -v go || echo /usr/local/go/bin/go)
	# sessload as the anchors' scripts build their Go programs; sessfill from this repository.
	(cd "$anchors/go" && "$gobin" build -trimpath -o "$root/" ./cmd/sessload)
	(cd "$repo" && "$gobin" build -o "$fill" ./scripts/bench/sessfill)
	mkdir -p "$sb/raw"
	read -r -a sports <<<"$(free_ports $((3 + $(wc -w <<<"$SCALE") + 1)))"

	# a. The four side by side: name and URL of each.
	for n in mpgate-proxy-sess mpgate-fcgid-sess modpython-session; do
		log "sessions: start $n"
		start_system "$n" "${sports[$j]}" "$sb/$n"
		j=$((j + 1))
	done
	local targets=("mpgate-proxy $(url "$sb/mpgate-proxy-sess")" "mpgate-fcgid $(url "$sb/mpgate-fcgid-sess")"
		"modpython-file $(url "$sb/modpython-session" 1)" "modpython-dbm $(url "$sb/modpython-session" 2)")
	log "sessions: settle mpgate-fcgid, then warm-up ($WARM per system, per-conn and shared)"
	settle "$sb/mpgate-fcgid-sess" 16
	for t in "${targets[@]}"; do
		for mode in per-conn shared; do
			"$sl" -url "${t#* }" -c 16 -d "$WARM" -mode "$mode" >/dev/null 2>>"$sb/raw/sessload.err" || true
		done
	done
	SESSLOAD_KEYS="requests errors rps p50_ms p99_ms max_ms"
	printf 'rep\tmode\tname\trequests\terrors\trps\tp50_ms\tp99_ms\tmax_ms\n' >"$root/sessions-runs.tsv"
	log "sessions: REPS=$REPS x {per-conn, shared} x 4 systems at 16 connections, DUR=$DUR each"
	for rep in $(seq "$REPS"); do
		for mode in per-conn shared; do
			for t in "${targets[@]}"; do
				line=$("$sl" -url "${t#* }" -c 16 -d "$DUR" -mode "$mode" 2>>"$sb/raw/sessload.err") || true
				echo "$rep $mode ${t%% *} $line" >>"$sb/raw/sessload.txt"
				printf '%s\t%s\t%s\t%s\n' "$rep" "$mode" "${t%% *}" "$(sessload_tsv "$line")" >>"$root/sessions-runs.tsv"
			done
		done
	done
	# Lost updates: 50 connections, 500 increments of one shared session, REPS times each.
	SESSLOAD_KEYS="start ok_increments final lost_updates requests errors rps"
	printf 'rep\tname\tstart\tok_increments\tfinal\tlost_updates\trequests\terrors\trps\n' >"$root/sessions-check.tsv"
	log "sessions: lost-update checks (50 connections x 500 increments, one session), $REPS each"
	for rep in $(seq "$REPS"); do
		for t in "${targets[@]}"; do
			line=$("$sl" -url "${t#* }" -c 50 -n 500 -mode shared -check 2>>"$sb/raw/sessload.err" | tr '\n' ' ') || true
			echo "check $rep ${t%% *} $line" >>"$sb/raw/sessload.txt"
			printf '%s\t%s\t%s\n' "$rep" "${t%% *}" "$(sessload_tsv "${line/check: /}")" >>"$root/sessions-check.tsv"
		done
	done
	for n in mpgate-proxy-sess mpgate-fcgid-sess modpython-session; do stop_system "$sb/$n"; done

	# b. Scale: one mpgate-proxy per size, each on a database sessfill filled while no daemon had
	# it open (data: the pickled dict sess.py saves, as mod_python's BaseSession.save builds it).
	"$py" -c 'import pickle, sys, time
t = time.time()
sys.stdout.buffer.write(pickle.dumps({"_data": {"n": 1}, "_created": t, "_accessed": t, "_timeout": 3600}))' >"$sb/data.pickle"
	printf 'sessions\tfill\tstart_s\tfile_bytes\tdisk_kb\tdaemon_rss_kb\tdaemon_pss_kb\tafter_rss_kb\tafter_pss_kb\tworkers\tworker_pss_kb\tafter_file_bytes\tafter_disk_kb\n' >"$root/sessions-scale.tsv"
	printf 'rep\tsessions\trequests\terrors\trps\tp50_ms\tp99_ms\tmax_ms\n' >"$root/sessions-scale-runs.tsv"
	local -A fills starts sizes
	for size in $SCALE; do
		d=$sb/scale-$size
		log "sessions: scale, fill $size sessions"
		fills[$size]=$("$fill" -db "$sb/db-$size/sessions.db" -n "$size" -data "$sb/data.pickle" | tr ' ' ',')
		t0=$(date +%s.%N)
		daemon_args="--session-db $sb/db-$size/sessions.db" start_system mpgate-proxy-sess-scale "${sports[$j]}" "$d"
		starts[$size]=$(echo "$(date +%s.%N) - $t0" | bc)
		sizes[$size]="$(stat -c %s "$sb/db-$size/sessions.db")	$(du -k "$sb/db-$size/sessions.db" | cut -f1)"
		j=$((j + 1))
	done
	sleep 1
	for size in $SCALE; do
		d=$sb/scale-$size
		"$here/procs.py" mem "$d" >"$sb/raw/mem-$size-before.tsv"
		"$sl" -url "$(url "$d")" -c 16 -d "$WARM" -mode per-conn >/dev/null 2>>"$sb/raw/sessload.err" || true
	done
	SESSLOAD_KEYS="requests errors rps p50_ms p99_ms max_ms"
	log "sessions: scale, REPS=$REPS x per-conn at 16 connections over $SCALE stored sessions, DUR=$DUR each"
	for rep in $(seq "$REPS"); do
		for size in $SCALE; do
			line=$("$sl" -url "$(url "$sb/scale-$size")" -c 16 -d "$DUR" -mode per-conn 2>>"$sb/raw/sessload.err") || true
			echo "scale $rep $size $line" >>"$sb/raw/sessload.txt"
			printf '%s\t%s\t%s\n' "$rep" "$size" "$(sessload_tsv "$line")" >>"$root/sessions-scale-runs.tsv"
		done
	done
	for size in $SCALE; do
		d=$sb/scale-$size
		"$here/procs.py" mem "$d" >"$sb/raw/mem-$size-after.tsv"
		local db=$sb/db-$size/sessions.db before=$sb/raw/mem-$size-before.tsv after=$sb/raw/mem-$size-after.tsv
		# Before: the daemon on its filled database, after start and one request; after: after the
		# warm-up and the runs (which add a session per connection and append every save).
		printf '%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "${fills[$size]}" "${starts[$size]}" "${sizes[$size]}" \
			"$(awk '$1 == "daemon" {print $3}' "$before")" "$(awk '$1 == "daemon" {print $4}' "$before")" \
			"$(awk '$1 == "daemon" {print $3}' "$after")" "$(awk '$1 == "daemon" {print $4}' "$after")" \
			"$(awk '$1 == "worker" {print $2}' "$after")" "$(awk '$1 == "worker" {print $4}' "$after")" \
			"$(stat -c %s "$db")" "$(du -k "$db" | cut -f1)" >>"$root/sessions-scale.tsv"
		stop_system "$d"
	done

	# c. Purge: PURGE_N sessions that all expire at the whole second E (buntdb, told to drop them at
	# E+1 s, has not yet), the daemon up on them; at E + 50 ms, `mpgate sessions purge`.
	d=$sb/purge
	e=$(($(date +%s) + 20))
	acc=$((e - 1800))
	log "sessions: purge, fill $PURGE_N sessions expiring at $(date -d "@$e" +%T)"
	fills[purge]=$("$fill" -db "$sb/db-purge/sessions.db" -n "$PURGE_N" -data "$sb/data.pickle" -accessed "$acc" -timeout 30m | tr ' ' ',')
	daemon_args="--session-db $sb/db-purge/sessions.db" start_system mpgate-proxy-sess-purge "${sports[$j]}" "$d"
	local late=0 size_before
	size_before=$(stat -c %s "$sb/db-purge/sessions.db")
	if [ "$(date +%s)" -ge "$e" ]; then late=1; log "sessions: purge: the daemon was up only after the sessions expired"; fi
	while [ "$(date +%s%N)" -lt "$((e * 1000000000 + 50000000))" ]; do sleep 0.01; done
	t0=$(date +%s%N)
	"$bin" sessions purge --run-dir "$d/mprun" --json >"$sb/raw/purge.json" 2>&1 || true
	purge_s=$(echo "($(date +%s%N) - $t0) / 1000000000" | bc -l)
	sleep 2
	"$bin" sessions list --run-dir "$d/mprun" --json >"$sb/raw/purge-list.json" 2>&1 || true
	printf 'n\tfill\tlate\tpurge_s\tremoved\tleft_after_2s\tfile_bytes_before\tfile_bytes_after\tpurge_output\n' >"$root/sessions-purge.tsv"
	printf '%s\t%s\t%s\t%.3f\t%s\t%s\t%s\t%s\t%s\n' "$PURGE_N" "${fills[purge]}" "$late" "$purge_s" \
		"$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("count", 0))' "$sb/raw/purge.json" 2>/dev/null || echo "?")" \
		"$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("count", 0))' "$sb/raw/purge-list.json" 2>/dev/null || echo "?")" \
		"$size_before" "$(stat -c %s "$sb/db-purge/sessions.db")" "$(tr '\n\t' '  ' <"$sb/raw/purge.json" | cut -c1-200)" >>"$root/sessions-purge.tsv"
	stop_system "$d"
}

# --- 6. api (issue 5): publisher, PSP, util.FieldStorage upload, 10 MiB downloads -------------
# api_wrk OUT CASE URL DUR: one wrk run of CASE (16 connections for publisher and psp, 4 for the
# 10 MiB cases, whose requests may take seconds: wrk's timeout raised to 30 s; uploads POST
# $api_body through upload.lua).
api_wrk() {
	local out=$1 c=$2 u=$3 dur=$4 meta
	case $c in
	publisher | psp) wrk -t2 -c16 -d"$dur" --latency "$u" >"$out" 2>&1 || true ;;
	upload)
		meta=$api_body.meta
		API_BODY=$api_body API_BOUNDARY=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["boundary"])' "$meta") \
			wrk -t2 -c4 -d"$dur" --timeout 30s --latency -s "$here/upload.lua" "$u" >"$out" 2>&1 || true
		;;
	*) wrk -t2 -c4 -d"$dur" --timeout 30s --latency "$u" >"$out" 2>&1 || true ;;
	esac
}
# api_line FILE: "conns requests rps p50_ms p99_ms errors MB_per_s" from wrk's output.
api_line() {
	awk '
	function ms(v) { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) ; else if (v ~ /s$/) n *= 1000; return n }
	function mb(v) { n = v + 0; if (v ~ /GB$/) n *= 1024; else if (v ~ /KB$/) n /= 1024; else if (v ~ /B$/ && v !~ /MB$/) n /= 1048576; return n }
	/threads and .* connections/ { c = $4 }
	/ requests in / { req = $1 }
	/^Requests\/sec/ { rps = $2 }
	/^Transfer\/sec/ { t = mb($2) }
	$1 == "50%" { p50 = ms($2) }
	$1 == "99%" { p99 = ms($2) }
	/Socket errors|Non-2xx/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) e += $i }
	END { printf "%s\t%s\t%s\t%.3f\t%.3f\t%d\t%.1f\n", c, req, rps, p50, p99, e, t }' "$1"
}
phase_api() {
	local ab=$root/api n d c k rep mb systems="mpgate-proxy-api mpgate-fcgid-api modpython-api"
	mkdir -p "$ab/raw" "$root/sites"
	cp -r "$here"/sites/api-* "$root/sites/"
	"$py" "$here/apiload.py" blob "$root/sites/api-sendfile/blob.bin"
	for mb in $(echo 10 $UPLOAD_MB | tr ' ' '\n' | sort -nu); do
		"$py" "$here/apiload.py" body "$mb" "$ab/upload-$mb.body"
	done
	api_body=$ab/upload-10.body
	start_systems api "$ab" $systems
	# Every answer once, checked (and its MD5 kept: mpgate's must be mod_python's).
	printf 'name\tcase\tstatus\tbytes\tmd5\tok\tdetail\n' >"$root/api-check.tsv"
	for n in $systems; do
		"$py" "$here/apiload.py" check "${n%-api}" "$(origin "$ab/$n")" "$api_body" >>"$root/api-check.tsv" ||
			log "api: $n answered some case wrongly (see api-check.tsv; its runs are still made)"
	done
	log "api: settle mpgate-fcgid, then warm-up ($WARM per system and case)"
	settle "$ab/mpgate-fcgid-api" 16
	for c in $api_cases; do
		k=$(($(tr ' ' '\n' <<<"$api_cases" | grep -nx "$c" | cut -d: -f1) + 1))
		for n in $systems; do api_wrk "$ab/raw/warm-$c-$n.txt" "$c" "$(url "$ab/$n" "$k")" "$WARM"; done
	done
	log "api: REPS=$REPS x {$api_cases} x 3 systems, DUR=$DUR each"
	printf 'rep\tcase\tname\tconns\trequests\trps\tp50_ms\tp99_ms\terrors\tmb_per_s\n' >"$root/api-runs.tsv"
	for rep in $(seq "$REPS"); do
		for c in $api_cases; do
			k=$(($(tr ' ' '\n' <<<"$api_cases" | grep -nx "$c" | cut -d: -f1) + 1))
			for n in $systems; do
				api_wrk "$ab/raw/$c-$n-$rep.txt" "$c" "$(url "$ab/$n" "$k")" "$DUR"
				printf '%s\t%s\t%s\t%s\n' "$rep" "$c" "${n%-api}" "$(api_line "$ab/raw/$c-$n-$rep.txt")" >>"$root/api-runs.tsv"
			done
		done
	done
	# Peak RSS during uploads: for each system, a warm-up of concurrent uploads, then for each
	# size (smallest first) UPLOADS uploads one after the other, VmHWM reset before, read after.
	log "api: peak RSS during uploads of $UPLOAD_MB MiB, $UPLOADS each"
	printf 'name\tmib\trole\tprocs\trss_kb\thwm_kb\tgrowth_kb\tpid\treset\tfailed\n' >"$root/api-mem.tsv"
	for n in $systems; do
		# shellcheck disable=SC2046
		"$py" "$here/apiload.py" hwm "${n%-api}" "$ab/$n" "$(origin "$ab/$n")" "$UPLOADS" \
			$(for mb in $(echo $UPLOAD_MB | tr ' ' '\n' | sort -nu); do echo "$ab/upload-$mb.body"; done) \
			>>"$root/api-mem.tsv" 2>>"$ab/raw/hwm.err" || log "api: upload memory of $n failed; see $ab/raw/hwm.err"
	done
	for n in $systems; do stop_system "$ab/$n"; done
	rm -f "$ab"/upload-*.body
}

# --- 7. gateway: transports and authorizers --------------------------------------------------
gw_user=alice:secret
gw_auth="Authorization: Basic $(printf %s "$gw_user" | base64)"
gw_cases="open-1 open-16 secure-1 secure-16 denied-16"
gw_systems="modpython-gw mpgate-proxy-gw mpgate-fcgid-gw mpgate-cgi-gw"

# start_gateway VIA PORT WORK: the gateway site (open/ and secure/, see the header) behind the
# anchors' base Apache, served by mod_python embedded (VIA modpython) or by mpgate through VIA,
# with the Apache lines `mpgate migrate --apply` writes into the site's configuration.
start_gateway() {
	local via=$1 port=$2 work=$3 run=$3/mprun d aport
	base_of "$work" "$port"
	mkdir -p "$work/bin" "$run" "$work/htdocs/open" "$work/htdocs/secure"
	for d in open secure; do cp "$work/htdocs/mp/hello.py" "$work/htdocs/$d/"; done
	cat >"$work/htdocs/secure/auth.py" <<-EOF
		# The gateway phase's PythonAuthenHandler (scripts/bench.sh).
		from mod_python import apache


		def authenhandler(req):
		    pw = req.get_basic_auth_pw()
		    if req.user == "${gw_user%%:*}" and pw == "${gw_user#*:}":
		        return apache.OK
		    return apache.HTTP_UNAUTHORIZED
	EOF
	# As a Debian mod_python site writes it: mod_auth_basic, loaded first, needs a user file
	# that declines, or it answers 500 before the PythonAuthenHandler runs.
	cat >"$work/site.conf" <<-EOF
		# The gateway phase's mod_python site (scripts/bench.sh).
		<Directory $work/htdocs/open>
		    SetHandler mod_python
		    PythonHandler hello
		</Directory>
		<Directory $work/htdocs/secure>
		    SetHandler mod_python
		    PythonHandler hello
		    PythonAuthenHandler auth
		    AuthType Basic
		    AuthName "gateway"
		    AuthBasicProvider file
		    AuthUserFile /dev/null
		    AuthBasicAuthoritative Off
		    Require valid-user
		</Directory>
	EOF
	echo "/open/hello /secure/hello" >"$work/url"
	{
		echo "# The gateway phase (scripts/bench.sh): authentication modules, then the site."
		for d in authn_core authn_file auth_basic authz_user; do
			printf '<IfModule !%s_module>\n    LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n</IfModule>\n' "$d" "$d" "$d"
		done
	} >>"$work/httpd.conf"
	if [ "$via" = modpython ]; then
		cat >>"$work/httpd.conf" <<-EOF
			LoadModule python_module /usr/lib/apache2/modules/mod_python.so
			PythonOption mod_python.mutex_directory $work/run
			Include $work/site.conf
		EOF
		own "$work"
	else
		cp "$bin" "$work/bin/mpgate"
		local margs=(--config "$work/site.conf" --server-root "$work" --via "$via" --run-dir "$run"
			--snippet-dir "$work/snip" --mpgate "$work/bin/mpgate" --apply --check-command true)
		if [ "$via" = proxy ]; then
			aport=$(free_ports 1)
			margs+=(--authz-port "$aport")
		fi
		"$work/bin/mpgate" migrate "${margs[@]}" >"$work/logs/migrate.log" 2>&1 ||
			{ log "mpgate migrate failed; see $work/logs/migrate.log"; return 1; }
		echo "Include $work/site.conf" >>"$work/httpd.conf"
		own "$work"
		if [ "$via" = proxy ]; then
			start_daemon "$work" --config "$work/site.conf" --run-dir "$run" --server-root "$work" \
				--python "$py" --authz-listen "127.0.0.1:$aport" || return 1
		fi
	fi
	start_apache "$work" "$port"
}

# gw_url WORK CASE: the URL a gateway case requests.
gw_url() {
	case $2 in
	open-*) url "$1" 1 ;;
	*) url "$1" 2 ;;
	esac
}
# gw_wrk OUT WORK CASE DUR: one wrk run of a gateway case.
gw_wrk() {
	local c=${3##*-} t=2 hdr=()
	[ "$c" -lt 2 ] && t=1
	case $3 in secure-*) hdr=(-H "$gw_auth") ;; esac
	wrk -t$t -c"$c" -d"$4" --latency "${hdr[@]}" "$(gw_url "$2" "$3")" >"$1" 2>&1 || true
}
phase_gateway() {
	local gb=$root/gateway n c rep code body
	mkdir -p "$gb/raw"
	start_systems gateway "$gb" $gw_systems
	# Every case's answer once: mpgate's must be mod_python's (status, and body when 200).
	printf 'name\tcase\tstatus\tbody\tok\n' >"$root/gateway-check.tsv"
	for n in $gw_systems; do
		for c in open secure denied; do
			local want=200 args=()
			[ "$c" = secure ] && args=(-H "$gw_auth")
			[ "$c" = denied ] && want=401
			body=$(curl -s "${args[@]}" -w '\n%{http_code}' "$(gw_url "$gb/$n" "$c-1")") || true
			code=${body##*$'\n'} body=${body%$'\n'*}
			body=${body%$'\n'} # hello.py's own newline
			local ok=yes
			if [ "$code" != "$want" ] || { [ "$want" = 200 ] && [ "$body" != "Hello world" ]; }; then
				ok=no
				log "gateway: $n answered $c with $code"
			fi
			printf '%s\t%s\t%s\t%s\t%s\n' "${n%-gw}" "$c" "$code" "$(head -c 40 <<<"$body" | tr '\t\n' '  ')" "$ok" >>"$root/gateway-check.tsv"
		done
	done
	# mpgate-fcgid settled on secure/ (its requests use relays for the authenticator and the
	# handler): 3 s slices at 16 connections until the process count stops growing; that is its
	# warm-up, the others get WARM on secure/ (handler and authentication handler imported).
	local before after k fc=$gb/mpgate-fcgid-gw
	log "gateway: settle mpgate-fcgid on secure/, then warm-up ($WARM at 16 connections on secure/ each)"
	for k in $(seq 10); do
		before=$("$here/procs.py" count "$fc")
		gw_wrk "$gb/raw/settle-$k.txt" "$fc" secure-16 3s
		after=$("$here/procs.py" count "$fc")
		[ "$after" -le "$before" ] && break
	done
	log "gateway: mpgate-fcgid settled at $after processes"
	for n in $gw_systems; do
		[ "$n" = mpgate-fcgid-gw ] || gw_wrk "$gb/raw/warm-$n.txt" "$gb/$n" secure-16 "$WARM"
	done
	log "gateway: REPS=$REPS x {$gw_cases} x 4 systems, GW_DUR=$GW_DUR each"
	printf 'rep\tcase\tname\tconns\trequests\trps\tp50_ms\tp99_ms\terrors\tmb_per_s\n' >"$root/gateway-runs.tsv"
	for rep in $(seq "$REPS"); do
		for c in $gw_cases; do
			for n in $gw_systems; do
				gw_wrk "$gb/raw/$c-$n-$rep.txt" "$gb/$n" "$c" "$GW_DUR"
				printf '%s\t%s\t%s\t%s\n' "$rep" "$c" "${n%-gw}" "$(api_line "$gb/raw/$c-$n-$rep.txt")" >>"$root/gateway-runs.tsv"
			done
		done
	done
	log "gateway: mpgate-fcgid at $("$here/procs.py" count "$fc") processes after the runs"
	for n in $gw_systems; do stop_system "$gb/$n"; done
}

# start_systems PHASE DIR NAME...: start each system NAME fresh in DIR/NAME, on a free port each.
start_systems() {
	local phase=$1 dir=$2 sports j=0 n
	shift 2
	read -r -a sports <<<"$(free_ports $#)"
	for n in "$@"; do
		log "$phase: start $n"
		start_system "$n" "${sports[$j]}" "$dir/$n"
		j=$((j + 1))
	done
}

# stop_started: stop every system started so far.
stop_started() {
	local w
	for w in "${started[@]}"; do stop_system "$w"; done
	started=()
}

for p in $all_phases; do
	has_phase "$p" || continue
	"phase_$p"
	# The profile phase reuses the systems the throughput phase started.
	if [ "$p" != throughput ] || ! has_phase profile; then stop_started; fi
done

printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$root/machine.tsv"
printf 'elapsed\t%s\n' "$(($(date +%s) - t_start)) s" >>"$root/machine.tsv"
"$here/report.py" "$root" "$OUT"
log "wrote $OUT (raw TSV and wrk output in $root)"
