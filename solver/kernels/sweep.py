"""The link sweep of the network step: faces, interior fluxes and one RK stage of one link.

Cells of a link are ``first = off + NG .. last = off + NG + n - 1`` of the flat cell axis
(:mod:`solver.kernels.network`); its ghost cells are not read: indices are clamped to the interior,
which is what outflow ghosts would hold. Interface j of the link (0..n) is ``F[:, off + j]``; the
node faces j = 0 and j = n belong to the entry, exit and junction fluxes.

An RK stage of a link (:func:`stage_link`) runs in passes over contiguous cells: WENO5 faces of
one class at a time (:func:`solver.kernels.faces.weno5_pass`, vectorised), their positivity
limiter (:func:`solver.kernels.faces.limit_pass`), the interior face fluxes, the conservative
update and the cleaning of each cell (:func:`update_link`). The network step runs the same passes
over all the links of a copy at once (:func:`copy_faces`, :func:`copy_fluxes`, after
:func:`fill_link_ghosts`), then :func:`update_link` per link; :func:`stage_link` stays as the
per-link reference the tests compare with. The faces
live in two work slots of the step (``QM``, ``QP`` of :mod:`solver.kernels.network`), so nothing
is allocated and numba-cuda compiles these functions unchanged. :func:`link_sweep` is the fused
one-pass form (faces in registers) used where no work slots exist (reported speeds).
"""

from __future__ import annotations

import numba

from solver.kernels.common import (
    CENTRAL_UPWIND,
    FASTMATH,
    FIRST_ORDER,
    NG,
    PHYSICS,
    VACUUM_FACE,
    WENO5,
    calibrated,
    jit_point,
    jit_simd,
    par_tuple,
)
from solver.kernels.faces import (
    called_flux,
    cap_by_supply,
    capped_cu_fluxes,
    clean_pass,
    limit_faces,
    limit_pass,
    weno5_pass,
)
from solver.params import EPS_VAC, RHO_JAM

# digest of the modules these cached kernels call into (see scripts/kernel_fingerprint.py)
KERNEL_SOURCES_DIGEST = "b42a3b18f7c57a81"

_weno5_class_faces = PHYSICS.weno5_class_faces
_numerical_flux = PHYSICS.numerical_flux
_supplies = PHYSICS.supplies
_marker = PHYSICS.marker
_pressures = PHYSICS.pressures

jit = numba.njit(cache=True, fastmath=FASTMATH)


@jit_point
def _cell_faces(q, c, first, last, order, s0, s1, s2, s3, thresh, eps, vtop):
    """Limited face values of interior cell c of a link whose interior is ``first..last``.

    Indices are clamped to the interior, which is what outflow ghost cells hold. ``s0..s3`` are
    the variables' scales (WENO's smoothness normalisation), ``thresh``, ``eps`` and ``vtop`` as in
    :func:`solver.kernels.link.limit_faces`. All are passed in as scalars: reading them from
    ``scales`` and ``par`` inside the sweep's loop (where the compiler must assume the flux
    stores may change them) made the sweep 12 % (``par``) and 7 % (``scales``) slower.

    Returns:
        ``(left face rho_m, y_m, rho_c, y_c, right face rho_m, y_m, rho_c, y_c)``.
    """
    if order == FIRST_ORDER:
        return q[0, c], q[1, c], q[2, c], q[3, c], q[0, c], q[1, c], q[2, c], q[3, c]
    a, b, d, e = max(c - 2, first), max(c - 1, first), min(c + 1, last), min(c + 2, last)
    z = order == WENO5  # WENO-Z weights; WENO5_JS for comparison
    l0, r0, l1, r1 = _weno5_class_faces(q[0, a], q[0, b], q[0, c], q[0, d], q[0, e], q[1, a],
                                       q[1, b], q[1, c], q[1, d], q[1, e], s0, s1, z)
    l2, r2, l3, r3 = _weno5_class_faces(q[2, a], q[2, b], q[2, c], q[2, d], q[2, e], q[3, a],
                                       q[3, b], q[3, c], q[3, d], q[3, e], s2, s3, z)
    l0, l1, r0, r1 = limit_faces(q[0, c], q[1, c], l0, l1, r0, r1, q[0, b], q[1, b], q[0, d], q[1, d], thresh, eps, vtop)
    l2, l3, r2, r3 = limit_faces(q[2, c], q[3, c], l2, l3, r2, r3, q[2, b], q[3, b], q[2, d], q[3, d], thresh, eps, vtop)
    return l0, l1, l2, l3, r0, r1, r2, r3


@jit_point
def _capped_face_flux(q, c, p0, p1, p2, p3, m0, m1, m2, m3, vmax, kind, par, supply_cap):
    """The numerical flux of the face left of cell c from its left (p) and right (m) face states,
    each class's mass flux capped by cell c's supply when ``supply_cap`` (the marker flux scaled
    with it). Returns (f0, f1, f2, f3)."""
    f0, f1, f2, f3, _ = _numerical_flux(p0, p1, p2, p3, m0, m1, m2, m3, kind, par)
    return _supply_capped(q, c, f0, f1, f2, f3, vmax, par, supply_cap)


@jit_point
def _supply_capped(q, c, f0, f1, f2, f3, vmax, par, supply_cap):
    """The face fluxes (f0, f1, f2, f3) into cell c, each class's mass flux capped by the cell's
    supply when ``supply_cap`` (the marker flux scaled with it)."""
    if supply_cap:
        s_m, s_c = _supplies(q[0, c], q[2, c], vmax[0, c], vmax[1, c], par)
        return cap_by_supply(f0, f1, f2, f3, s_m, s_c)
    return f0, f1, f2, f3


@jit
def link_sweep(q, F, vmax, off, n, order, kind, scales, par, supply_cap):
    """Fluxes at the interior interfaces j = 1..n-1 of one link, faces kept in registers.

    With ``supply_cap`` each class's flux into a cell is capped by that cell's equilibrium supply
    (the y flux scaled alike). The supply cap keeps a standing queue at jam density instead of
    compressing it far beyond (the ARZ pressure alone allows ``p(rho) = w``, i.e. several times
    rho_jam with the calibrated K); scaling the y flux by the same factor carries the marker
    with the vehicles, so mass stays conserved.

    Node faces (j = 0 and j = n) are not computed: entry, exit and junction fluxes always
    overwrite them. Ghost cells are clamped indices (what outflow ghosts hold), so nothing is
    written outside F and nothing is allocated: the CUDA port compiles this unchanged.

    Shapes: q (4, Ncells) one copy; F (4, Ncells) interface j of the link at ``off + j``;
    vmax (2, Ncells) m/s.
    """
    first, last = off + NG, off + NG + n - 1
    thresh, eps = VACUUM_FACE * par[RHO_JAM], par[EPS_VAC]
    s0, s1, s2, s3 = scales[0], scales[1], scales[2], scales[3]
    vtop = s1 / s0
    _, _, _, _, p0, p1, p2, p3 = _cell_faces(q, first, first, last, order, s0, s1, s2, s3, thresh, eps, vtop)
    for j in range(1, n):
        c = first + j
        m0, m1, m2, m3, r0, r1, r2, r3 = _cell_faces(q, c, first, last, order, s0, s1, s2, s3, thresh, eps, vtop)
        f0, f1, f2, f3 = _capped_face_flux(q, c, p0, p1, p2, p3, m0, m1, m2, m3, vmax, kind, par, supply_cap)
        F[0, off + j], F[1, off + j], F[2, off + j], F[3, off + j] = f0, f1, f2, f3
        p0, p1, p2, p3 = r0, r1, r2, r3


@jit_point
def bound_cell(q, c, vtop, eps, par):
    """Keep markers in the ARZ invariant region, in place: ``w_k >= 0`` and ``v_k <= vtop``.

    vtop = scales[1]/scales[0] is the largest free speed plus the pressure scale. Under signal
    switching with strongly mixed classes the marker of a cell next to an entry was seen to run
    away (w = 1.3e5 m/s beside w = -3e4 m/s, dt -> 1e-5 s, a stalled RL run). Out-of-range
    markers (w < 0: clamped to p, i.e. v = 0; w > vtop: clamped to at most p + vtop) get
    y = rho w recomputed; densities are untouched (mass is conserved). The check costs one
    division per class and cell; pressures are only evaluated for cells out of range, which
    never happens in normal flow.

    Cell c of q (4, Ncells); vtop (m/s), eps the marker's vacuum epsilon (veh/m).
    """
    for k in range(2):
        rho = q[2 * k, c]
        if rho > 0.0:
            w = _marker(rho, q[2 * k + 1, c], eps)
            if w < 0.0 or w > vtop:
                p_m, p_c = _pressures(q[0, c], q[2, c], par)
                p = p_m if k == 0 else p_c
                q[2 * k + 1, c] = rho * min(max(w, p), p + vtop)


@jit
def link_faces(q, qm, qp, first, last, order, scales, par):
    """Limited face values of the cells ``first .. last`` of one link into ``qm`` (left face of
    each cell) and ``qp`` (right face): the faces of :func:`_cell_faces`, in passes.

    WENO5 runs vectorised over the cells whose whole stencil is inside the link
    (``first + 2 .. last - 2``); the two cells at each end take the clamped stencil one by one.
    Shapes: q, qm, qp (4, Ncells); scales (4,).
    """
    if order == FIRST_ORDER:
        for v in range(4):
            for c in range(first, last + 1):
                qm[v, c] = q[v, c]
                qp[v, c] = q[v, c]
        return
    z = order == WENO5  # WENO-Z weights; WENO5_JS for comparison
    thresh, eps = VACUUM_FACE * par[RHO_JAM], par[EPS_VAC]
    for k in range(2):
        r, y = 2 * k, 2 * k + 1
        sr, sy = scales[r], scales[y]
        if last - first >= 4:
            weno5_pass(q, k, first + 2, last - 1, sr, sy, z, qm, qp)
        for e in range(4):  # first, first + 1, last - 1, last (repeats on short links are harmless)
            c = first + e if e < 2 else last + e - 3
            if c < first or c > last:
                continue
            a, b, d, f = max(c - 2, first), max(c - 1, first), min(c + 1, last), min(c + 2, last)
            qm[r, c], qp[r, c], qm[y, c], qp[y, c] = _weno5_class_faces(
                q[r, a], q[r, b], q[r, c], q[r, d], q[r, f], q[y, a], q[y, b], q[y, c], q[y, d],
                q[y, f], sr, sy, z)
        limit_pass(q, k, first, last + 1, first, last, thresh, eps, scales[1] / scales[0], qm, qp)


@jit
def face_fluxes(q, qm, qp, F, vmax, off, n, kind, par, supply_cap):
    """Supply-capped fluxes (:func:`_capped_face_flux`) of the interior faces j = 1 .. n-1 of one
    link into ``F[:, off + j]``, from the faces in ``qm``/``qp`` (:func:`link_faces`).

    The common case -- central-upwind, the calibrated pressure exponents -- runs vectorised
    (:func:`solver.kernels.faces.capped_cu_fluxes`, the same numbers); any other face by face.
    Shapes: q, qm, qp, F (4, Ncells); vmax (2, Ncells).
    """
    if kind == CENTRAL_UPWIND and calibrated(par):
        capped_cu_fluxes(q, qm, qp, F, vmax, off + NG, n - 1, off + 1, par, supply_cap)
        return
    first = off + NG
    pt = par_tuple(par)
    for j in range(1, n):
        c = first + j
        f0, f1, f2, f3, _ = called_flux(qp[0, c - 1], qp[1, c - 1], qp[2, c - 1], qp[3, c - 1],
                                        qm[0, c], qm[1, c], qm[2, c], qm[3, c], kind, pt)
        F[0, off + j], F[1, off + j], F[2, off + j], F[3, off + j] = _supply_capped(
            q, c, f0, f1, f2, f3, vmax, pt, supply_cap)


@jit_simd
def combine_pass(dst, a, ca, src, cb, F, off, n, dtdx):
    """``dst = ca a + cb (src - dt/dx (F_{j+1} - F_j))`` on the n cells of one link (vectorised).

    ``dtdx`` = dt/dx (s/m). Shapes: (4, Ncells); interface j of the link at ``F[:, off + j]``.
    """
    first = off + NG
    for v in range(4):
        d, av, sv = dst[v, first:first + n], a[v, first:first + n], src[v, first:first + n]
        fl, fr = F[v, off:off + n], F[v, off + 1:off + n + 1]
        for i in range(n):
            d[i] = ca * av[i] + cb * (sv[i] - dtdx * (fr[i] - fl[i]))


@jit
def stage_link(dst, a, ca, src, cb, F, qm, qp, vmax, off, n, dtdx, order, kind, scales, par,
               supply_cap, flush, final):
    """One RK stage of one link: faces (:func:`link_faces`), interior fluxes
    (:func:`face_fluxes`), then the update (:func:`update_link`); the per-link form of what
    :func:`solver.kernels.network.network_rk3` does for the whole copy at once
    (:func:`copy_faces`, :func:`copy_fluxes`).

    The node faces ``F[:, off]`` and ``F[:, off + n]`` must hold the entry, exit and junction
    fluxes of this stage; the interior faces are written to F. ``qm``, ``qp`` are scratch (the
    faces). Returns what :func:`update_link` returns. Shapes: (4, Ncells).
    """
    first, last = off + NG, off + NG + n - 1
    link_faces(src, qm, qp, first, last, order, scales, par)
    face_fluxes(src, qm, qp, F, vmax, off, n, kind, par, supply_cap)
    return update_link(dst, a, ca, src, cb, F, off, n, dtdx, scales, par, flush, final)


@jit
def update_link(dst, a, ca, src, cb, F, off, n, dtdx, scales, par, flush, final):
    """``dst = ca a + cb (src - dt/dx (F_{j+1} - F_j))`` on the n cells of one link
    (:func:`combine_pass`), then each cell cleaned (:func:`solver.kernels.link.clean_cell`) and,
    with ``final``, its markers bounded (:func:`bound_cell`).

    F must hold every face of the link (node faces included). ``dtdx`` = dt/dx (s/m), ``flush``
    as in :class:`solver.network.Numerics`. Returns True if ``final`` and an interior density is
    negative or not a number after cleaning (the step must then be retried). Shapes: (4, Ncells).
    """
    first, last = off + NG, off + NG + n - 1
    combine_pass(dst, a, ca, src, cb, F, off, n, dtdx)
    thresh, eps = VACUUM_FACE * par[RHO_JAM], par[EPS_VAC]
    tiny = flush * par[RHO_JAM]
    vtop = scales[1] / scales[0]
    negative = False
    clean_pass(dst, first, n, thresh, tiny, vtop, eps)  # clean_cell of every cell, vectorised
    if final:
        pt = par_tuple(par)
        for c in range(first, last + 1):
            bound_cell(dst, c, vtop, eps, pt)
            if not (dst[0, c] >= 0.0 and dst[2, c] >= 0.0):  # a NaN fails too: retried, not kept
                negative = True
    return negative


@jit_simd
def combine_copy(dst, a, ca, src, cb, F, c0, n, dtdx):
    """:func:`combine_pass` over cells ``c0 .. c0+n-1`` of a whole copy, ghost cells between the
    links included, with ``dtdx[c]`` the dt/dx of cell c (s/m; 0 on ghost cells, which are then
    combined from their own values and never read as cells). Vectorised.

    Shapes: dst, a, src, F (4, Ncells), cell c's faces at ``F[:, c - NG]`` and ``F[:, c - NG + 1]``;
    dtdx (Ncells,).
    """
    for v in range(4):
        d, av, sv, rr = dst[v, c0:c0 + n], a[v, c0:c0 + n], src[v, c0:c0 + n], dtdx[c0:c0 + n]
        fl, fr = F[v, c0 - NG:c0 - NG + n], F[v, c0 - NG + 1:c0 - NG + n + 1]
        for i in range(n):
            d[i] = ca * av[i] + cb * (sv[i] - rr[i] * (fr[i] - fl[i]))


@jit
def update_copy(dst, a, ca, src, cb, F, lk, lk_dx, dt, row, scales, par, flush, final):
    """:func:`update_link` of every link of a copy, in one combine and one clean-up pass over all
    its cells (bitwise the same interior cells: each cell's dt/dx is ``dt / lk_dx[l]`` of its link,
    put in the scratch ``row`` first; the ghost cells between links get a combination of their own
    values). With ``final`` the markers are bounded (:func:`bound_cell`) link by link.

    ``dt`` (s) in the state's precision. Returns True if ``final`` and an interior density is
    negative (or not a number) after cleaning. Shapes: dst, a, src, F (4, Ncells); lk (L, 2); lk_dx (L,) m;
    row (Ncells,) scratch.
    """
    L = lk.shape[0]
    c0, c1 = lk[0, 0] + NG, lk[L - 1, 0] + NG + lk[L - 1, 1]
    for l in range(L):
        first, n = lk[l, 0] + NG, lk[l, 1]
        dtdx = dt / lk_dx[l]
        for c in range(first - NG, first + n + NG):
            row[c] = dtdx if first <= c < first + n else 0.0
    combine_copy(dst, a, ca, src, cb, F, c0, c1 - c0, row)
    thresh, eps = VACUUM_FACE * par[RHO_JAM], par[EPS_VAC]
    tiny = flush * par[RHO_JAM]
    vtop = scales[1] / scales[0]
    clean_pass(dst, c0, c1 - c0, thresh, tiny, vtop, eps)
    negative = False
    if final:
        pt = par_tuple(par)
        for l in range(L):
            for c in range(lk[l, 0] + NG, lk[l, 0] + NG + lk[l, 1]):
                bound_cell(dst, c, vtop, eps, pt)
                if not (dst[0, c] >= 0.0 and dst[2, c] >= 0.0):  # a NaN fails too: retried, not kept
                    negative = True
    return negative


@jit
def fill_link_ghosts(q, lk):
    """Outflow ghost cells of every link, in place: its NG ghosts on each side hold copies of its
    first and last interior cell (4 variables). A stencil that runs over a link's end then reads
    exactly what the clamped indices of :func:`link_faces` read, so one pass over all the cells
    of a copy gives every interior cell the faces of the per-link passes. Shapes: q (4, Ncells).
    """
    for l in range(lk.shape[0]):
        first, last = lk[l, 0] + NG, lk[l, 0] + NG + lk[l, 1] - 1
        for v in range(4):
            lo, hi = q[v, first], q[v, last]
            for g in range(1, NG + 1):
                q[v, first - g] = lo
                q[v, last + g] = hi


@jit
def copy_faces(q, qm, qp, lk, order, scales, par):
    """Limited faces of every interior cell of a network copy into ``qm``/``qp``, bitwise those
    of :func:`link_faces` link by link, in one WENO5 pass and one limiter pass per class over
    all the links at once (vectorised even where a link is shorter than the vector loop's minimum
    trip count: the 15-cell exits of ``intersection_4arm``).

    Fills the ghost cells of ``q`` first (:func:`fill_link_ghosts`: ``q`` must be a work slot,
    not the state); the faces of ghost cells are computed too and are never read by interior
    fluxes. First order runs link by link. Links lie in order on the flat axis.
    Shapes: q, qm, qp (4, Ncells); lk (L, 2).
    """
    L = lk.shape[0]
    if order == FIRST_ORDER:  # faces = cell averages (what link_faces does, not compiled here)
        for l in range(L):
            for v in range(4):
                for c in range(lk[l, 0] + NG, lk[l, 0] + NG + lk[l, 1]):
                    qm[v, c] = q[v, c]
                    qp[v, c] = q[v, c]
        return
    fill_link_ghosts(q, lk)
    c0, c1 = lk[0, 0] + NG, lk[L - 1, 0] + NG + lk[L - 1, 1]
    z = order == WENO5  # WENO-Z weights; WENO5_JS for comparison
    thresh, eps = VACUUM_FACE * par[RHO_JAM], par[EPS_VAC]
    for k in range(2):
        weno5_pass(q, k, c0, c1, scales[2 * k], scales[2 * k + 1], z, qm, qp)
        limit_pass(q, k, c0, c1, c0 - 1, c1, thresh, eps, scales[1] / scales[0], qm, qp)


@jit
def copy_fluxes(q, qm, qp, F, vmax, lk, kind, par, supply_cap, generic=True):
    """Interior face fluxes of every link of a copy (:func:`face_fluxes`) from the faces of
    :func:`copy_faces`. The common case (central-upwind, the calibrated exponents) is one
    vectorised pass over all the faces of the copy, which also writes the node faces and the
    unused slots between links: the caller computes the node fluxes afterwards. ``generic`` None:
    the host checked the common case (:func:`solver.kernels.common.generic_paths`) and the
    face-by-face path is not compiled.
    Shapes: q, qm, qp, F (4, Ncells) (``q`` with filled ghosts); vmax (2, Ncells).
    """
    L = lk.shape[0]
    if generic is None or (kind == CENTRAL_UPWIND and calibrated(par)):
        c0, c1 = lk[0, 0] + NG, lk[L - 1, 0] + NG + lk[L - 1, 1]
        capped_cu_fluxes(q, qm, qp, F, vmax, c0, c1 - c0 - 1, c0 - NG + 1, par, supply_cap)
        return
    for l in range(L):
        face_fluxes(q, qm, qp, F, vmax, lk[l, 0], lk[l, 1], kind, par, supply_cap)
