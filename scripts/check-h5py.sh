#!/usr/bin/env bash
# Reads a `tufield solve` output with h5py in a throw-away virtual environment
# (output/.venv) as an independent check of the HDF5 contract. Not needed to build or test.
#   scripts/check-h5py.sh output/lqc_2d_chain3.h5
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${TUFIELD_VENV:-$here/../output/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q h5py numpy
fi
"$venv/bin/python" "$here/check_h5py.py" "${1:-output/lqc_2d_chain3.h5}"
