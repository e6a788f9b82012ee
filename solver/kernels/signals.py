"""Signal state of a network copy, advanced inside the network step (numba-cpu and numba-cuda).

Per copy and signal s: ``sp`` phase, ``ss`` stage (0 green, 1 yellow, 2 all-red), ``st`` time in
stage (s), ``sn`` next phase, ``req`` requested phase. Static arrays (see
:mod:`solver.kernels.network`): ``app_sig[A]`` signal of each approach (-1 none), ``app_pos[A]``
its index within its junction, ``sig_green[S, Pmax, Imax]`` 0/1, ``sig_times[S, 4] = (yellow,
all_red, min_green, max_green)`` s. Min green and clearance are enforced here, not by callers.
"""

from __future__ import annotations

import numba

from solver.kernels.link import FASTMATH

# digest of the modules these cached kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "4eb223fc7774865c"

jit = numba.njit(cache=True, fastmath=FASTMATH)


@jit
def signal_greens(sp, ss, app_sig, app_pos, sig_green, green):
    """Green factor (1 flows, 0 red) per approach from the signal state. Yellow still flows."""
    for a in range(app_sig.shape[0]):
        s = app_sig[a]
        if s < 0:
            green[a] = 1.0
        elif ss[s] == 2:
            green[a] = 0.0
        else:
            green[a] = sig_green[s, sp[s], app_pos[a]]


@jit
def signal_update(sp, ss, st, sn, req, sig_times, dt):
    """Advance every signal by dt s; min green and clearance are enforced here, not by callers."""
    for s in range(sp.shape[0]):
        st[s] += dt
        for _ in range(3):  # cascade through zero-length stages
            yellow, all_red, min_green = sig_times[s, 0], sig_times[s, 1], sig_times[s, 2]
            if ss[s] == 0 and req[s] != sp[s] and st[s] >= min_green - 1e-9:
                ss[s], sn[s], st[s] = 1, req[s], 0.0
            elif ss[s] == 1 and st[s] >= yellow - 1e-9:
                ss[s], st[s] = 2, 0.0
            elif ss[s] == 2 and st[s] >= all_red - 1e-9:
                ss[s], sp[s], st[s] = 0, sn[s], 0.0
            else:
                break


@jit
def signal_dt_cap(sp, ss, st, req, sig_times):
    """Largest dt (s) that does not jump over a pending signal transition."""
    cap = 1e30
    for s in range(sp.shape[0]):
        if ss[s] == 0 and req[s] != sp[s]:
            left = sig_times[s, 2] - st[s]
        elif ss[s] == 1:
            left = sig_times[s, 0] - st[s]
        elif ss[s] == 2:
            left = sig_times[s, 1] - st[s]
        else:
            continue
        if left > 1e-9:
            cap = min(cap, left)
    return cap

