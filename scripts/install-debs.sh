#!/usr/bin/env bash
# install-debs.sh PACKAGE...: install the Debian packages that are missing.
# As root it runs apt-get; otherwise it prints the command to run.
set -euo pipefail
missing=()
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages: ${missing[*]}" >&2
	echo "run: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Serialised with the tests' own installs (internal/apachetest).
exec 9>/var/lock/mpgate-apt.lock
flock 9
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || {
	apt-get update -q >&2
	apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}
