"""CUDA kernels of the CuPy backend, written once with numba-cuda.

On a GPU they take CuPy arrays (through ``__cuda_array_interface__``). Under Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) the same source runs thread by thread on NumPy arrays, shared memory and
``syncthreads`` included: that is how CI, which has no GPU, executes every kernel against the NumPy
reference. Each launcher takes ``xp``, the array module that allocates its outputs (``cupy`` on a device,
``numpy`` under the simulator), and contiguous inputs.
"""
