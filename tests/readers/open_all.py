"""Opens every group of every given tufield output with the independent netCDF readers.

Usage: python open_all.py FILE.h5 [FILE.h5 ...]

For each file: netCDF4-python walks the group tree; xarray opens every group with the
engines ``h5netcdf`` and ``netcdf4`` and loads its data; ``ncdump -h`` lists the file;
h5py reads the last density snapshot as the README shows (solve files).
Checks the CF root attributes and that every dimension name is an identifier.
Prints one line per file and exits 1 on the first failure.
"""

import re
import subprocess
import sys

import h5py
import netCDF4
import xarray as xr

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def groups(ds, prefix="/"):
    yield prefix, ds
    for name, g in ds.groups.items():
        yield from groups(g, prefix.rstrip("/") + "/" + name)


def check(path):
    n_groups = n_vars = 0
    with netCDF4.Dataset(path) as ds:
        for attr in ("Conventions", "title", "source", "history", "scenario"):
            if attr not in ds.ncattrs():
                raise AssertionError(f"{path}: root attribute {attr} missing")
        if ds.getncattr("Conventions") != "CF-1.10":
            raise AssertionError(f"{path}: Conventions = {ds.getncattr('Conventions')!r}")
        paths = []
        for gpath, g in groups(ds):
            for dname in g.dimensions:
                if not IDENT.match(dname):
                    raise AssertionError(f"{path}:{gpath}: dimension name {dname!r}")
            for vname, v in g.variables.items():
                v[...]  # read the data through netCDF-C
                if vname in g.dimensions and len(v.dimensions) == 1:
                    if "long_name" not in v.ncattrs():
                        raise AssertionError(f"{path}:{gpath}/{vname}: no long_name")
            paths.append(gpath)
    for gpath in paths:
        for engine in ("h5netcdf", "netcdf4"):
            kw = {} if gpath == "/" else {"group": gpath}
            with xr.open_dataset(path, engine=engine, decode_times=False, **kw) as x:
                x.load()
                n_vars += len(x.variables) if engine == "h5netcdf" else 0
        n_groups += 1
    with h5py.File(path, "r") as f:
        if "populations/0/density" in f:
            last = f["populations/0/density"][-1]
            if last.shape != f["populations/0/density"].shape[1:] or not (last >= 0).all():
                raise AssertionError(f"{path}: h5py read density[-1] of shape {last.shape}")
    out = subprocess.run(["ncdump", "-h", path], capture_output=True, text=True)
    if out.returncode != 0 or "netcdf" not in out.stdout:
        raise AssertionError(f"ncdump -h {path} failed: {out.stderr.strip()}")
    print(f"ok {path}: {n_groups} groups, {n_vars} variables, ncdump -h {len(out.stdout.splitlines())} lines")
    return n_groups


def main(files):
    total = 0
    for f in files:
        try:
            total += check(f)
        except Exception as e:  # report the file and the reader's message
            print(f"FAIL {f}: {type(e).__name__}: {e}")
            return 1
    print(f"all {len(files)} files, {total} groups opened by netCDF4, h5netcdf, netcdf4, ncdump")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
