#!/usr/bin/env bash
# Installs the independent readers that `make test-readers` starts (idempotent):
#   netcdf-bin                 ncdump, the netCDF-C command-line reader
#   paraview python3-paraview  pvpython, ParaView's headless Python
#   python3-venv               for the throw-away venv below
# and a venv (TUFIELD_PYENV, default /var/tmp/tufield-pyenv) with xarray, h5netcdf and
# netCDF4 (netCDF4-python, which bundles netCDF-C).
set -euo pipefail
here="$(dirname "$0")"
bash "$here/apt-install-missing.sh" "the reader tests need" \
  netcdf-bin paraview python3-paraview python3-venv
bash "$here/python-readers.sh" "${TUFIELD_PYENV:-/var/tmp/tufield-pyenv}"
