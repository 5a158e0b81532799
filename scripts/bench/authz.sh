#!/usr/bin/env bash
# authz.sh: the cost of PythonAuthenHandler through the FastCGI authorizers (issue 6): the same
# hello handler with and without `AuthType Basic` + `Require valid-user` + PythonAuthenHandler,
# served by `mpgate preview` through mod_proxy_fcgi (the check goes to mod_authnz_fcgi, then the
# daemon's --authz-listen port) and mod_fcgid (FcgidAuthenticator, through a relay), measured
# with wrk: one connection (latency per request) and 16 connections (throughput).
#
# Usage: scripts/bench/authz.sh [DURATION]      (default 10s per run; needs wrk and the Debian
#        Apache modules `make run` installs; run as root or as a user that can run preview)
# Env:   MPGATE=path/to/mpgate (default: built from this tree into the scratch directory)
set -euo pipefail
DUR=${1:-10s}
here=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d /tmp/mpgate-authz-bench.XXXXXX)
chmod 755 "$scratch"
trap 'rm -rf "$scratch"' EXIT
mpgate=${MPGATE:-}
if [ -z "$mpgate" ]; then
    mpgate=$scratch/mpgate
    (cd "$here" && go build -o "$mpgate" ./cmd/mpgate)
fi
site=$scratch/site
mkdir -p "$site/htdocs/open" "$site/htdocs/secure"
cat > "$site/htdocs/open/hello.py" <<'PY'
from mod_python import apache
def handler(req):
    req.content_type = "text/plain"
    req.write("Hello world\n")
    return apache.OK
PY
cp "$site/htdocs/open/hello.py" "$site/htdocs/secure/hello.py"
cat > "$site/htdocs/secure/auth.py" <<'PY'
from mod_python import apache
def authenhandler(req):
    pw = req.get_basic_auth_pw()
    if req.user == "alice" and pw == "secret":
        return apache.OK
    return apache.HTTP_UNAUTHORIZED
PY
cat > "$site/site.conf" <<CONF
DocumentRoot $site/htdocs
<Directory $site/htdocs>
    Require all granted
</Directory>
<Directory $site/htdocs/open>
    SetHandler mod_python
    PythonHandler hello
</Directory>
<Directory $site/htdocs/secure>
    SetHandler mod_python
    PythonHandler hello
    AuthType Basic
    AuthName "bench"
    Require valid-user
    PythonAuthenHandler auth
</Directory>
CONF
chmod -R a+rX "$site"
auth="Authorization: Basic $(printf alice:secret | base64)"

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_wrk() { # URL CONNS [HEADER]
    local out
    if [ $# -ge 3 ]; then
        out=$(wrk -t "$(( $2 < 2 ? 1 : 2 ))" -c "$2" -d "$DUR" --latency -H "$3" "$1")
    else
        out=$(wrk -t "$(( $2 < 2 ? 1 : 2 ))" -c "$2" -d "$DUR" --latency "$1")
    fi
    local rps lat non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    lat=$(awk '/^ +50%/ {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    printf '%10s req/s  p50 %8s%s\n' "$rps" "$lat" "${non2xx:+  NON-2xx: $non2xx}"
}

for via in proxy fcgid; do
    port=$(freeport)
    dir=$scratch/preview-$via
    log=$scratch/preview-$via.log
    "$mpgate" preview "$site/site.conf" --listen "127.0.0.1:$port" --via "$via" --run-dir "$dir" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do
        grep -q "serving" "$log" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
        sleep 0.1
    done
    base=http://127.0.0.1:$port
    # Both answer 200, and the protected one 401 without credentials.
    curl -fsS "$base/open/x" >/dev/null
    curl -fsS -H "$auth" "$base/secure/x" >/dev/null
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/secure/x")" = 401 ]
    # Warm-up: relays, workers.
    wrk -t2 -c16 -d3s "$base/open/x" >/dev/null
    wrk -t2 -c16 -d3s -H "$auth" "$base/secure/x" >/dev/null
    echo "== $via ($DUR per run)"
    printf '  %-34s' "unauthenticated, 1 connection:";  run_wrk "$base/open/x" 1
    printf '  %-34s' "authenticated, 1 connection:";    run_wrk "$base/secure/x" 1 "$auth"
    printf '  %-34s' "unauthenticated, 16 connections:"; run_wrk "$base/open/x" 16
    printf '  %-34s' "authenticated, 16 connections:";   run_wrk "$base/secure/x" 16 "$auth"
    kill -TERM "$pid"
    wait "$pid" || true
done
