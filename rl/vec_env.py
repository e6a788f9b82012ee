"""An SB3 ``VecEnv`` whose copies are stepped together in one batched solver call."""

from __future__ import annotations

import time

import numpy as np
from gymnasium.utils import seeding
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from rl.config import resolve_config
from rl.env import action_space_for, observation_space_for, phase_requests
from rl.errors import EnvConfigError
from rl.simulation import ControlledNetwork, CopyInfo


class BatchedVecEnv(VecEnv):
    """``n_envs`` copies of :class:`rl.env.TrafficSignalEnv` in one :class:`BatchedNetwork`.

    SB3 semantics: ``step_wait`` resets finished copies itself and puts the last observation of
    the finished episode in ``infos[i]["terminal_observation"]``. Copy i seeded with ``seed + i``
    behaves exactly like ``TrafficSignalEnv`` reset with ``seed=seed + i``.

    Args:
        n_envs: number of copies.
        seed: base seed (None: unseeded).
        dtype: state precision (default: float32 on the GPU, float64 on the CPU).
        **env_kwargs: the keyword arguments of :class:`rl.env.TrafficSignalEnv`.
    """

    def __init__(self, n_envs: int, seed: int | None = None, dtype: str | None = None, **env_kwargs):
        if n_envs < 1:
            raise EnvConfigError("n_envs", n_envs, "give at least 1")
        self.config, sc = resolve_config(**env_kwargs)
        self.core = ControlledNetwork(self.config, sc, batch=n_envs, dtype=dtype)
        self.render_mode = None
        super().__init__(n_envs, observation_space_for(self.core.obs_size),
                         action_space_for(self.core.nvec, self.config.action))
        self.feature_names = self.core.feature_names
        self._rngs = [seeding.np_random(None)[0] for _ in range(n_envs)]
        self._actions = np.zeros((n_envs, len(self.core.nvec)), np.int64)
        self._returns = np.zeros(n_envs)
        self._lengths = np.zeros(n_envs, np.int64)
        self._env_s = 0.0
        if seed is not None:
            self.seed(seed)

    def reset(self) -> np.ndarray:
        """Reset every copy (using seeds set by :meth:`seed`, then forgetting them)."""
        for i, s in enumerate(self._seeds):
            if s is not None:
                self._rngs[i] = seeding.np_random(s)[0]
        self._reset_seeds()
        self._reset_copies(np.arange(self.num_envs))
        return self.core.observe()

    def _reset_copies(self, index: np.ndarray) -> None:
        self.core.reset(index, [self._rngs[i] for i in index])
        self._returns[index] = 0.0
        self._lengths[index] = 0
        for i in index:
            self.reset_infos[i] = {"demand_scale": float(self.core.demand_scale[i])}

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions. Shapes: (n_envs,) or (n_envs, S) int."""
        self._actions = np.asarray(actions, np.int64).reshape(self.num_envs, -1)

    @property
    def timings(self) -> dict[str, float]:
        """Wall seconds spent so far in :meth:`step_wait` (``env_s``) and, parts of it, in the
        host<->device copies of the GPU batch and its readout (``copies_s``; 0 on the CPU), in the
        solver's advance (``advance_s``: on the GPU the kernel, waited for) and in the readout of
        observations and rewards (``readout_s``, its copies included); the rest of ``env_s`` is
        host-side Python (infos, resets, the advisor)."""
        copies = self.core.readout.copy_s + getattr(self.core.sim, "copy_s", 0.0)
        return {"env_s": self._env_s, "copies_s": copies, **self.core.step_s}

    def step_wait(self):
        """Advance all copies one decision interval; auto-reset the finished ones."""
        start = time.perf_counter()
        try:
            return self._step_and_reset()
        finally:
            self._env_s += time.perf_counter() - start

    def _step_and_reset(self):
        rewards, truncated, info = self.core.step(phase_requests(self.core, self._actions, self.config.action))
        obs = self.core.observe()
        self._returns += rewards
        self._lengths += 1
        infos = [CopyInfo(info, i) for i in range(self.num_envs)]
        done = np.flatnonzero(truncated)
        for i in done:
            infos[i]["terminal_observation"] = obs[i].copy()
            infos[i]["TimeLimit.truncated"] = True
            infos[i]["episode"] = {"r": float(self._returns[i]), "l": int(self._lengths[i])}
        if done.size:
            self._reset_copies(done)
            obs[done] = self.core.observe()[done]
        return obs, rewards.astype(np.float32), truncated.copy(), infos

    def close(self) -> None:
        """Nothing to release (the solver's thread pool ends with the process)."""

    def get_attr(self, attr_name, indices=None):
        """Attributes are shared by all copies."""
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name, value, indices=None) -> None:
        """Set a shared attribute."""
        setattr(self, attr_name, value)

    def env_method(self, method_name, *method_args, indices=None, **method_kwargs):
        """Call a method of the shared object once per index."""
        return [getattr(self, method_name)(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None):
        """Copies are never wrapped."""
        return [False for _ in self._get_indices(indices)]


def make_vec_env(env_id: str, n_envs: int = 1, seed: int | None = None, **kwargs) -> BatchedVecEnv:
    """Batched VecEnv for a registered ``ARZ-*`` id (its registered kwargs, overridden by kwargs:
    :func:`rl.registered_kwargs`).

    Raises:
        EnvConfigError: an id that is not one of ``rl.ENV_IDS``.
    """
    from rl import ENV_IDS, registered_kwargs

    if env_id not in ENV_IDS:
        raise EnvConfigError("env_id", env_id, f"use one of {sorted(ENV_IDS)}")
    return BatchedVecEnv(n_envs, seed, **registered_kwargs(env_id, kwargs))
