# The two commands of the README: `make run` (main job on the default scenario) and
# `make test` (the whole test suite). Both install the system libraries first.
SCENARIO ?= scenarios/lqc_2d_chain3.toml
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: deps run test test-readers test-slurm test-accuracy bench lint

deps:
	@bash scripts/install-deps.sh

run: deps
	cargo run --release -- solve $(SCENARIO)

test: deps
	cargo test --workspace

# `tufield sweep` on a real one-node Slurm cluster (as root; installs slurmctld, slurmd,
# slurm-client, munge, netcdf-bin and the xarray venv when missing), see tests/slurm/run.sh.
test-slurm: deps
	@bash scripts/install-slurm-test-deps.sh
	cargo build
	bash tests/slurm/run.sh

bench: deps
	cargo bench --workspace

lint: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The output files opened by ParaView, xarray (h5netcdf, netcdf4), netCDF4-python and
# ncdump (installed by scripts/install-readers.sh; `make test` skips these tests).
test-readers: deps
	@bash scripts/install-readers.sh
	TUFIELD_REQUIRE_READERS=1 cargo test --test cli_readers -- --nocapture

# The error estimate verified in 3-D on populations the coarse grids resolve (81³ grids,
# a few minutes on 2 cores; `make test` skips it), docs/design.md §5.
test-accuracy: deps
	cargo test --test error_estimate -- --ignored three_d_estimate_on_resolved_populations_is_asymptotic
