"""Warm start for PPO: clone a classical controller (DAgger), fit the critic to its returns.

Issue 17: trained from a random policy, the default recipe lands for some training seeds in a
policy that never improves (validation stuck at 100-110 s/veh on the intersection, where
actuated gives 73). A warm start removes that lottery: PPO begins at the teacher's behaviour and
only has to improve on it, and model selection (which sees the clone first, at step 0) keeps
the clone when fine-tuning does not beat it.

:func:`warm_start` runs, on CPU copies of the environment seeded :func:`imitation_draws`
(training-side: disjoint from the training episodes ``seed + i``, training's validation copies
``seed + 1_000_000 + i``, the tuning draws ``10**12 + 1000 seed + i``, the screening draws
``10**12 + 10**9 + i`` and the evaluation draws ``2_000_000 + 1000 seed + e``):

0. A tunable teacher (``actuated-gap``, ``max-pressure-advanced``) is first tuned on the first
   ``tune_copies`` of round 0's draws (:func:`rl.tuning.tune_controller`; ``tune=False``: default
   parameters). With
   ``teacher="auto"`` every controller of :data:`AUTO_TEACHERS` (tuned so) drives round 0's
   copies and the one with the highest mean return of the training reward (for ``delay``: the
   least delay) becomes the teacher; its round 0 is kept.
1. ``rounds`` DAgger rounds of ``copies`` whole episodes each. Round 0 is driven by the teacher;
   later rounds by the student sampling its own (stochastic) actions, the teacher labelling every
   state it visits with the action it would take (the teacher reads the state the student made).
   After each round the policy is fitted to all labels so far by cross-entropy with label
   smoothing ``smoothing`` (so that PPO keeps some exploration: a two-phase signal keeps ~5 %
   on the other phase). Decisions taken during yellow or all-red are left out per signal: the
   signal ignores requests then.
2. With a ``select`` score (training passes the validation score, :func:`rl.training.train`), the
   policy is chosen among candidates: the fit after each round and ``refits`` policies fitted
   afresh (new initialisation, ``rounds * steps`` minibatches, :data:`REFIT_EPOCHS`) to all labels; the one with the
   lowest score is kept. The fits are cheap next to the labels, and the clone's quality varies
   between fits of the same labels more than between rounds: on the intersection (rollout teacher,
   seed 3, 6 rounds) the 10 candidates ranged from -11.9 % to +40 % against tuned gap-out on 20
   training-side screening draws; the last round's fit, the only candidate before, is one draw
   from that spread (docs/environment.md, "Choosing the clone").
3. SB3's reward normaliser (``VecNormalize``, when the training uses one) is primed with the
   teacher's discounted returns, computed as it computes them, and the critic is fitted to the
   discounted returns of the normalised rewards of round 0 (so that the first PPO updates see
   advantages of the clone, not of a random critic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IMITATION_SEED_BASE = 10**13  # far above every other draw range (module docstring)
#: the candidates of ``teacher="auto"``: the three adaptive rules, each of which was the best classical
#: controller somewhere (actuated on the intersection, tuned actuated-gap on the arterial, max-pressure
#: in the literature); Advanced-MP and fixed-time never were, and each candidate costs episodes
AUTO_TEACHERS = ("actuated", "actuated-gap", "max-pressure")
#: the clairvoyant look-ahead teacher (:mod:`rl.rollout`) over tuned actuated-gap; a student
#: cloning it sees only its observation
ROLLOUT_TEACHER = "rollout"
#: the rollout teacher's candidate set (:class:`rl.rollout.RolloutController`): the base's request
#: and its one-signal deviations, the same 2 candidates as ``all`` on one signal (so the same
#: labels on the intersection) and 4 instead of 8 on the 3-signal arterial (half the labelling)
ROLLOUT_CANDIDATES = "single"
#: DAgger rounds per teacher where the default (3) is not enough: the rollout teacher's clone of the
#: intersection, cloned alone (no PPO) on training-side screening draws, went from +19.3 to -14.9 %
#: (seed 1) and from +2.7 to -7.1 % (seed 3) against tuned gap-out with 6 rounds instead of 3; seed 3's
#: 6 rounds, continued to 9, gave refits on all labels of -16.0, -15.6 and -12.7 % where the 6-round
#: candidates' best was -11.9 % (docs/environment.md). Each round is 8 episodes of labelling (about
#: 3 minutes per seed on one core once the clone drives well, 5-6 for the first rounds, measured
#: before the look-ahead skipped duplicate candidates: 1.7-2.2x less since on the intersection,
#: 1.7-1.8x on the arterial, the same labels)
TEACHER_ROUNDS = {ROLLOUT_TEACHER: 9}
BATCH = 256  # minibatch of the fits
#: the progress stage of the warm start; its phases report as ``warm-start/tune``, ``/label``, ``/score``
WARM_START_STAGE = "warm-start"
#: a refit's minibatches are at most this many passes over its labels: the full ``rounds * steps``
#: on a whole training's labels (9 rounds of 8 one-hour episodes: 51,840 decisions; 50 passes
#: would be 10,125 minibatches, so the 9,000 of ``rounds * steps`` apply), far fewer on a smoke
#: run's few hundred
REFIT_EPOCHS = 50
#: how the labels of a fit are weighted (:func:`label_weights`): ``none`` alike; ``stakes`` (a teacher
#: that reports what each decision is worth: the rollout teacher) by ``1 + min(stakes / mean, cap)``
WEIGHTINGS = ("none", "stakes")
#: the cap of a label's weight above 1 under ``stakes``, in units of the mean stakes of the labels
STAKES_CAP = 20.0


@dataclass(frozen=True)
class WarmStartConfig:
    """How the clone is made.

    Attributes:
        teacher: a classical controller name (:data:`rl.controllers.CONTROLLERS`),
            ``auto``: the best of :data:`AUTO_TEACHERS` on round 0's draws by the training reward,
            or ``rollout``: :class:`rl.rollout.RolloutController` over actuated-gap (the base is
            what gets tuned).
        tune: tune a tunable teacher first (else its default parameters), on ``tune_copies``
            of round 0's draws (each grid point is a batch of whole episodes).
        rounds: DAgger rounds (round 0 teacher-driven), each ``copies`` whole episodes.
        steps: minibatches of the policy fit over all labels so far, after each round.
        lr: Adam step of the fits.
        smoothing: label smoothing of the cross-entropy (0: a deterministic clone).
        value_steps: minibatches of the critic fit over round 0's returns.
        refits: fresh policies fitted to all labels as extra candidates when :func:`warm_start`
            is given a ``select`` score (none without one).
        weighting: one of :data:`WEIGHTINGS`: the labels' weights in every fit
            (:func:`label_weights`; ``stakes`` needs a teacher that reports them, the rollout one).
        margin: veh s; the teacher's deviations from the observed advisor's request worth less
            than this are fitted as that request (:func:`follow_advisor_labels`; needs the
            environment's ``advisor`` and a teacher that reports stakes); 0: the labels as given.
        dump: a path: the labels are written there (``.npz``, :func:`dump_labels`) for offline
            fits; None: not kept.
    """

    teacher: str = "actuated"
    tune: bool = True
    tune_copies: int = 4
    rounds: int = 3
    copies: int = 8
    steps: int = 1000
    lr: float = 1e-3
    smoothing: float = 0.1
    value_steps: int = 1000
    refits: int = 4
    weighting: str = "none"
    margin: float = 0.0
    dump: str | None = None


def default_rounds(teacher: str) -> int:
    """DAgger rounds of the warm start from ``teacher`` when none are given: :data:`TEACHER_ROUNDS`,
    else :class:`WarmStartConfig`'s default."""
    return TEACHER_ROUNDS.get(teacher, WarmStartConfig.rounds)


def imitation_draws(seed: int, n: int) -> list[int]:
    """Demand draws of the warm start of training seed ``seed`` (seeds below 10**5)."""
    return [IMITATION_SEED_BASE + 1000 * int(seed) + i for i in range(n)]


def make_teacher(name: str):
    """The teacher called ``name``: a classical controller or :data:`ROLLOUT_TEACHER`."""
    from rl.controllers import CONTROLLERS, make_controller
    from rl.errors import UnknownNameError

    if name == ROLLOUT_TEACHER:
        from rl.rollout import RolloutController

        return RolloutController(make_controller("actuated-gap"), candidates=ROLLOUT_CANDIDATES)
    if name not in CONTROLLERS:
        raise UnknownNameError("teacher", name, [*CONTROLLERS, "auto", ROLLOUT_TEACHER])
    return make_controller(name)


def tuned_part(teacher):
    """What tuning adjusts: the controller itself, or a rollout teacher's base controller."""
    from rl.rollout import RolloutController

    return teacher.base if isinstance(teacher, RolloutController) else teacher


def observed_rule(controller, cfg) -> bool:
    """Whether ``controller`` is the rule the environment's observation shows the request of
    (``cfg.advisor``, :class:`rl.config.EnvConfig`)."""
    return cfg.advisor is not None and getattr(controller, "name", None) == cfg.advisor


def adopt_advisor(controller, cfg) -> bool:
    """Give ``controller`` the advisor's parameters when it is the observed rule (so that the
    teacher's labels deviate from exactly the request the student sees; it is then not tuned);
    whether it is."""
    if not observed_rule(controller, cfg):
        return False
    for name, value in cfg.advisor_params:
        setattr(controller, name, value)
    return True


def teacher_labels(core, phases: np.ndarray, action: str) -> np.ndarray:
    """The agent's action that asks for ``phases``: the phases themselves (``phase``), or 1 where
    the phase asked differs from the one shown (``switch``). Shapes: phases (B, S) -> (B, S) int64."""
    phases = np.asarray(phases, np.int64).reshape(core.B, -1)
    if action == "phase":
        return phases
    return (phases != np.asarray(core.sim.SP)).astype(np.int64)


def rollout(venv, teacher, seeds: list[int], student=None) -> dict[str, np.ndarray]:
    """One episode per copy of ``venv`` (a :class:`rl.vec_env.BatchedVecEnv`), labelled by ``teacher``.

    ``student``: a callable obs -> actions (B, S) that drives the copies; None: the teacher drives.
    Returns obs (T*B, D) float32, labels (T*B, S), mask (T*B, S) bool (False during clearance),
    scale (T*B,) (the copy's demand multiplier), rewards (T, B) (the env's raw rewards), and with a
    teacher that reports them (``teacher.stakes`` after ``act``: :class:`rl.rollout.RolloutController`)
    stakes (T*B, S) (what each label is worth, veh s).
    """
    venv.seed(seeds[0])
    obs = venv.reset()
    teacher.reset(venv.core, seed=seeds[0])
    core, action = venv.core, venv.config.action
    out = {"obs": [], "labels": [], "mask": [], "scale": [], "rewards": []}
    for _ in range(venv.config.n_decisions):
        labels = teacher_labels(core, teacher.act(obs, core), action)
        if getattr(teacher, "stakes", None) is not None:
            out.setdefault("stakes", []).append(np.asarray(teacher.stakes, float).reshape(labels.shape))
        out["obs"].append(obs.copy())
        out["labels"].append(labels)
        out["mask"].append(np.asarray(core.sim.SS) == 0)
        out["scale"].append(np.asarray(core.demand_scale, float).copy())
        acts = labels if student is None else np.asarray(student(obs), np.int64).reshape(core.B, -1)
        obs, rewards, _, _ = venv.step(acts)
        out["rewards"].append(np.asarray(rewards, float))
    rewards = np.stack(out.pop("rewards"))
    return {**{k: np.concatenate(v) for k, v in out.items()}, "rewards": rewards}


def discounted_running(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """``R_t = gamma R_{t-1} + r_t`` per copy, what SB3's VecNormalize feeds its return
    statistics. Shapes: rewards (T, B) -> (T, B)."""
    out = np.zeros_like(rewards, dtype=float)
    run = np.zeros(rewards.shape[1])
    for t in range(len(rewards)):
        run = gamma * run + rewards[t]
        out[t] = run
    return out


def returns_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """``G_t = r_t + gamma G_{t+1}`` per copy, 0 after the last decision. Shapes: (T, B) -> (T, B)."""
    out = np.zeros_like(rewards, dtype=float)
    run = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        run = rewards[t] + gamma * run
        out[t] = run
    return out


def _categoricals(policy, obs):
    dist = policy.get_distribution(obs).distribution
    return dist if isinstance(dist, list) else [dist]


def _minibatches(n: int, steps: int, rng: np.random.Generator, device=None):
    """``steps`` index minibatches of BATCH (fewer rows when n is smaller), whole shuffled passes."""
    import torch

    done = 0
    while done < steps:
        order = rng.permutation(n)
        for k in range(0, n, BATCH):
            if done == steps:
                return
            done += 1
            yield torch.as_tensor(order[k:k + BATCH], device=device)


def _agreement(policy, data: dict) -> float:
    """Share of the unmasked decisions of ``data`` (a :func:`rollout`) where the policy's most
    likely action is the label (1 when none is unmasked)."""
    import torch

    with torch.no_grad():
        cats = _categoricals(policy, torch.as_tensor(data["obs"], dtype=torch.float32, device=policy.device))
        hits = np.stack([c.logits.argmax(-1).cpu().numpy() for c in cats], 1) == data["labels"]
    return float(hits[data["mask"]].mean()) if data["mask"].any() else 1.0


def label_weights(data: dict, weighting: str, cap: float = STAKES_CAP) -> np.ndarray:
    """The weight of every label of ``data`` (labels, mask, and stakes for ``stakes``) in a fit,
    (N, S): ones for ``none``; for ``stakes``, ``1 + min(stakes / m, cap)`` with ``m`` the
    mean stakes of the unmasked labels (ones when it is 0), so that a decision that changes the
    look-ahead's delay much counts up to ``1 + cap`` times one that changes nothing.

    Cost-sensitive imitation (AggreVaTe's idea): the clone's few errors should fall where they
    cost little. Near saturation one wrong green can fill a link for the rest of the hour; in light
    traffic the teacher's candidates tie.
    """
    from rl.errors import EnvConfigError

    check_weighting(weighting, ROLLOUT_TEACHER)
    ones = np.ones(np.shape(data["labels"]))
    if weighting == "none":
        return ones
    if "stakes" not in data:
        raise EnvConfigError("warm_start_weighting", weighting,
                             "use 'none': this teacher does not report what its decisions are worth (the rollout one does)")
    stakes = np.asarray(data["stakes"], float)
    mean = float(stakes[data["mask"]].mean()) if data["mask"].any() else 0.0
    return ones if mean <= 0 else ones + np.minimum(stakes / mean, cap)


def follow_advisor_labels(data: dict, nvec, margin: float) -> np.ndarray:
    """The labels of ``data`` (obs, labels, stakes) with the teacher's deviations from the observed
    advisor's request worth less than ``margin`` veh s (their stakes, :func:`rl.rollout.decision_stakes`)
    replaced by that request, (N, S).

    The advisor's request is read from the observation's last ``sum(nvec)`` features (the
    environment's ``advisor``, signal-major one-hot). A deviation the look-ahead values little is
    one the student cannot learn from its observation (the teacher knows the draw's future) and
    one whose imitation costs the most when misplaced; following the rule there keeps the clone's
    default that of the rule.

    Raises:
        EnvConfigError: labels without stakes (a teacher that does not report them).
    """
    from rl.errors import EnvConfigError

    labels = np.array(data["labels"], dtype=np.int64, copy=True)
    if margin <= 0:
        return labels
    if "stakes" not in data:
        raise EnvConfigError("deviation_margin", margin, "use 0: these labels have no stakes (the rollout teacher reports them)")
    from rl.simulation import advisor_requests

    nvec = np.asarray(nvec, np.int64)
    advice = advisor_requests(np.asarray(data["obs"])[:, -int(nvec.sum()):], nvec)
    weak = (labels != advice) & (np.asarray(data["stakes"]) < margin)
    labels[weak] = advice[weak]
    return labels


def check_weighting(weighting: str, teacher: str | None) -> str:
    """``weighting`` if it is one of :data:`WEIGHTINGS` that ``teacher`` supports (``stakes``: the
    rollout teacher only), else an :class:`rl.errors.EnvConfigError` naming the fix."""
    from rl.errors import EnvConfigError

    if weighting not in WEIGHTINGS:
        raise EnvConfigError("warm_start_weighting", weighting, f"use one of {WEIGHTINGS}")
    if weighting == "stakes" and teacher != ROLLOUT_TEACHER:
        raise EnvConfigError("warm_start_weighting", weighting,
                             f"use 'none' with warm_start {teacher!r}: only the {ROLLOUT_TEACHER!r} teacher reports what its decisions are worth")
    return weighting


def dump_labels(path, data: list[dict]) -> None:
    """Write the labels of a warm start (:func:`rollout` results, one per batch) to ``path``
    (compressed ``.npz``): obs (N, D) float32, labels (N, S), mask (N, S), scale (N,), batch (N,)
    (the index of the batch in ``data``), and stakes (N, S) when every batch has them."""
    arrays = {k: np.concatenate([d[k] for d in data]) for k in ("obs", "labels", "mask", "scale")}
    arrays["batch"] = np.concatenate([np.full(len(d["obs"]), i, np.int64) for i, d in enumerate(data)])
    if all("stakes" in d for d in data):
        arrays["stakes"] = np.concatenate([d["stakes"] for d in data])
    np.savez_compressed(path, **arrays)


def _stack(data: list[dict], weighting: str, margin: float = 0.0, nvec=None) -> tuple[np.ndarray, ...]:
    """obs, labels, mask and weights of all labels so far (a fit's arguments); with ``margin``
    > 0 the labels of :func:`follow_advisor_labels` (``nvec``: phases per signal)."""
    stakes = (weighting == "stakes" or margin > 0) and all("stakes" in d for d in data)
    keys = ("obs", "labels", "mask") + (("stakes",) if stakes else ())
    merged = {k: np.concatenate([d[k] for d in data]) for k in keys}
    labels = follow_advisor_labels(merged, nvec, margin) if margin > 0 else merged["labels"]
    return merged["obs"], labels, merged["mask"], label_weights(merged, weighting)


def check_margin(margin, teacher: str | None, cfg) -> float:
    """``margin`` as a float >= 0; > 0 only with the rollout teacher (it reports stakes) and an
    environment that observes an advisor; else :class:`rl.errors.EnvConfigError` naming the fix."""
    from rl.errors import EnvConfigError

    if not isinstance(margin, (int, float)) or isinstance(margin, bool) or margin < 0:
        raise EnvConfigError("warm_start_margin", margin, "give a number of veh s >= 0 (0: off)")
    if margin > 0 and teacher != ROLLOUT_TEACHER:
        raise EnvConfigError("warm_start_margin", margin, f"use 0 with warm_start {teacher!r}: only the "
                             f"{ROLLOUT_TEACHER!r} teacher reports what its deviations are worth")
    if margin > 0 and cfg.advisor is None:
        raise EnvConfigError("warm_start_margin", margin, "observe an advisor (env option advisor='actuated-gap') or use 0")
    return float(margin)


def fit_policy(policy, obs: np.ndarray, labels: np.ndarray, mask: np.ndarray, steps: int, lr: float,
               smoothing: float, rng: np.random.Generator, weights: np.ndarray | None = None) -> None:
    """Cross-entropy (label-smoothed) of the policy's action distribution to the labels, per
    signal where ``mask``, each label weighted by ``weights`` (None: alike; :func:`label_weights`).
    Shapes: obs (N, D), labels (N, S), mask (N, S), weights (N, S)."""
    import torch

    params = [p for n, p in policy.named_parameters() if "value" not in n]
    opt = torch.optim.Adam(params, lr=lr)
    dev = policy.device  # cuda with the GPU preset: every tensor goes there
    o = torch.as_tensor(obs, dtype=torch.float32, device=dev)
    y = torch.as_tensor(labels, dtype=torch.long, device=dev)
    m = torch.as_tensor(mask, dtype=torch.float32, device=dev)
    if weights is not None:
        m = m * torch.as_tensor(weights, dtype=torch.float32, device=dev)
    for idx in _minibatches(len(obs), steps, rng, dev):
        loss = 0.0
        for s, cat in enumerate(_categoricals(policy, o[idx])):
            logp = torch.log_softmax(cat.logits, dim=-1)
            nll = -(1 - smoothing) * logp.gather(1, y[idx, s:s + 1])[:, 0] - smoothing * logp.mean(dim=-1)
            loss = loss + (nll * m[idx, s]).sum() / m[idx, s].sum().clamp(min=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()


def fit_value(policy, obs: np.ndarray, targets: np.ndarray, steps: int, lr: float, rng: np.random.Generator) -> float:
    """Fit the critic to ``targets`` (mean squared error); returns the explained variance.
    Shapes: obs (N, D), targets (N,)."""
    import torch

    params = [p for n, p in policy.named_parameters() if "value" in n]
    opt = torch.optim.Adam(params, lr=lr)
    o = torch.as_tensor(obs, dtype=torch.float32, device=policy.device)
    g = torch.as_tensor(targets, dtype=torch.float32, device=policy.device)
    for idx in _minibatches(len(obs), steps, rng, policy.device):
        loss = ((policy.predict_values(o[idx])[:, 0] - g[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        resid = g - policy.predict_values(o)[:, 0]
    return float(1.0 - resid.var() / g.var().clamp(min=1e-12))


def warm_start(model, env_id: str, seed: int, env_kwargs: dict, ws: WarmStartConfig, normalizer=None,
               progress=None, select=None) -> dict:
    """Clone ``ws.teacher`` into ``model.policy`` and fit its critic (module docstring).

    Args:
        model: an SB3 PPO model (its policy is trained in place).
        env_id, env_kwargs: the training environment (run here on CPU copies).
        seed: the training seed (chooses :func:`imitation_draws`).
        normalizer: the training's ``VecNormalize`` (its return statistics are primed), or None.
        progress: ``progress(stage, done, total)`` per phase, each its own stage with its own
            count from ``0/total`` when it starts: ``warm-start/tune`` after every tuning
            candidate (a batch of ``tune_copies`` episodes), ``warm-start/label`` after every
            labelled batch of ``copies`` episodes (each candidate teacher's round 0, then the
            DAgger rounds), ``warm-start/score`` after every scored clone (with ``select``).
        select: ``select(model, teacher, teacher_params) -> float`` (lower is better), the score
            of ``model`` with a candidate clone loaded (``teacher``: the one cloned, with its
            tuned parameters); None: the last round's fit is the clone.

    Returns:
        ``teacher`` (the one cloned), ``rounds`` (DAgger rounds run), ``teacher_params`` (its tuned parameters, {} if none),
        ``teacher_returns`` (mean episode return of round 0 per
        candidate), ``samples`` (labelled decisions), ``agreement`` (share of the last round's
        decisions -- the states the clone before it reached -- where the delivered clone's most
        likely action is the teacher's label), ``value_explained``
        (explained variance of the critic fit), ``teacher_reward`` (mean episode return of round 0);
        with ``select``: ``clone_scores`` (score per candidate: ``round<r>``, ``refit<k>``) and
        ``clone_chosen`` (the candidate kept).
    """
    import torch

    from rl.tuning import grid_candidates, is_tunable, tune_controller
    from rl.vec_env import make_vec_env

    check_weighting(ws.weighting, ws.teacher)
    venv = make_vec_env(env_id, ws.copies, **{**env_kwargs, "device": "cpu"})
    check_margin(ws.margin, ws.teacher, venv.config)
    draws = imitation_draws(seed, ws.rounds * ws.copies)
    names = AUTO_TEACHERS if ws.teacher == "auto" else (ws.teacher,)
    candidates = {name: make_teacher(name) for name in names}
    # a teacher whose rule the student observes takes that rule's parameters and is not tuned
    params = {name: tuned_part(ctl).params() for name, ctl in candidates.items()
              if adopt_advisor(tuned_part(ctl), venv.config)}
    tuned = [name for name, ctl in candidates.items()
             if ws.tune and is_tunable(tuned_part(ctl)) and name not in params]
    # one progress stage per phase, so that each has its own pace and ETA: a tuning candidate (a batch
    # of a cheap rule) takes seconds, a labelled batch of the rollout teacher minutes
    totals = {"tune": sum(len(grid_candidates(tuned_part(candidates[n]))) for n in tuned),
              "label": len(names) + ws.rounds - 1, "score": 0 if select is None else ws.rounds + ws.refits}
    done = dict.fromkeys(totals, 0)

    def tick(phase: str, step: int = 1) -> None:  # step 0: the phase starts (its row shows 0/total)
        done[phase] += step
        if progress is not None:
            progress(f"{WARM_START_STAGE}/{phase}", done[phase], totals[phase])

    if tuned:
        tick("tune", 0)
        tuning = make_vec_env(env_id, min(ws.tune_copies, ws.copies), **{**env_kwargs, "device": "cpu"})
        for name in tuned:
            params[name] = tune_controller(tuned_part(candidates[name]), tuning.core, draws[:tuning.num_envs],
                                           lambda i, n: tick("tune")).best
    first = {}
    tick("label", 0)
    for name, ctl in candidates.items():
        first[name] = rollout(venv, ctl, draws[:ws.copies])
        tick("label")
    returns = {name: float(d["rewards"].sum(axis=0).mean()) for name, d in first.items()}
    name = max(returns, key=returns.get)
    teacher = candidates[name]
    rng = np.random.default_rng(seed)
    gamma = float(model.gamma)

    def student(obs):
        with torch.no_grad():
            actions, _, _ = model.policy(torch.as_tensor(obs, dtype=torch.float32, device=model.policy.device),
                                         deterministic=False)
        return actions.cpu().numpy()

    data, snapshots = [first[name]], {}
    for r in range(ws.rounds):
        if r > 0:  # DAgger: the clone so far drives, the teacher labels the states it reaches
            data.append(rollout(venv, teacher, draws[r * ws.copies:(r + 1) * ws.copies], student))
            tick("label")
        stacked = _stack(data, ws.weighting, ws.margin, venv.core.nvec)  # all labels so far, and their weights
        fit_policy(model.policy, *stacked[:3], ws.steps, ws.lr, ws.smoothing, rng, stacked[3])
        if select is not None:
            snapshots[f"round{r}"] = {k: v.detach().clone() for k, v in model.policy.state_dict().items()}
    if ws.dump:
        dump_labels(ws.dump, data)
    chosen = {}
    if select is not None:
        for k in range(ws.refits):  # fresh fits to the last round's stack: every label
            snapshots[f"refit{k}"] = refit_state(model, list(stacked), ws, seed * 100 + k + 1)
        scores = {}
        tick("score", 0)
        for cand, state in snapshots.items():
            model.policy.load_state_dict(state)
            scores[cand] = float(select(model, name, params.get(name, {})))
            tick("score")
        best = min(scores, key=scores.get)
        model.policy.load_state_dict(snapshots[best])
        chosen = {"clone_scores": scores, "clone_chosen": best}
    agreement = _agreement(model.policy, data[-1])  # of the clone delivered, whichever fit it is
    rewards = data[0]["rewards"]
    scale = 1.0
    if normalizer is not None:  # prime the running return statistics as VecNormalize would
        running = discounted_running(rewards, gamma)
        normalizer.ret_rms.update(running.reshape(-1))
        scale = float(np.sqrt(normalizer.ret_rms.var + normalizer.epsilon))
        normed = np.clip(rewards / scale, -normalizer.clip_reward, normalizer.clip_reward)
    else:
        normed = rewards
    targets = returns_to_go(normed, gamma).reshape(-1)
    explained = fit_value(model.policy, data[0]["obs"], targets, ws.value_steps, ws.lr, rng)
    model.policy.set_training_mode(False)
    return {"teacher": name, "rounds": ws.rounds, "teacher_params": params.get(name, {}), "teacher_returns": returns,
            "samples": int(sum(len(d["obs"]) for d in data)), "agreement": agreement, "value_explained": explained, "teacher_reward": float(rewards.sum(axis=0).mean()),
            "reward_scale": scale, **chosen}


def refit_state(model, labels: list[np.ndarray], ws: WarmStartConfig, seed: int) -> dict:
    """The state of a policy like ``model``'s, initialised under torch seed ``seed`` and fitted to
    ``labels`` (obs, labels, mask, weights) for ``ws.rounds * ws.steps`` minibatches, at most
    :data:`REFIT_EPOCHS` passes over them."""
    import math

    import torch

    torch.manual_seed(seed)
    policy = model.policy_class(model.observation_space, model.action_space, model.lr_schedule,
                                **model.policy_kwargs).to(model.device)
    steps = min(ws.rounds * ws.steps, math.ceil(REFIT_EPOCHS * len(labels[0]) / BATCH))
    fit_policy(policy, *labels[:3], steps, ws.lr, ws.smoothing, np.random.default_rng(seed), labels[3])
    return {k: v.detach().clone() for k, v in policy.state_dict().items()}
