#!/usr/bin/env bash
# Creates the throw-away Python venv $1 with the independent netCDF readers (xarray,
# h5netcdf, netCDF4) unless it already has them (idempotent).
set -euo pipefail
venv="$1"
if ! "$venv/bin/python" -c 'import xarray, h5netcdf, netCDF4' >/dev/null 2>&1; then
  echo "creating the reader venv $venv (xarray, h5netcdf, netCDF4)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q xarray h5netcdf netCDF4
fi
