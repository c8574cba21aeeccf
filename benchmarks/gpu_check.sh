#!/usr/bin/env bash
# The GPU check, one script for one GPU machine (about 5 minutes on one H100): the CUDA kernel tests and the
# whole agreement suite on the real CuPy backend (gradients and double gradients included), then
# benchmarks/bench_gpu.py against PyTorch CUDA and the device's copy bandwidth. Needs Python with CuPy,
# numba-cuda, pytest and Hypothesis (PyTorch CUDA optional); no network. minigrad comes from this checkout,
# installed editable (no dependencies) into a throwaway venv that sees the system's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
venv=$(mktemp -d)/venv
"$python" -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e . || {
    echo "gpu_check: could not install this checkout (pip install --no-deps --no-build-isolation -e .)" >&2; exit 1; }
"$venv/bin/python" -m minigrad
export MINIGRAD_GPU_TESTS=1  # tests/conftest.py: real CUDA, not the simulator
status=0
echo "== tests on the GPU: CUDA kernels, then the agreement suite with the cupy backend"
timeout 240 "$venv/bin/python" -m pytest -q -x -p no:cacheprovider tests/test_cuda_kernels.py tests/test_cupy_backend.py \
    tests/test_agreement.py || status=$?
echo "== benchmarks/bench_gpu.py"
timeout 120 "$venv/bin/python" benchmarks/bench_gpu.py --repeat 5 || status=$?
exit $status
