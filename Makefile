# The two commands of the README: `make run` (main job on the default scenario) and
# `make test` (the whole test suite). Both install the system libraries first.
SCENARIO ?= scenarios/lqc_2d_chain3.toml
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: deps run test bench lint test-readers

deps:
	@bash scripts/install-deps.sh

run: deps
	cargo run --release -- solve $(SCENARIO)

test: deps
	cargo test --workspace

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
