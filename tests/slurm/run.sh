#!/usr/bin/env bash
# Tests `tufield sweep` on a real one-node Slurm cluster (run as root; `make test-slurm`
# installs the packages first):
#
# 1. starts munged, slurmctld and slurmd in a temporary state directory (generated munge
#    key, tests/slurm/slurm.conf.in with the node's real CPUs and memory); every daemon is
#    stopped by its process id when the script exits;
# 2. submits a 2 × 3 sweep with `tufield sweep --slurm --submit` (job array + gather job
#    with afterany), waits, and checks that the gathered summary equals that of a local
#    `--jobs 2` run bit for bit (wall times aside): summary.csv (shortest round-trip
#    numbers) and `ncdump -p 9,17` of summary.nc; xarray opens summary.nc with the
#    h5netcdf and netcdf4 engines when the venv /var/tmp/tufield-pyenv exists;
# 3. requeues a running array task (`scontrol requeue`: SIGTERM, then the task runs
#    again), and checks that it resumed from its checkpoint and that its result equals
#    an uninterrupted run bit for bit.
#
# Usage: tests/slurm/run.sh [TUFIELD_BINARY]   (default: $CARGO_TARGET_DIR/debug/tufield, the
# optimised dev build `make test` leaves behind)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tufield="${1:-${CARGO_TARGET_DIR:-$root/target}/debug/tufield}"
tufield="$(readlink -f "$tufield")"
[ -x "$tufield" ] || { echo "no tufield binary at $tufield (cargo build)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "tests/slurm/run.sh starts Slurm daemons and must run as root" >&2; exit 1; }
for tool in munged slurmctld slurmd sbatch squeue scontrol ncdump python3; do
    command -v "$tool" >/dev/null || { echo "$tool missing: run make test-slurm (installs slurmctld slurmd slurm-client munge netcdf-bin)" >&2; exit 1; }
done
export OPENBLAS_NUM_THREADS=1
started=$(date +%s)

state="$(mktemp -d /tmp/tufield-slurm.XXXXXX)"
chmod 755 "$state"
pids=()
cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    if [ "$rc" != 0 ]; then
        echo "--- slurmctld.log (tail)"; tail -n 30 "$state/slurmctld.log" 2>/dev/null || true
        echo "--- slurmd.log (tail)"; tail -n 30 "$state/slurmd.log" 2>/dev/null || true
        echo "state kept in $state"
    else
        rm -rf "$state"
    fi
    exit "$rc"
}
trap cleanup EXIT

pidof_file() { # waits for a pid file and prints its pid
    for _ in $(seq 100); do
        if [ -s "$1" ]; then cat "$1"; return 0; fi
        sleep 0.1
    done
    echo "no pid file $1" >&2; return 1
}

# --- munge ---------------------------------------------------------------------------
mkdir -p "$state/munge" "$state/ctld" "$state/d" "$state/work"
chmod 700 "$state/munge"
dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$state/munge/munge.key"
munged --force --key-file="$state/munge/munge.key" --socket="$state/munge/munge.socket" \
    --pid-file="$state/munge/munged.pid" --log-file="$state/munge/munged.log" \
    --seed-file="$state/munge/munged.seed"
pids+=("$(pidof_file "$state/munge/munged.pid")")

# --- slurm ---------------------------------------------------------------------------
host="$(hostname -s)"
node="$(slurmd -C | head -n 1)"
node="NodeName=$host ${node#NodeName=* }"
sed -e "s|@STATE@|$state|g" -e "s|@HOST@|$host|g" -e "s|@NODE@|$node|" \
    -e "s|@CTLD_PORT@|${TUFIELD_SLURMCTLD_PORT:-16817}|" -e "s|@D_PORT@|${TUFIELD_SLURMD_PORT:-16818}|" \
    "$here/slurm.conf.in" > "$state/slurm.conf"
export SLURM_CONF="$state/slurm.conf"
slurmctld -c -f "$SLURM_CONF"
pids+=("$(pidof_file "$state/slurmctld.pid")")
slurmd -f "$SLURM_CONF"
pids+=("$(pidof_file "$state/slurmd.pid")")
for _ in $(seq 300); do
    st="$(sinfo -h -o %T 2>/dev/null | head -n 1 || true)"
    [ "$st" = idle ] && break
    sleep 0.2
done
[ "$st" = idle ] || { echo "the node did not come up (state: ${st:-none})" >&2; exit 1; }
echo "slurm up after $(( $(date +%s) - started )) s: $node"

wait_jobs() { # waits until none of the given jobs is queued or running
    for _ in $(seq 1800); do
        [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
        sleep 0.5
    done
    echo "jobs $1 did not finish" >&2; squeue >&2; return 1
}

comparable_csv() { # summary.csv without the wall_time_s column
    python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
j = rows[0].index("wall_time_s")
for r in rows:
    print(",".join(r[:j] + r[j + 1:]))
PY
}

comparable_nc() { # ncdump with full precision, without wall_time data and history
    local vars
    vars="$(ncdump -h "$1" | sed -n 's/^\t[a-z0-9]* \([A-Za-z0-9_]*\)(.*/\1/p' | grep -vx wall_time | paste -sd,)"
    ncdump -p 9,17 -v "$vars" "$1" | grep -v ':history = '
}

check_xarray() {
    local py=/var/tmp/tufield-pyenv/bin/python
    if [ -x "$py" ]; then
        "$py" - "$1" <<'PY'
import sys, xarray as xr
for engine in ("h5netcdf", "netcdf4"):
    ds = xr.open_dataset(sys.argv[1], engine=engine)
    assert ds.attrs["Conventions"] == "CF-1.10"
    assert (ds.status == 1).all(), ds.status.values
    print(f"xarray ({engine}) reads {sys.argv[1]}: {dict(ds.sizes)}")
PY
    else
        echo "skipping the xarray check: no venv at $py (make test-slurm creates it)"
    fi
}

scenario="$root/scenarios/lqc_1d_chain3.toml"
work="$state/work"
cd "$work"

# --- 1. a 2 × 3 sweep on Slurm equals the local run ------------------------------------
sweep=(--vary 'noise.sigma=[0.25, 0.35]' --vary 'horizon.t=linspace(0.5, 1.5, 3)'
       --set solver.points=61 --set solver.steps=60)
t0=$(date +%s)
"$tufield" sweep "$scenario" "${sweep[@]}" --jobs 2 --out "$work/local" >/dev/null
t1=$(date +%s)
out="$("$tufield" sweep "$scenario" "${sweep[@]}" --slurm --submit --cpus-per-task 1 \
    --time 00:10:00 --array-limit 2 --out "$work/slurm")"
echo "$out" | grep -E '^(array|gather) job'
array_job="$(echo "$out" | sed -n 's/^array job //p')"
gather_job="$(echo "$out" | sed -n 's/^gather job //p')"
wait_jobs "$array_job,$gather_job"
t2=$(date +%s)
[ -f "$work/slurm/summary.nc" ] || { echo "the gather job wrote no summary.nc"; cat "$work/slurm/logs/"* >&2; exit 1; }
grep -c '^[0-9]*,.*,done,' "$work/slurm/summary.csv" | grep -qx 6 || { echo "not all 6 points done:"; cat "$work/slurm/summary.csv"; exit 1; }
diff <(comparable_csv "$work/local/summary.csv") <(comparable_csv "$work/slurm/summary.csv")
diff <(comparable_nc "$work/local/summary.nc") <(comparable_nc "$work/slurm/summary.nc")
check_xarray "$work/slurm/summary.nc"
echo "ok: 2 × 3 sweep on Slurm (array + gather: $((t2 - t1)) s) equals the local --jobs 2 run ($((t1 - t0)) s) bit for bit"

# --- 2. a requeued task resumes from its checkpoint and ends with the same bits --------
heavy=(--vary 'noise.sigma=[0.3]' --set solver.points=1201 --set solver.steps=2400
       --set solver.tol=1e-12)
"$tufield" sweep "$scenario" "${heavy[@]}" --out "$work/requeue_local" >/dev/null
out="$("$tufield" sweep "$scenario" "${heavy[@]}" --slurm --submit --time 00:10:00 --out "$work/requeue")"
array_job="$(echo "$out" | sed -n 's/^array job //p')"
gather_job="$(echo "$out" | sed -n 's/^gather job //p')"
ckpt="$work/requeue/points/0/result.checkpoint.h5"
for _ in $(seq 1200); do [ -f "$ckpt" ] && break; sleep 0.1; done
[ -f "$ckpt" ] || { echo "no checkpoint appeared"; cat "$work/requeue/logs/"* >&2; exit 1; }
scontrol requeue "${array_job}_0"
echo "requeued ${array_job}_0 after its first checkpoint"
# Slurm holds a requeued job back (BeginTime, about two minutes); let it start now.
for _ in $(seq 200); do
    [ "$(squeue -h -j "${array_job}_0" -o %T 2>/dev/null)" = PENDING ] && break
    sleep 0.1
done
scontrol update JobId="${array_job}_0" StartTime=now
wait_jobs "$array_job,$gather_job"
grep -q '^resumed = true' "$work/requeue/points/0/status.toml" \
    || { echo "the requeued point did not resume from its checkpoint:"; cat "$work/requeue/points/0/status.toml" "$work/requeue/points/0/solve.log"; exit 1; }
[ "$(grep -c 'tufield solve of point 0' "$work/requeue/points/0/solve.log")" -ge 2 ]
grep -q 'interrupted — writing checkpoint' "$work/requeue/points/0/solve.log" \
    || { echo "the solve did not catch SIGTERM:"; cat "$work/requeue/points/0/solve.log"; exit 1; }
diff <(comparable_csv "$work/requeue_local/summary.csv") <(comparable_csv "$work/requeue/summary.csv")
diff <(comparable_nc "$work/requeue_local/summary.nc") <(comparable_nc "$work/requeue/summary.nc")
echo "ok: the requeued task resumed from its checkpoint and equals the uninterrupted run bit for bit"
echo "tests/slurm/run.sh passed in $(( $(date +%s) - started )) s"
