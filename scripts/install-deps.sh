#!/usr/bin/env bash
# Installs the system libraries tufield links against (idempotent).
#   libopenblas-dev  BLAS/LAPACK for ndarray-linalg (feature openblas-system)
#   libhdf5-dev      HDF5 C library for the hdf5-metno crate
#   pkg-config       lets the -sys crates find both
#   hdf5-tools       h5dump/h5ls, used by the tests to check that output files read back
set -euo pipefail
bash "$(dirname "$0")/apt-install-missing.sh" "tufield needs" \
  libopenblas-dev libhdf5-dev pkg-config hdf5-tools
