"""Independent check (h5py) that a `tufield solve` file reads and follows its contract.

Usage: python check_h5py.py output/lqc_2d_chain3.h5
Reads every dataset and attribute, checks shapes, dimension scales, mass and positivity.
Not a dependency of tufield; scripts/check-h5py.sh runs it in a throw-away venv.
"""
import sys

import h5py
import numpy as np


def main(path):
    n_objects = 0
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            nonlocal n_objects
            n_objects += 1
            for key in obj.attrs:
                obj.attrs[key]  # every attribute decodes
            if isinstance(obj, h5py.Dataset):
                obj[()]  # every dataset reads
        f.visititems(visit)
        for key in f.attrs:
            f.attrs[key]
        for key in ["tufield_version", "scenario", "status", "iterations", "threads"]:
            assert key in f.attrs, f"root attribute {key} missing"
        steps = int(f.attrs["steps"])
        d = len(f.attrs["axis_labels"])
        assert f["time"].shape == (steps + 1,)
        snaps = f["snapshot_time"].shape[0]
        shape = tuple(f[f"grid/x{i}"].shape[0] for i in range(d))
        k = 0
        while f"populations/{k}" in f:
            g = f[f"populations/{k}"]
            assert isinstance(g.attrs["name"], str)
            assert g["mean"].shape == (steps + 1, d)
            dens = g["density"]
            assert dens.shape == (snaps,) + shape
            assert dens.chunks == (1,) + shape
            assert dens.compression == "gzip"
            assert dens.dims[0][0].name == "/snapshot_time"
            for i in range(d):
                assert dens.dims[i + 1][0].name == f"/grid/x{i}"
            assert np.all(dens[()] >= 0)
            assert np.allclose(g["mass"][()], 1.0, atol=1e-12)
            assert g["mean"].dims[0][0].name == "/time"
            k += 1
        assert k >= 1
        its = int(f.attrs["iterations"])
        assert f["fixed_point/residual"].shape == (its,)
        assert f["fixed_point/wall_s"].shape == (its,)
        assert "lq" in f and "exact" in f["lq"]
        print(f"{path}: h5py read {n_objects} objects; status {f.attrs['status']}, "
              f"{k} population(s), grid {shape}, {snaps} snapshots, {its} iterations: OK")


if __name__ == "__main__":
    main(sys.argv[1])
