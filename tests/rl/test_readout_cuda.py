"""The GPU readout (observations, rewards, step info) on the CUDA simulator against the CPU (issue 16).

The simulator must be on before ``numba.cuda`` is first imported, so the GPU side runs in a
subprocess with ``NUMBA_ENABLE_CUDASIM=1`` (this file run as a script), which saves what a
:class:`rl.vec_env.BatchedVecEnv` on ``device="gpu"`` returned over a few random-action steps,
an episode end and auto-reset included; the CPU VecEnv runs the same steps here. The network is
``intersection_4arm`` cut to 8 cells per link with short signal times (the simulator executes the
kernels in Python), 3 copies, 2.5 s decisions, 2-decision episodes, 5 steps, the clock feature on.

Tolerances (relative to each array's largest magnitude): float64 1e-12, float32 1e-5
(observations: absolute, they lie in [0, 1]); the ledger residual against the vehicles entered.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
B, STEPS = 3, 5
ENV = {"decision_interval": 2.5, "episode_length": 5.0, "demand_scale": (1.5, 3.0), "clock": True}
INFO = ("delay", "throughput", "arrived", "queue", "residual", "time")
TOL = {"float64": 1e-12, "float32": 1e-5}


def tiny_scenario(path: Path) -> Path:
    """``intersection_4arm`` with 8 cells per link and 2 s min green (phases change within the run)."""
    sc = yaml.safe_load((ROOT / "scenarios" / "intersection_4arm.yml").read_text())
    for link in sc["links"]:
        link["cells"] = 8
    signal = next(n for n in sc["nodes"] if n["id"] == "J")["signal"]
    signal.update(yellow="1 s", all_red="0 s", min_green="2 s", max_green="6 s")
    path.write_text(yaml.safe_dump(sc))
    return path


def run_env(venv) -> dict[str, np.ndarray]:
    """Reset, then random-action steps; everything the env returned, stacked per step."""
    actions = np.random.default_rng(0).integers(0, 2, size=(STEPS, B, 1))
    out = {"reset_obs": venv.reset()}
    rows: dict[str, list] = {k: [] for k in ("obs", "reward", "done", "terminal", *INFO)}
    for a in actions:
        obs, reward, done, infos = venv.step(a)
        rows["obs"].append(obs)
        rows["reward"].append(reward)
        rows["done"].append(done)
        rows["terminal"].append(np.array([i.get("terminal_observation", np.zeros_like(obs[0])) for i in infos]))
        for k in INFO:
            rows[k].append(np.array([i[k] for i in infos]))
    out.update({k: np.asarray(v) for k, v in rows.items()})
    return out


def _make(scenario: Path, dtype: str | None, device: str):
    from rl.vec_env import BatchedVecEnv

    return BatchedVecEnv(B, seed=11, scenario=str(scenario), device=device, dtype=dtype, **ENV)


def _simulate(path: str) -> None:
    """Subprocess entry: the GPU env (simulated) in both precisions, saved to ``path``."""
    scenario = tiny_scenario(Path(path).with_suffix(".yml"))
    results = {}
    for dtype in ("float64", "float32"):
        venv = _make(scenario, dtype, "gpu")
        assert type(venv.core.sim).__name__ == "CudaBatchedNetwork" and venv.core.on_device
        results.update({f"{dtype}/{k}": v for k, v in run_env(venv).items()})
    np.savez(path, **results)


@pytest.fixture(scope="module")
def gpu_and_cpu(tmp_path_factory) -> tuple[dict, dict]:
    folder = tmp_path_factory.mktemp("readout")
    path = folder / "gpu.npz"
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, __file__, str(path)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=3000)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    with np.load(path) as data:
        gpu = dict(data)
    cpu = run_env(_make(tiny_scenario(folder / "cpu.yml"), None, "cpu"))
    return gpu, cpu


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max(initial=0.0)) / max(float(np.abs(b).max(initial=0.0)), 1e-300)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_device_observations_rewards_and_info_equal_the_cpu(dtype, gpu_and_cpu):
    gpu, cpu = gpu_and_cpu
    g = {k.split("/", 1)[1]: v for k, v in gpu.items() if k.startswith(dtype)}
    tol = TOL[dtype]
    assert cpu["done"].any() and np.array_equal(g["done"], cpu["done"])  # an episode ended: auto-reset ran
    for key in ("reset_obs", "obs", "terminal"):
        assert g[key].dtype == np.float32
        assert np.abs(g[key] - cpu[key]).max() <= tol, key
    assert 0.05 < cpu["obs"].mean() < 0.95 and np.ptp(cpu["obs"]) > 0.5  # not all saturated
    assert np.abs(cpu["reward"]).max() > 0
    assert _rel(g["reward"], cpu["reward"]) <= tol
    for key in ("delay", "throughput", "arrived", "queue", "time"):
        assert _rel(g[key], cpu[key]) <= tol, key
    entered = np.abs(cpu["arrived"]).sum(axis=0).max()
    assert np.abs(g["residual"]).max() <= tol * max(entered, 1.0)


def _compile_ptx(path: str) -> None:
    """Subprocess entry: the readout kernel compiled to PTX for sm_75 (NVVM, no GPU), per precision:
    counts of f32 and f64 arithmetic instructions."""
    import json

    import numba
    import numba.cuda.dispatcher as dispatcher
    from numba import cuda

    from rl.features import measure_size
    from rl.observation import build_layout
    from rl.readout_cuda import readout_kernel, scratch_shapes
    from rl.rewards import get_reward
    from solver.network import batch_cuda
    from solver.network.compile import build_network
    from solver.scenario.loader import load_scenario

    # device functions ask the current device for its compute capability: answer without one
    dispatcher.get_current_device = lambda: type("Device", (), {"compute_capability": (7, 5)})()
    net = build_network(load_scenario(ROOT / "scenarios" / "intersection_4arm.yml"))
    layout, M, counts = build_layout(net), measure_size(len(net.approaches), len(net.links)), {}
    for dtype in ("float64", "float32"):
        st, static = batch_cuda.state_arrays(net, B, dtype), batch_cuda.static_arguments(net, dtype)
        state = tuple(st[k] for k in ("Q", "QU", "T", "DSCALE", "SP", "SS", "ST", "ACC", "AQ", "AQMAX"))
        scratch = tuple(np.zeros(shape, dtype) for shape in scratch_shapes(net, B))
        args = (state, static[0], static[1], static[3], layout.arrays(net.par, dtype), get_reward("pressure")(net),
                scratch, np.zeros((B, layout.size), np.float32), np.zeros((B, M)), np.zeros((B, M)), np.zeros(B),
                5.0, True, True)  # fmt: skip
        kernel = readout_kernel(dtype)
        ptx, _ = cuda.compile_ptx(kernel.py_func, tuple(numba.typeof(a) for a in args), cc=(7, 5))
        ops = [ln.split()[0] for ln in ptx.splitlines()
               if ln.strip() and not ln.lstrip().startswith(("ld", "st", "mov", "cvt", "/", "."))]
        counts[dtype] = {p: sum(op.endswith(f".{p}") for op in ops) for p in ("f32", "f64")}
    Path(path).write_text(json.dumps(counts))


@pytest.mark.slow
def test_readout_kernel_compiles_to_ptx_offline(tmp_path):
    """Typing and lowering for the real CUDA target (the simulator checks neither); needs NVVM.
    Observed (sm_75): float64 1,886 f64 / 20 f32; float32 2,287 f32 / 159 f64 (the measure vector
    and the reward are float64 by design)."""
    import json

    path = tmp_path / "ptx.json"
    proc = subprocess.run([sys.executable, __file__, "--ptx", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    if proc.returncode and any(k in proc.stderr for k in ("nvvm", "NVVM", "nvrtc", "DynamicLibNotFound")):
        pytest.skip("NVVM/NVRTC not found (pip install nvidia-cuda-nvcc-cu12 nvidia-cuda-nvrtc-cu12)")
    assert proc.returncode == 0, proc.stderr[-4000:]
    counts = json.loads(path.read_text())
    assert counts["float64"]["f32"] < 0.05 * counts["float64"]["f64"]
    assert counts["float32"]["f64"] < 0.15 * counts["float32"]["f32"]  # the features really are float32


if __name__ == "__main__":
    from kernel_payload.kernel_cache import install_from_env

    install_from_env()
    if sys.argv[1] == "--ptx":
        _compile_ptx(sys.argv[2])
    else:
        _simulate(sys.argv[1])


ADVISED = """
import sys, numpy as np
from pathlib import Path
from tests.rl.test_readout_cuda import B, tiny_scenario
from rl.vec_env import BatchedVecEnv
venv = BatchedVecEnv(B, seed=11, scenario=str(tiny_scenario(Path(sys.argv[1]).with_suffix(".yml"))), device="gpu",
                     dtype="float64", decision_interval=2.5, episode_length=5.0, demand_scale=(1.5, 3.0),
                     advisor="actuated-gap", advisor_params={"gap_s": 1.5, "max_out": 0.75})
assert type(venv.core.sim).__name__ == "CudaBatchedNetwork"
obs = [venv.reset()] + [venv.step(a)[0] for a in np.random.default_rng(0).integers(0, 2, size=(STEPS, B, 1))]
np.save(sys.argv[1], np.array(obs))
"""


def test_the_advisor_is_observed_on_the_gpu_as_on_the_cpu(tmp_path):
    """An environment on the GPU observes gap-out's request (``advisor``), computed on the host
    from the batch's host copies, exactly as on the CPU (float64 on the CUDA simulator; 3 copies,
    5 random-action steps, an episode end included; the requests change during the run)."""
    from rl.vec_env import BatchedVecEnv

    path = tmp_path / "advised.npy"
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT)}
    code = ADVISED.replace("STEPS", str(STEPS))
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code, str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    gpu = np.load(path)
    cpu_env = BatchedVecEnv(B, seed=11, scenario=str(tiny_scenario(tmp_path / "cpu.yml")), device="cpu",
                            decision_interval=2.5, episode_length=5.0, demand_scale=(1.5, 3.0),
                            advisor="actuated-gap", advisor_params={"gap_s": 1.5, "max_out": 0.75})
    actions = np.random.default_rng(0).integers(0, 2, size=(STEPS, B, 1))
    cpu = np.array([cpu_env.reset()] + [cpu_env.step(a)[0] for a in actions])
    advice = cpu[..., -2:]  # the one signal's two phases, one-hot
    assert np.all(advice.sum(axis=-1) == 1) and advice[..., 0].any() and advice[..., 1].any()
    np.testing.assert_array_equal(gpu[..., -2:], advice)
    assert np.abs(gpu - cpu).max() <= TOL["float64"]
