"""Which files every module with cached numba kernels compiles in: the key of the on-disk cache.

numba checks only a cached module's own file before loading its compiled kernels, not the files its
kernels call into (``physics``, ``params``, the link kernels). Two users of this table keep the cache
honest: ``scripts/kernel_fingerprint.py`` writes a ``KERNEL_SOURCES_DIGEST`` line into each cached
module (so editing a callee edits the module, and a test fails while a digest is stale), and
:mod:`kernel_payload.kernel_cache` keys the per-user kernel cache by the bytes of every file listed
here (so a job never loads kernels compiled from other sources).
"""

from __future__ import annotations

#: module with cached kernels -> the files its kernels call into (in update order)
DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "solver/kernels/common.py": ("solver/physics.py", "solver/params.py"),
    "solver/kernels/faces.py": ("solver/physics.py", "solver/params.py", "solver/kernels/common.py"),
    "solver/kernels/link.py": ("solver/physics.py", "solver/params.py", "solver/kernels/common.py",
                               "solver/kernels/faces.py"),
    "solver/kernels/signals.py": ("solver/kernels/common.py", "solver/kernels/link.py"),
    "solver/kernels/sweep.py": ("solver/physics.py", "solver/params.py", "solver/kernels/common.py",
                                "solver/kernels/faces.py", "solver/kernels/link.py"),
    "solver/kernels/measures.py": ("solver/physics.py", "solver/params.py", "solver/kernels/common.py",
                                   "solver/kernels/faces.py"),
    "solver/kernels/network.py": ("solver/physics.py", "solver/params.py", "solver/kernels/common.py",
                                  "solver/kernels/faces.py", "solver/kernels/link.py",
                                  "solver/kernels/signals.py", "solver/kernels/sweep.py",
                                  "solver/kernels/measures.py", "solver/kernels/atomics.py"),
    "solver/network/speeds.py": ("solver/physics.py", "solver/params.py", "solver/kernels/common.py",
                                 "solver/kernels/faces.py", "solver/kernels/link.py",
                                 "solver/kernels/signals.py", "solver/kernels/sweep.py",
                                 "solver/kernels/measures.py", "solver/kernels/atomics.py",
                                 "solver/kernels/network.py"),
    "rl/features.py": ("solver/physics.py", "solver/params.py", "solver/kernels/common.py",
                       "solver/kernels/faces.py", "solver/kernels/link.py", "solver/kernels/signals.py",
                       "solver/kernels/sweep.py", "solver/kernels/measures.py", "solver/kernels/atomics.py",
                       "solver/kernels/network.py", "solver/network/speeds.py"),
    "rl/readout.py": ("solver/physics.py", "solver/params.py", "solver/kernels/common.py",
                      "solver/kernels/faces.py", "solver/kernels/link.py", "solver/kernels/signals.py",
                      "solver/kernels/sweep.py", "solver/kernels/measures.py", "solver/kernels/atomics.py",
                      "solver/kernels/network.py", "solver/network/speeds.py", "rl/features.py"),
    "solver/threads.py": ("solver/kernels/atomics.py",),
}
