#!/usr/bin/env bash
# Installs what tests/slurm/run.sh needs (idempotent; Debian/Ubuntu, as root):
#   slurmctld slurmd slurm-client munge   a one-node Slurm cluster started by the test
#   netcdf-bin                            ncdump, an independent reader of summary.nc
#   python3-venv                          for the throw-away venv below
# and a Python venv at /var/tmp/tufield-pyenv with xarray, h5netcdf and netCDF4 (the
# independent netCDF readers). The Debian packages' own services are not started here
# (the test starts its own daemons in a temporary directory).
set -euo pipefail
pkgs=(slurmctld slurmd slurm-client munge netcdf-bin python3-venv)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages' services from starting on install (policy-rc.d, removed after).
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$created_policy" = 1 ] && rm -f "$policy"
  else
    echo "the Slurm test needs these system packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
venv=/var/tmp/tufield-pyenv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import xarray, h5netcdf, netCDF4' 2>/dev/null; then
  echo "creating the Python venv $venv (xarray, h5netcdf, netCDF4)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q xarray h5netcdf netCDF4
fi
