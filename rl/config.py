"""Environment configuration: resolved once from keyword arguments and the scenario file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rl.errors import BackendUnavailableError, EnvConfigError

#: scenarios/ sits at the repository root, next to the rl package
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
DEVICES = ("auto", "cpu", "gpu")
ACTIONS = ("phase", "switch")  # what an agent's action means (rl.env.phase_requests)
#: classical controllers an environment can observe the request of (``advisor``): stateless rules,
#: whose request is a function of the state alone (so reading the observation twice reads it twice alike)
ADVISORS = ("actuated-gap", "max-pressure-advanced")


def scenario_path(scenario: str | Path) -> Path:
    """Resolve a scenario given as a path or as a catalogue name (``intersection_4arm``).

    Raises:
        EnvConfigError: neither a file nor a name in ``scenarios/``.
    """
    path = Path(scenario)
    if path.is_file():
        return path
    named = SCENARIO_DIR / (path.name if path.suffix in (".yml", ".yaml") else f"{path.name}.yml")
    if named.is_file():
        return named
    known = sorted(p.stem for p in SCENARIO_DIR.glob("*.yml"))
    raise EnvConfigError("scenario", str(scenario), f"give a YAML path or one of {known}")


@dataclass(frozen=True)
class EnvConfig:
    """Everything an environment needs besides the compiled network.

    Attributes:
        scenario: path of the network scenario file.
        decision_interval: simulated seconds between decisions, s.
        episode_length: simulated seconds per episode, s.
        reward: reward name (see :mod:`rl.rewards`).
        observed_cells: extra observed cells (interior indices) of the scenario's observe link.
        demand_scale: (lo, hi) range of the demand multiplier drawn per episode.
        device: the resolved device, ``cpu`` or ``gpu`` (``auto`` picks the GPU when numba-cuda
            finds one).
        action: ``phase`` (the requested phase per signal) or ``switch`` (0 keep, 1 move to the
            next phase), see :func:`rl.env.phase_requests`.
        upstream_bins: observation bins per approach over its link upstream of the near-stop bins
            (:func:`rl.observation.build_layout`).
        clock: observe the episode clock (one feature, time since reset / ``episode_length``):
            where the hour's demand profile stands, which a look-ahead teacher acts on.
        advisor: one of :data:`ADVISORS` or None: the observation ends with that controller's
            request (one-hot per signal and phase), so a policy can follow it or deviate from it.
            Computed on the host from the batch's state; on the GPU from its host copies (the
            state ``Q`` and the signals, copied once per decision).
        advisor_params: the advisor's parameters, ((name, value), ...) sorted by name (its
            defaults where empty), e.g. tuned gap-out's ``gap_s`` and ``max_out``.
    """

    scenario: Path
    decision_interval: float
    episode_length: float
    reward: str
    observed_cells: tuple[int, ...]
    demand_scale: tuple[float, float]
    device: str
    action: str = "phase"
    upstream_bins: int = 0
    clock: bool = False
    advisor: str | None = None
    advisor_params: tuple[tuple[str, float], ...] = ()

    @property
    def n_decisions(self) -> int:
        """Decisions per episode."""
        return max(1, int(round(self.episode_length / self.decision_interval)))


def resolve_config(scenario, decision_interval=None, episode_length=None, reward="delay",
                   observed_cells=None, demand_scale=(0.8, 1.2), device="auto",
                   action="phase", upstream_bins=0, clock=False, advisor=None,
                   advisor_params=None) -> tuple[EnvConfig, object]:
    """Validate keyword arguments and load the scenario.

    Returns:
        (config, network scenario); unset durations come from the scenario file.

    Raises:
        EnvConfigError: a bad value (names the key and the fix).
        BackendUnavailableError: ``device="gpu"`` where numba-cuda finds no usable GPU.
    """
    from solver.scenario.loader import load_scenario

    path = scenario_path(scenario)
    sc = load_scenario(path)
    if not hasattr(sc, "links"):
        raise EnvConfigError("scenario", str(scenario), "use a network scenario (links and nodes)")
    if device not in DEVICES:
        raise EnvConfigError("device", device, f"use one of {DEVICES}")
    if action not in ACTIONS:
        raise EnvConfigError("action", action, f"use one of {ACTIONS}")
    if not isinstance(upstream_bins, int) or isinstance(upstream_bins, bool) or upstream_bins < 0:
        raise EnvConfigError("upstream_bins", upstream_bins, "give a whole number >= 0")
    if not isinstance(clock, bool):
        raise EnvConfigError("clock", clock, "give true or false")
    params = _advisor_params(advisor, advisor_params)
    from solver.device import resolve_device
    from solver.errors import BackendError

    try:
        resolved = resolve_device(device)
    except BackendError as err:
        raise BackendUnavailableError(f"device={device!r}: {err}") from None
    di = float(sc.decision_interval if decision_interval is None else decision_interval)
    ep = float(sc.time.end if episode_length is None else episode_length)
    if di <= 0:
        raise EnvConfigError("decision_interval", decision_interval, "give a positive number of seconds")
    if ep < di:
        raise EnvConfigError("episode_length", episode_length, f"give at least decision_interval ({di:g} s)")
    lo, hi = _scale_range(demand_scale)
    cells = observed_cells if observed_cells is not None else (sc.observe.cells if sc.observe else ())
    cfg = EnvConfig(path, di, ep, str(reward), tuple(int(c) for c in cells), (lo, hi), resolved, action, upstream_bins,
                    clock, advisor, params)
    return cfg, sc


def _advisor_params(advisor, params) -> tuple[tuple[str, float], ...]:
    """``params`` (a mapping or pairs) as sorted (name, float) pairs, checked against ``advisor``'s
    parameters; raises :class:`EnvConfigError` naming the key."""
    if advisor is None:
        if params:
            raise EnvConfigError("advisor_params", params, "set advisor too, or drop advisor_params (to turn "
                                 "off a registered env's advisor: advisor=None and advisor_params={})")
        return ()
    if advisor not in ADVISORS:
        raise EnvConfigError("advisor", advisor, f"use one of {list(ADVISORS)} or none")
    from rl.controllers import make_controller

    known = make_controller(advisor).params()
    try:
        pairs = sorted(dict(params or {}).items())
        out = tuple((str(k), float(v)) for k, v in pairs)
    except (TypeError, ValueError):
        raise EnvConfigError("advisor_params", params, "give a mapping of parameter name to number") from None
    for k, _ in out:
        if k not in known:
            raise EnvConfigError("advisor_params", k, f"{advisor} has the parameters {sorted(known)}")
    return out


def stratified_scales(demand_scale: tuple[float, float], n: int) -> np.ndarray:
    """The midpoints of ``n`` equal strata of the demand multiplier range ``(lo, hi)``: one fixed
    multiplier per validation copy, so that every validation sees the whole range (the light
    draws and the heavy ones, where a policy can break down) instead of ``n`` random draws.
    Shapes: (n,)."""
    lo, hi = demand_scale
    return lo + (np.arange(n) + 0.5) * (hi - lo) / n


def _scale_range(demand_scale) -> tuple[float, float]:
    try:
        lo, hi = (float(demand_scale), float(demand_scale)) if _is_number(demand_scale) else map(float, demand_scale)
    except (TypeError, ValueError):
        raise EnvConfigError("demand_scale", demand_scale, "give a number or a (lo, hi) pair") from None
    if not 0 < lo <= hi:
        raise EnvConfigError("demand_scale", demand_scale, "need 0 < lo <= hi")
    return lo, hi


def _is_number(x) -> bool:
    return isinstance(x, (int, float))
