"""numba kernels: the link step (CPU, also compiled for the GPU), the network step, the CUDA launch."""
