#!/usr/bin/env bash
# Installs the Debian packages given after WHAT that are not installed yet (idempotent).
#   usage: apt-install-missing.sh "WHAT needs" PKG...
# As root with apt-get: installs them (with NO_SERVICES=1 the packages' own services are
# kept from starting, through a temporary policy-rc.d). Otherwise: prints the apt-get line
# to run and exits 1.
set -euo pipefail
what="$1"
shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "$what these system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ "${NO_SERVICES:-0}" = 1 ] && [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
apt-get update -qq
status=0
apt-get install -y -qq "${missing[@]}" >/dev/null || status=$?
[ "$created_policy" = 1 ] && rm -f "$policy"
exit "$status"
