"""Checks of what a user gave a lab command, run before any work starts and before any file is written.

Each function raises :class:`~kernel_payload.schema.errors.BadInput` naming the option or the
value at fault, what is accepted and the fix; the lab commands call them first, so a bad name
never costs a run or leaves an empty output folder behind.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from kernel_payload.schema.errors import BadInput, did_you_mean

PPO_PREFIX = "ppo:"


def check_env_id(env: str) -> str:
    """A registered ``ARZ-*`` environment id (``--env``)."""
    from rl import ENV_IDS

    if env not in ENV_IDS:
        raise BadInput(f"unknown environment {env!r}{did_you_mean(env, ENV_IDS)} (known: {', '.join(ENV_IDS)})",
                       key="--env")  # fmt: skip
    return env


def known_controllers() -> list[str]:
    """Names ``arz evaluate`` accepts: the classical controllers and ``ppo:PATH``."""
    from rl.controllers import CONTROLLERS

    designed = [name for name in CONTROLLERS if name != "random"]  # the baselines, then a model, then chance
    return [*designed, f"{PPO_PREFIX}PATH", *(["random"] if "random" in CONTROLLERS else [])]


def check_controllers(specs: list[str]) -> list[str]:
    """Every controller spec names a known controller or an existing, readable SB3 model file.

    ``ppo:PATH`` accepts ``PATH`` or, as stable-baselines3 does, ``PATH.zip``; the file must be a
    zip archive holding a saved model (``data`` and ``policy.pth``).
    """
    from rl.controllers import CONTROLLERS

    if not specs:
        raise BadInput("give at least one controller", key="controllers")
    for spec in specs:
        if spec.startswith(PPO_PREFIX):
            check_model_file(spec[len(PPO_PREFIX) :])
        elif spec not in CONTROLLERS:
            hint = " (a trained model is ppo:PATH, e.g. ppo:runs/ppo/model.zip)" if spec == "ppo" else \
                did_you_mean(spec, CONTROLLERS)
            raise BadInput(f"unknown controller {spec!r}{hint} (known: {', '.join(known_controllers())})")
    if len(set(specs)) != len(specs):
        twice = sorted({s for s in specs if specs.count(s) > 1})
        raise BadInput(f"controller {twice[0]!r} is listed twice", fix="list each controller once")
    return specs


def check_model_file(path: str) -> Path:
    """The saved PPO model behind ``ppo:PATH`` (``PATH`` or ``PATH.zip``)."""
    if not path:
        raise BadInput("ppo: needs a model file, e.g. ppo:runs/ppo/model.zip", key="controllers")
    found = next((p for p in (Path(path), Path(f"{path}.zip")) if p.is_file()), None)
    if found is None:
        raise BadInput(f"model file not found: {path}", fix="train one with `arz train --out DIR` "
                       "and pass ppo:DIR/model.zip")  # fmt: skip
    if not zipfile.is_zipfile(found):
        raise BadInput(f"model file {found} is not a saved stable-baselines3 model (not a zip archive)")
    with zipfile.ZipFile(found) as archive:
        missing = {"data", "policy.pth"} - set(archive.namelist())
    if missing:
        raise BadInput(f"model file {found} is not a saved stable-baselines3 model (no {', '.join(sorted(missing))})")
    return found


def check_models_match_env(specs: list[str], env: str) -> None:
    """Every ``ppo:PATH`` model loads and was trained on ``env``'s observation and action spaces.

    A model that does not load, or comes from another environment, would fail only after the
    classical controllers ran; this loads each model and builds the environment once (a few
    seconds) to compare their spaces first.
    """
    models = [check_model_file(s[len(PPO_PREFIX) :]) for s in specs if s.startswith(PPO_PREFIX)]
    if not models:
        return
    import gymnasium
    from stable_baselines3 import PPO

    import rl  # noqa: F401 - registers the environments

    made = gymnasium.make(env)
    obs, act = made.observation_space, made.action_space
    made.close()
    for path in models:
        try:
            model = PPO.load(path, device="cpu")
        except Exception as err:  # noqa: BLE001 - any failure to load is the file's fault here
            raise BadInput(f"cannot load model {path}: {type(err).__name__}: {err}",
                           fix="pass a model.zip saved by `arz train` or stable-baselines3") from None  # fmt: skip
        if model.observation_space.shape != obs.shape or model.action_space != act:
            raise BadInput(f"model {path} was trained for observations of shape {model.observation_space.shape} "
                           f"and actions {model.action_space}, but {env} has {obs.shape} and {act}",
                           fix="pass the --env the model was trained on")  # fmt: skip


def parse_seeds(text: str, key: str = "--seeds") -> list[int]:
    """A comma-separated list of non-negative integer seeds."""
    parts = [s.strip() for s in text.split(",") if s.strip()]
    bad = [p for p in parts if not (p.isdigit())]
    if bad or not parts:
        shown = f"{bad[0]!r}" if bad else f"{text!r}"
        raise BadInput(f"{shown} is not a non-negative integer: give comma-separated seeds, e.g. 100,101,102",
                       key=key)  # fmt: skip
    return [int(p) for p in parts]


def check_seed(seed: int, key: str = "--seed") -> int:
    """A non-negative integer seed (numpy and torch reject negative ones)."""
    if seed < 0:
        raise BadInput(f"{seed} is negative: give a seed >= 0", key=key)
    return seed


def check_output_folder(path: Path, key: str = "--out") -> Path:
    """A folder that exists or can be created (nothing is created here)."""
    if path.exists() and not path.is_dir():
        raise BadInput(f"{path} exists and is not a folder", fix="give a folder path", key=key)
    _check_creatable(path, key)
    return path


def check_output_file(path: Path, key: str = "--out") -> Path:
    """A file path that can be written (its folder exists or can be created; nothing is created here)."""
    if path.is_dir():
        raise BadInput(f"{path} is a folder", fix="give a file name inside it", key=key)
    _check_creatable(path.parent, key)
    return path


def _check_creatable(folder: Path, key: str) -> None:
    """``folder`` exists as a writable folder, or its nearest existing ancestor is one."""
    probe = folder.absolute()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise BadInput(f"cannot create {folder}: {probe} is a file, not a folder", key=key)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BadInput(f"cannot write into {probe} (permission denied)", fix="choose another path", key=key)
