#!/usr/bin/env bash
# Installs what tests/slurm/run.sh needs (idempotent; Debian/Ubuntu, as root):
#   slurmctld slurmd slurm-client munge   a one-node Slurm cluster started by the test
#   netcdf-bin                            ncdump, an independent reader of summary.nc
#   python3-venv                          for the throw-away venv below
# and a Python venv at /var/tmp/tufield-pyenv with xarray, h5netcdf and netCDF4 (the
# independent netCDF readers). The Debian packages' own services are not started here
# (the test starts its own daemons in a temporary directory).
set -euo pipefail
here="$(dirname "$0")"
NO_SERVICES=1 bash "$here/apt-install-missing.sh" "the Slurm test needs" \
  slurmctld slurmd slurm-client munge netcdf-bin python3-venv
bash "$here/python-readers.sh" /var/tmp/tufield-pyenv
