#!/usr/bin/env bash
# Installs the independent readers that `make test-readers` starts (idempotent):
#   netcdf-bin                 ncdump, the netCDF-C command-line reader
#   paraview python3-paraview  pvpython, ParaView's headless Python
#   python3-venv               for the throw-away venv below
# and a venv (TUFIELD_PYENV, default /var/tmp/tufield-pyenv) with xarray, h5netcdf and
# netCDF4 (netCDF4-python, which bundles netCDF-C).
set -euo pipefail
pyenv="${TUFIELD_PYENV:-/var/tmp/tufield-pyenv}"
pkgs=(netcdf-bin paraview python3-paraview python3-venv)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "the reader tests need these system packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
if ! "$pyenv/bin/python" -c 'import xarray, h5netcdf, netCDF4' >/dev/null 2>&1; then
  echo "creating the reader venv $pyenv (xarray, h5netcdf, netCDF4)" >&2
  python3 -m venv "$pyenv"
  "$pyenv/bin/pip" install -q xarray h5netcdf netCDF4
fi
