"""numba-cuda network kernels against numba-cpu, on the CUDA simulator (issue 7).

The simulator must be switched on before ``numba.cuda`` is first imported, and this pytest
process runs the real numba-cpu; so the GPU side runs in a SUBPROCESS with
``NUMBA_ENABLE_CUDASIM=1`` (this file run as a script: ``python test_cuda_sim.py OUT.npz``), which
saves its final states, and the numba-cpu reference is computed here. Grids are tiny (8 cells per
link) and batches 2-5: the simulator executes the kernels in Python.

Tolerances (relative to each array's largest magnitude) are about 100 times what these cases
show (observed in brackets): float64 agrees with numba-cpu to 1e-12 (<= 1.3e-14). float32
(FLOAT32_RTOL): state 1e-4 (1.1e-6, at the shock of a queue behind a red light), entry queues
5e-5 (4.6e-7), cumulative measures 2e-5 (2.3e-7), approach queue integrals 5e-6 (4.9e-8), longest
queue 1e-6 (identical: a whole number of cells); ledger residual 1e-5 of the vehicles entered
(1.6e-6). Signal states are identical; a float32 interval may take one substep more or fewer
(observed: none). ``multi_block`` runs 5 copies in blocks of 2: three blocks, the last half empty.

Real-GPU tests (``-m gpu``) run the same comparison at full size on a real device.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from solver.network.batch import BatchedNetwork
from solver.network.compile import build_network
from solver.scenario.loader import load_mapping, load_scenario

ROOT = Path(__file__).resolve().parents[2]
FLOAT64_RTOL = 1e-12
FLOAT32_RTOL = {"Q": 1e-4, "QU": 5e-5, "ACC": 2e-5, "AQ": 5e-6, "AQMAX": 1e-6}
FLOAT32_LEDGER = 1e-5  # ledger residual relative to the vehicles entered
PARTIAL_RESET = {"two_approach"}  # cases that also reset one copy alone at the end
FIELDS = ("Q", "QU", "T", "SP", "SS", "ST", "ACC", "AQ", "AQMAX", "STEPS")

TWO_APPROACH = {
    "name": "tiny-two-approach",
    "time": {"end": 60},
    "initial": {"type": "equilibrium", "rho_m": "40 veh/km", "rho_c": "10 veh/km"},
    "links": [
        {"id": "a", "from": "sa", "to": "j", "length": 160, "cells": 8, "quality": 2},
        {"id": "b", "from": "sb", "to": "j", "length": 160, "cells": 8, "quality": 3},
        {"id": "o", "from": "j", "to": "x", "length": 160, "cells": 8, "quality": 2},
    ],
    "nodes": [
        {"id": "sa", "kind": "entry", "demand": {"m": [[0, "1500 veh/h"]], "c": [[0, "400 veh/h"]]}},
        {"id": "sb", "kind": "entry", "demand": {"m": [[0, "4000 veh/h"]], "c": [[0, "300 veh/h"]]}},
        {"id": "j", "kind": "junction", "signal": {
            "phases": [{"green": ["a"]}, {"green": ["b"]}],
            "yellow": "1 s", "all_red": "1 s", "min_green": "2 s"}},
        {"id": "x", "kind": "exit"},
    ],
}  # fmt: skip

RED_LIGHT = {
    "name": "tiny-red-light",
    "time": {"end": 60},
    "initial": {"type": "equilibrium", "rho_m": "60 veh/km", "rho_c": "15 veh/km"},
    "links": [
        {"id": "approach", "from": "src", "to": "light", "length": 120, "cells": 8, "quality": 2},
        {"id": "downstream", "from": "light", "to": "sink", "length": 120, "cells": 8, "quality": 2},
    ],
    "nodes": [
        {"id": "src", "kind": "entry", "demand": {"m": [[0, "1800 veh/h"]], "c": [[0, "400 veh/h"]]}},
        {"id": "light", "kind": "junction", "signal": {
            "phases": [{"name": "stop", "green": []}, {"name": "go", "green": ["approach"]}],
            "yellow": "0 s", "all_red": "0 s", "min_green": "5 s"}},
        {"id": "sink", "kind": "exit"},
    ],
}  # fmt: skip


BOTTLENECK = {  # no signal; demand above capacity: an entry queue grows
    "name": "tiny-bottleneck",
    "time": {"end": 60},
    "links": [{"id": "a", "from": "s", "to": "j", "length": 300, "cells": 8},
              {"id": "b", "from": "j", "to": "x", "length": 300, "cells": 8}],
    "nodes": [{"id": "s", "kind": "entry", "demand": {"m": [[0, "9000 veh/h"], [60, "0 veh/h"]]}},
              {"id": "j", "kind": "junction"}, {"id": "x", "kind": "exit"}],
}  # fmt: skip


def _tiny_catalogue(name: str):
    sc = load_scenario(ROOT / "scenarios" / f"{name}.yml")
    links = [lk.model_copy(update={"cells": 8}) for lk in sc.links]
    return sc.model_copy(update={"links": links, "observe": None})


#: decision interval of the two-approach cases. 0.5 s, not 2 s: since the network step became one
#: function for CPU and GPU, the simulator spends ~15 s per substep on this scenario (0.1-2 s on the
#: catalogue ones: each device-function call costs a globals swap in the simulator, see docs/gpu.md),
#: and 2 s intervals took ~200 s of CI.
TWO_APPROACH_INTERVAL_S = 0.5


def cases() -> dict:
    """name -> (scenario, batch, interval s, requested phase per interval and copy, dtypes)."""
    two = load_mapping(TWO_APPROACH)
    return {
        "two_approach": (two, 3, TWO_APPROACH_INTERVAL_S, [[0, 1, 0], [1, 1, 0], [1, 0, 1]], ("float64", "float32")),
        "red_light": (load_mapping(RED_LIGHT), 2, 2.5, [[0, 0], [0, 0], [0, 0]], ("float64", "float32")),
        "bottleneck": (load_mapping(BOTTLENECK), 2, 5.0, [[], []], ("float64",)),
        "intersection_4arm": (_tiny_catalogue("intersection_4arm"), 2, 2.5, [[0, 1], [1, 1]], ("float64", "float32")),
        "arterial_3": (_tiny_catalogue("arterial_3"), 2, 2.5, [[0, 1], [1, 0]], ("float64",)),
        "seed_corridor": (_tiny_catalogue("seed_corridor"), 2, 5.0, [[1, 0], [0, 1]], ("float64",)),
        "multi_block": (two, 5, TWO_APPROACH_INTERVAL_S, [[0, 1, 0, 1, 1], [1, 1, 0, 0, 1]], ("float64",)),
    }  # fmt: skip


#: threads per block on the GPU side, where not the default (one copy per block on the simulator,
#: whose threads of one block contend for its locks): 5 copies in blocks of 2 run three blocks,
#: the last one half empty (the bounds guard of the grid's tail)
THREADS_PER_BLOCK = {"multi_block": 2}


def _demand_scales(net, batch: int) -> np.ndarray:
    return np.linspace(0.8, 1.25, batch)[:, None] * np.ones((1, len(net.entries)))


def _requests(net, reqs) -> np.ndarray | None:
    if not net.signals:
        return None
    return np.repeat(np.asarray(reqs, np.int64)[:, None], len(net.signals), axis=1)


def run_case(sim, net, interval: float, requests, partial_reset: bool = False) -> dict:
    """Advance ``sim`` through the intervals; the final state, ledger and measures as arrays.

    With ``partial_reset``, copy 0 is then reset alone (new demand) and all advance once more.
    """
    sim.reset(demand_scale=_demand_scales(net, sim.B))
    for reqs in requests:
        sim.advance(interval, _requests(net, reqs))
    if partial_reset:
        sim.reset(index=[0], demand_scale=np.full((1, len(net.entries)), 1.1))
        sim.advance(interval, _requests(net, requests[0]))
    out = {f: np.asarray(getattr(sim, f), np.float64) for f in FIELDS}
    out.update({f"ledger_{k}": v for k, v in sim.ledger().items()})
    down = net.links.index(net.links[-1])
    out["stored_last_link"] = sim.Q[:, [0, 2], net.link_slice(net.links[down])].astype(np.float64).sum(axis=(1, 2)) * net.lk_dx[down]
    return out


def _bench_on_gpu(path: str) -> None:
    """Subprocess entry: device resolution and a two-row GPU benchmark on a tiny scenario."""
    import json

    import yaml

    from solver.backends import make_batched_network
    from solver.bench.gpu import run_gpu_bench, speedups
    from solver.device import device_name, resolve_device

    scenario = Path(path).with_suffix(".yml")  # 1 s decisions: the rows' shape, not a benchmark
    scenario.write_text(yaml.safe_dump({**TWO_APPROACH, "decision_interval": 1.0}))
    rows = run_gpu_bench(str(scenario), batches=(1, 2), dtypes=("float32",), decisions=1, cpu_threads=(None,))
    sim = make_batched_network(build_network(load_mapping(TWO_APPROACH)), 2, "auto", "float32")
    Path(path).write_text(json.dumps({
        "auto": resolve_device("auto"), "name": device_name("gpu"), "rows": rows,
        "speedups": speedups(rows), "made": type(sim).__name__, "dtype": str(sim.Q.dtype)}))


def _compile_ptx(path: str) -> None:
    """Subprocess entry: compile the advance kernel to PTX for sm_75 (no GPU needed, only NVVM)."""
    import json

    import numba
    import numba.cuda.dispatcher as dispatcher
    from numba import cuda

    from solver.kernels import cuda as kernels_cuda
    from solver.network import batch_cuda

    # device functions ask the current device for its compute capability: answer without one
    dispatcher.get_current_device = lambda: type("Device", (), {"compute_capability": (7, 5)})()
    net = build_network(_tiny_catalogue("intersection_4arm"))
    counts = {}
    for dtype in ("float64", "float32"):
        args = batch_cuda.advance_arguments(5.0, 100, batch_cuda.state_arrays(net, 4, dtype),
                                            batch_cuda.static_arguments(net, dtype))
        kernel = kernels_cuda.compile_kernels(dtype).advance
        ptx, _ = cuda.compile_ptx(kernel.py_func, tuple(numba.typeof(a) for a in args), cc=(7, 5))
        ops = [line.split()[0] for line in ptx.splitlines() if line.strip() and not line.lstrip().startswith(("ld", "st", "mov", "cvt", "/", "."))]
        counts[dtype] = {p: sum(op.endswith(f".{p}") for op in ops) for p in ("f32", "f64")}
    Path(path).write_text(json.dumps(counts))


def _simulate_on_gpu(path: str) -> None:
    """Subprocess entry: run every case on the (simulated) GPU and save the results."""
    from solver.network.batch_cuda import CudaBatchedNetwork

    results = {}
    for name, (sc, batch, interval, requests, dtypes) in cases().items():
        net = build_network(sc)
        for dtype in dtypes:
            sim = CudaBatchedNetwork(net, batch=batch, dtype=dtype,
                                     threads_per_block=THREADS_PER_BLOCK.get(name))
            assert sim.grid == ((3, 2) if name in THREADS_PER_BLOCK else (batch, 1)), sim.grid
            out = run_case(sim, net, interval, requests, name in PARTIAL_RESET)
            results.update({f"{name}/{dtype}/{k}": v for k, v in out.items()})
    np.savez(path, **results)


#: runs this file as a script after installing the session's kernel cache (tests/conftest.py), so
#: the numba-cpu rows of the bench load the kernels the session compiled instead of compiling them
_SCRIPT = ("import runpy, sys\nfrom kernel_payload.kernel_cache import install_from_env\n"
           f"install_from_env()\nsys.argv[0] = {__file__!r}\nrunpy.run_path(sys.argv[0], run_name='__main__')")


def _run_simulated(*args: str) -> None:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]


#: the simulator run of every case, started in the background at collection (tests/conftest.py)
_BACKGROUND: dict = {}


def start_simulated_results() -> None:
    """Start the simulator run of :func:`cases` now, in a subprocess, so that its ~100 s (the
    simulator executes the kernels in Python) overlap the kernel-free tests that run first;
    :func:`simulated_results` collects it. Called once by tests/conftest.py at collection."""
    if "process" in _BACKGROUND:
        return
    folder = Path(tempfile.mkdtemp(prefix="arz-cudasim-"))
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT)}
    with open(folder / "stderr.txt", "wb") as err:
        _BACKGROUND.update(folder=folder, process=subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, str(folder / "results.npz")], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL))


def stop_simulated_results() -> None:
    """Kill a background run still going (an interrupted session) and remove its folder."""
    process, folder = _BACKGROUND.pop("process", None), _BACKGROUND.pop("folder", None)
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def simulated_results(tmp_path_factory) -> dict:
    """The simulator's results: from the background run when one was started, else run now."""
    process = _BACKGROUND.get("process")
    if process is None:
        path = tmp_path_factory.mktemp("cudasim") / "results.npz"
        _run_simulated(str(path))
    else:
        rc = process.wait(timeout=900)
        path = _BACKGROUND["folder"] / "results.npz"
        assert rc == 0, (_BACKGROUND["folder"] / "stderr.txt").read_text()[-4000:]
    with np.load(path) as data:
        return dict(data)


@pytest.fixture(scope="module")
def gpu_results(tmp_path_factory) -> dict:
    return simulated_results(tmp_path_factory)


@pytest.fixture(scope="module")
def cpu_results() -> dict:
    results = {}
    for name, (sc, batch, interval, requests, _) in cases().items():
        net = build_network(sc)
        sim = BatchedNetwork(net, batch=batch, threads=1)
        out = run_case(sim, net, interval, requests, name in PARTIAL_RESET)
        results.update({f"{name}/{k}": v for k, v in out.items()})
    return results


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.abs(b).max(initial=0.0)), 1e-300)
    return float(np.abs(a - b).max(initial=0.0)) / scale


@pytest.mark.parametrize("name", list(cases()))
def test_float64_agrees_with_numba_cpu(name, gpu_results, cpu_results):
    for field in (*FIELDS, "ledger_entered", "ledger_exited"):
        err = _rel_err(gpu_results[f"{name}/float64/{field}"], cpu_results[f"{name}/{field}"])
        assert err <= FLOAT64_RTOL, f"{name} {field}: relative difference {err:.2e}"


@pytest.mark.parametrize("name", [n for n, c in cases().items() if "float32" in c[4]])
def test_float32_within_documented_tolerance(name, gpu_results, cpu_results):
    for field, tol in FLOAT32_RTOL.items():
        err = _rel_err(gpu_results[f"{name}/float32/{field}"], cpu_results[f"{name}/{field}"])
        assert err <= tol, f"{name} {field}: relative difference {err:.2e}"
    for field in ("SP", "SS"):  # signal state: identical
        assert np.array_equal(gpu_results[f"{name}/float32/{field}"], cpu_results[f"{name}/{field}"])
    # substeps of the last interval: dt comes from float32 wave speeds, so at most one more or less
    steps = gpu_results[f"{name}/float32/STEPS"] - cpu_results[f"{name}/STEPS"]
    assert np.abs(steps).max() <= 1


@pytest.mark.parametrize(("name", "dtype"), [(n, d) for n, c in cases().items() for d in c[4]])
def test_ledger_closes(name, dtype, gpu_results):
    entered = gpu_results[f"{name}/{dtype}/ledger_entered"]
    residual = gpu_results[f"{name}/{dtype}/ledger_residual"]
    assert (entered.sum(axis=1) > 0).all()
    tol = 1e-12 if dtype == "float64" else FLOAT32_LEDGER
    assert np.abs(residual).max() <= tol * entered.max()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_red_signal_lets_nothing_through(dtype, gpu_results):
    sc, batch, interval, requests, _ = cases()["red_light"]
    net = build_network(sc)
    down = net.links.index("downstream")
    initial = net.q0[[0, 2], net.link_slice("downstream")].sum() * net.lk_dx[down]
    exited = gpu_results[f"red_light/{dtype}/ledger_exited"].sum(axis=1)
    left = gpu_results[f"red_light/{dtype}/stored_last_link"]
    assert (gpu_results[f"red_light/{dtype}/SP"] == 0).all()  # stop phase held all along
    assert (exited > 0.5 * initial).all()  # the downstream road drained into the exit
    # nothing crossed the light: what is downstream now plus what left is what was there
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(left + exited, initial, rtol=tol)


def test_device_factory_and_bench_rows_on_the_simulator(tmp_path):
    import json

    path = tmp_path / "bench.json"
    _run_simulated("--bench", str(path))
    got = json.loads(path.read_text())
    assert got["auto"] == "gpu" and got["name"] == "CUDA simulator"
    assert got["made"] == "CudaBatchedNetwork" and got["dtype"] == "float32"
    rows = got["rows"]
    assert [(r["device"], r["batch"]) for r in rows] == [("cpu", 1), ("cpu", 2), ("gpu", 1), ("gpu", 2)]
    for r in rows:
        assert r["decision_steps_per_s"] > 0 and r["substeps_per_decision"] >= 1
        assert r["sim_s_per_wall_s"] == pytest.approx(r["decision_steps_per_s"] * r["decision_s"], rel=1e-4)
    assert got["speedups"]["gpu_float32_speedup_vs_cpu"] > 0
    fastest = max((r for r in rows if r["device"] == "gpu"), key=lambda r: r["decision_steps_per_s"])
    assert got["speedups"]["gpu_float32_batch"] == fastest["batch"]  # no batch >= 4096: any batch


def test_gpu_device_without_a_gpu_is_a_clear_error(monkeypatch):
    from solver import device
    from solver.backends import make_batched_network
    from solver.errors import BackendError

    monkeypatch.setattr(device, "gpu_available", lambda: False)
    assert device.resolve_device("auto") == "cpu"
    with pytest.raises(BackendError, match="no usable NVIDIA GPU"):
        device.resolve_device("gpu")
    with pytest.raises(BackendError, match="not one of"):
        device.resolve_device("tpu")
    sim = make_batched_network(build_network(load_mapping(TWO_APPROACH)), 2, "auto", "float32")
    assert isinstance(sim, BatchedNetwork) and sim.Q.dtype == np.float64  # auto on a CPU runs float64
    with pytest.raises(BackendError, match="float64 only"):
        make_batched_network(sim.net, 2, "cpu", "float32")


def test_bench_device_gpu_without_a_gpu_exits_2_with_the_fix(monkeypatch):
    from typer.testing import CliRunner

    from kernel_payload.cli.app import app
    from solver import device

    monkeypatch.setattr(device, "gpu_available", lambda: False)
    result = CliRunner().invoke(app, ["bench", "--device", "gpu"])
    assert result.exit_code == 2
    assert "no usable NVIDIA GPU" in result.output and "device 'auto' or 'cpu'" in result.output


@pytest.mark.slow
def test_kernels_compile_to_ptx_offline(tmp_path):
    """Typing and lowering for the real CUDA target (the simulator checks neither); needs NVVM."""
    import json

    path = tmp_path / "ptx.json"
    proc = subprocess.run([sys.executable, __file__, "--ptx", str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    if proc.returncode and any(k in proc.stderr for k in ("nvvm", "NVVM", "nvrtc", "DynamicLibNotFound")):
        pytest.skip("NVVM/NVRTC not found (pip install nvidia-cuda-nvcc-cu12 nvidia-cuda-nvrtc-cu12)")
    assert proc.returncode == 0, proc.stderr[-4000:]
    counts = json.loads(path.read_text())
    assert counts["float64"]["f32"] < 0.05 * counts["float64"]["f64"]
    assert counts["float32"]["f64"] < 0.15 * counts["float32"]["f32"]  # float32 really is float32


@pytest.mark.gpu
def test_real_gpu_agrees_with_numba_cpu_full_size():
    from solver.network.batch_cuda import CudaBatchedNetwork

    net = build_network(load_scenario(ROOT / "scenarios" / "intersection_4arm.yml"))
    requests = [[0] * 8, [1] * 8, [1] * 4 + [0] * 4, [0] * 8]
    cpu = run_case(BatchedNetwork(net, batch=8), net, 5.0, requests)
    for dtype in ("float64", "float32"):
        gpu = run_case(CudaBatchedNetwork(net, batch=8, dtype=dtype), net, 5.0, requests)
        for field in ("Q", "QU", "ACC"):
            tol = FLOAT64_RTOL if dtype == "float64" else FLOAT32_RTOL[field]
            assert _rel_err(gpu[field], cpu[field]) <= tol, (dtype, field)


@pytest.mark.gpu
def test_real_gpu_device_resolution():
    from solver.device import device_name, resolve_device

    assert resolve_device("auto") == "gpu"
    assert "simulator" not in device_name("gpu").lower()


if __name__ == "__main__":
    if sys.argv[1] == "--bench":
        _bench_on_gpu(sys.argv[2])
    elif sys.argv[1] == "--ptx":
        _compile_ptx(sys.argv[2])
    else:
        _simulate_on_gpu(sys.argv[1])
