"""Opens a tufield XDMF sidecar with ParaView's XDMF reader and checks it.

Usage: pvpython --force-offscreen-rendering paraview_check.py FILE.xmf SPEC_JSON

SPEC_JSON: {"snapshots": S, "blocks": B, "points": N, "block_bounds": [[[lo, hi], ...], ...],
"arrays": {NAME: [min, max], ...}} with, per block, the grid's axes in dataset order (the last
axis is ParaView's X). Checks: one time step per snapshot, B blocks of N points each whose
bounds equal the grid's extent, the integral of every block's density at the last snapshot is
1 to 1e-6 (ParaView's vtkIntegrateAttributes), and every array of "arrays" is present in
every block with, in the first block at the last snapshot, the range [min, max] read from
the HDF5 file (the drift fields' components). Prints the figures; exits 1 on a failed
check.
"""

import json
import sys

from paraview import servermanager as sm
from paraview.simple import XDMFReader

try:
    from vtkmodules.vtkFiltersParallel import vtkIntegrateAttributes
except ImportError:  # moved between VTK versions
    from vtkmodules.vtkFiltersCore import vtkIntegrateAttributes


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


def leaves(obj):
    if obj is None:
        return []
    if obj.IsA("vtkMultiBlockDataSet"):
        out = []
        for i in range(obj.GetNumberOfBlocks()):
            out.extend(leaves(obj.GetBlock(i)))
        return out
    return [obj]


def main(xmf, spec):
    reader = XDMFReader(FileNames=[xmf])
    reader.UpdatePipelineInformation()
    times = list(reader.TimestepValues)
    if len(times) != spec["snapshots"]:
        fail(f"{len(times)} time steps, expected {spec['snapshots']}")
    reader.UpdatePipeline(times[-1])
    blocks = leaves(sm.Fetch(reader))
    if len(blocks) != spec["blocks"]:
        fail(f"{len(blocks)} blocks, expected {spec['blocks']}")
    worst = 0.0
    for b, bounds in zip(blocks, spec["block_bounds"]):
        # Expected bounds in ParaView's (x, y, z): the last dataset axis is x.
        axes = list(reversed(bounds))
        while len(axes) < 3:
            axes.append([0.0, 0.0])
        if b.GetNumberOfPoints() != spec["points"]:
            fail(f"{b.GetNumberOfPoints()} points, expected {spec['points']}")
        got = b.GetBounds()
        for i, (lo, hi) in enumerate(axes):
            if abs(got[2 * i] - lo) > 1e-9 * max(1.0, abs(lo)) or abs(got[2 * i + 1] - hi) > 1e-9 * max(1.0, abs(hi)):
                fail(f"bounds {got}, expected {axes}")
        if b.GetPointData().GetArray("density") is None:
            fail("no density array")
        for name in spec.get("arrays", {}):
            if b.GetPointData().GetArray(name) is None:
                fail(f"no {name} array")
        integ = vtkIntegrateAttributes()
        integ.SetInputData(b)
        integ.Update()
        mass = integ.GetOutput().GetPointData().GetArray("density").GetValue(0)
        worst = max(worst, abs(mass - 1.0))
        if abs(mass - 1.0) > 1e-6:
            fail(f"density integral {mass!r} at t = {times[-1]}")
    for name, (lo, hi) in spec.get("arrays", {}).items():
        got = blocks[0].GetPointData().GetArray(name).GetRange()
        if abs(got[0] - lo) > 1e-12 * max(1.0, abs(lo)) or abs(got[1] - hi) > 1e-12 * max(1.0, abs(hi)):
            fail(f"{name}: range {got}, expected {[lo, hi]}")
    print(
        f"ok {xmf}: {len(times)} time steps, {len(blocks)} blocks of {spec['points']} points, "
        f"largest |integral - 1| = {worst:.3e}, arrays {sorted(spec.get('arrays', {}))}"
    )


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
