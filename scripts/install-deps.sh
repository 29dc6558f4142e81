#!/usr/bin/env bash
# Installs the system libraries tufield links against (idempotent).
#   libopenblas-dev  BLAS/LAPACK for ndarray-linalg (feature openblas-system)
#   libhdf5-dev      HDF5 C library for the hdf5-metno crate
#   pkg-config       lets the -sys crates find both
#   hdf5-tools       h5dump/h5ls, used by the tests to check that output files read back
set -euo pipefail
pkgs=(libopenblas-dev libhdf5-dev pkg-config hdf5-tools)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "tufield needs these system packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
