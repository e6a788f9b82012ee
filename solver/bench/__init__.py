"""Throughput measurements (``arz bench``): roads, the intersection, the GPU, sumo-rl side by side."""
