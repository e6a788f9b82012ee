"""The kernel script: stdlib-only, run as-is by a Kaggle kernel or by the local backend.

:mod:`orchestrator.kernel_builder` copies this file and replaces the ``CONFIG_JSON`` line with the
job's configuration. The script then

1. clones the repository at the pinned commit into a temporary folder (never the output folder) and
   checks that HEAD is exactly that commit -- or, with the ``inline`` code transport, unpacks the
   embedded archive there after checking its sha256 and that it carries that commit's id (with
   the ``dataset`` transport, the same for the archive found in the attached dataset, under
   ``$ARZ_INPUT_DIR`` or ``/kaggle/input``);
2. installs the missing requirements -- from the attached wheelhouse dataset first, without an
   index (:mod:`orchestrator.wheelhouse`), then with pip -- never touching a preinstalled torch,
   and skips pip entirely when everything is already installed (the local backend's case);
3. runs ``python -u -m kernel_payload --spec ... --out OUTPUT`` from the clone, its output streamed
   straight through (unbuffered);
4. makes sure ``OUTPUT/session_summary.json`` exists and is final: if the payload died hard it asks
   ``kernel_payload --salvage`` to close it, and if even that is impossible (no clone, failed
   install) it writes a minimal failed summary itself;
5. removes the clone, so the output folder holds only results.

Compiled numba kernels are kept between jobs in a per-user folder outside the output folder
(:func:`kernel_cache_dir`, passed to the payload as ``$ARZ_KERNEL_CACHE_DIR``; the payload's
``kernel_payload/kernel_cache.py`` keys it by the kernel sources).

OUTPUT is ``$ARZ_OUTPUT_DIR`` or the current folder (``/kaggle/working`` on Kaggle). Exit code 0
means a final summary was written (the job's own result is in it), 1 that none could be.
"""

import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from importlib import metadata
from pathlib import Path

CONFIG_JSON = "{}"  # replaced by kernel_builder with {"repo_url", "commit_sha", "spec", ...}
CODE_ARCHIVE = ""  # replaced by kernel_builder with the base64 code archive (inline transport)

SUMMARY = "session_summary.json"
CACHE_ENV = "ARZ_KERNEL_CACHE_DIR"
INPUT_ENV = "ARZ_INPUT_DIR"  # where attached datasets are mounted (a fake Kaggle sets it)
KAGGLE_INPUT = "/kaggle/input"
STARTUP_ENV = "ARZ_STARTUP"  # the bootstrap's timings, for the summary's start-up split
STATE = {"child": None, "signal": None}
TIMES = {}  # kernel_started_at, clone_s, install_s
SITE = []  # folders the wheelhouse was installed into (on the payload's import path)


class BootstrapError(Exception):
    """A step of the bootstrap failed; the message says which and why."""


STEPS = 3  # clone, install, start the payload (it imports its packages); then it runs


def event(done, message, total=STEPS):
    """Print one ``@@arz`` progress event for the ``bootstrap`` stage (``done`` of its steps).

    The last step (the payload imports and starts) closes when the payload prints its first ``job``
    event (the monitor does that); the bootstrap's own ``STEPS/STEPS`` event comes when it exits.
    """
    payload = {"stage": "bootstrap", "done": done, "total": total, "message": message,
               "unit": "steps", "time": time.time()}  # fmt: skip
    print("@@arz " + json.dumps(payload), flush=True)


def run(cmd, cwd=None):
    """Run a command, echoing it; raise BootstrapError with its output on failure."""
    print("+ " + " ".join(str(c) for c in cmd), flush=True)
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)  # fmt: skip
    if proc.returncode != 0:
        raise BootstrapError(f"{' '.join(str(c) for c in cmd)} failed:\n{proc.stdout[-3000:]}")
    return proc.stdout


def clone(url, sha, dest):
    """Check out exactly ``sha`` of ``url`` into ``dest`` (shallow fetch, full clone fallback)."""
    try:
        run(["git", "init", "-q", str(dest)])
        run(["git", "-C", str(dest), "fetch", "-q", "--depth", "1", url, sha])
        run(["git", "-C", str(dest), "checkout", "-q", "FETCH_HEAD"])
    except BootstrapError as exc:
        print(f"shallow fetch of {sha[:12]} failed, cloning in full ({exc})", flush=True)
        shutil.rmtree(dest, ignore_errors=True)
        run(["git", "clone", "-q", "--no-checkout", url, str(dest)])
        run(["git", "-C", str(dest), "checkout", "-q", sha])
    head = run(["git", "-C", str(dest), "rev-parse", "HEAD"]).strip()
    if head != sha:
        raise BootstrapError(f"checked out {head}, expected the pinned commit {sha}")


def fetch_code(cfg, dest):
    """Put the pinned commit's code into ``dest``: unpack the inline or dataset archive, or clone."""
    import base64

    code = cfg.get("code") or {}
    if code.get("transport") == "inline":
        data = base64.b64decode(CODE_ARCHIVE.encode("ascii"))
        unpack_archive(data, code.get("sha256", ""), cfg["commit_sha"], dest, "inline")
    elif code.get("transport") == "dataset":
        path = find_input_file(code["file"], code.get("dataset", ""))
        unpack_archive(path.read_bytes(), code["sha256"], cfg["commit_sha"], dest, "dataset")
    else:
        clone(cfg["repo_url"], cfg["commit_sha"], dest)


def input_root():
    """Where attached datasets are mounted: ``$ARZ_INPUT_DIR``, else Kaggle's ``/kaggle/input``."""
    return Path(os.environ.get(INPUT_ENV) or KAGGLE_INPUT)


def find_input_file(name, dataset, what="code archive", depth=4):
    """The file ``name`` of an attached dataset, searched under :func:`input_root` (Kaggle mounts a
    dataset at ``<root>/<slug>/`` or deeper, by owner); BootstrapError when it is not there."""
    root = input_root()
    for folder, dirs, files in os.walk(root):
        if name in files:
            return Path(folder) / name
        if len(Path(folder).relative_to(root).parts) >= depth:
            dirs[:] = []
    raise BootstrapError(f"the {what} {name} of dataset {dataset} is not under {root}: the "
                         "dataset is not attached, or its current version holds another file")


def unpack_archive(data, digest, sha, dest, what):
    """Unpack the ``git archive`` tar.gz bytes ``data`` into ``dest`` after checking that their
    sha256 is ``digest`` and that the commit id its pax header carries is ``sha``."""
    import io
    import tarfile

    found = hashlib.sha256(data).hexdigest()
    if found != digest:
        raise BootstrapError(f"the {what} code archive is damaged: sha256 {found}, expected {digest}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        carried = tar.pax_headers.get("comment", "")
        if carried != sha:
            raise BootstrapError(f"the {what} code archive is of commit {carried or '(none)'}, "
                                 f"expected the pinned commit {sha}")
        members = tar.getmembers()
        for member in members:
            if member.name.startswith(("/", "..")) or "/../" in f"/{member.name}/":
                raise BootstrapError(f"the {what} code archive holds an unsafe path {member.name!r}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, members=members, filter="data")
        else:  # Python without tarfile filters: the paths were checked above
            tar.extractall(dest, members=members)
    print(f"unpacked the {what} code of {sha[:12]}: {len(members)} entries, {len(data)} bytes,"
          f" sha256 {digest[:16]}", flush=True)


def requirement_name(requirement):
    """Distribution name of a requirement string (``numpy>=1.26`` -> ``numpy``)."""
    return re.match(r"[A-Za-z0-9_.\-]+", requirement.strip()).group(0)


def distribution_key(name):
    """A distribution name as packaging compares it (``Stable_Baselines3`` -> ``stable-baselines3``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_installed(name):
    """Whether a distribution is installed in this interpreter."""
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def install(requirements, wheels=None, src=None):
    """Install the missing requirements: from the attached wheelhouse first (``wheels``, the
    config's ``wheels``), then with pip from the index; a preinstalled torch is never reinstalled."""
    missing = [r for r in requirements if not is_installed(requirement_name(r))]
    if not missing:
        print("all requirements already installed; skipping pip", flush=True)
        return
    if wheels:
        missing = install_wheels(wheels, missing, src)
        if not missing:
            return
    print("installing: " + ", ".join(missing), flush=True)
    event(1, f"pip install {len(missing)} packages: " + ", ".join(map(requirement_name, missing)))
    run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", *missing])


def install_wheels(wheels, missing, src):
    """Install, from the wheelhouse archive of an attached dataset, every wheel whose distribution
    is not installed (``--no-index --no-deps``, into ``src/.arz_site``, put on the import path);
    return the requirements still missing after that."""
    import io
    import tarfile

    data = find_input_file(wheels["file"], wheels["dataset"], "wheelhouse").read_bytes()
    folder, site = Path(src) / ".arz_wheels", Path(src) / ".arz_site"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        if manifest.get("key") != wheels["key"]:
            raise BootstrapError(f"the wheelhouse {wheels['file']} is keyed {manifest.get('key')}, "
                                 f"expected {wheels['key']}")
        for name, digest in manifest["wheels"].items():
            blob = b"" if "/" in name else tar.extractfile(f"wheels/{name}").read()
            if hashlib.sha256(blob).hexdigest() != digest:
                raise BootstrapError(f"the wheelhouse's {name!r} is damaged (sha256 mismatch)")
            folder.mkdir(exist_ok=True)
            (folder / name).write_bytes(blob)
    wanted = sorted(n for n in manifest["wheels"] if not is_installed(n.split("-")[0]))
    if wanted:
        event(1, f"installing {len(wanted)} wheels from the wheelhouse (no index)")
        run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
             "--no-index", "--no-deps", "--target", str(site), *(str(folder / n) for n in wanted)])
        SITE.append(str(site))  # the payload's PYTHONPATH (payload_env); this process never imports them
    print(f"installed {len(wanted)} wheels from the wheelhouse: {', '.join(wanted) or 'none'}",
          flush=True)
    provided = {distribution_key(n.split("-")[0]) for n in manifest["wheels"]}
    return [r for r in missing if distribution_key(requirement_name(r)) not in provided]


def summary_is_final(out_dir):
    """Whether ``session_summary.json`` exists and is finished."""
    try:
        data = json.loads((out_dir / SUMMARY).read_text())
    except (OSError, ValueError):
        return False
    return bool(data.get("finished_at"))


def kernel_cache_dir(out_dir):
    """Folder of compiled kernels kept between jobs, or None (see kernel_payload/kernel_cache.py).

    ``$ARZ_KERNEL_CACHE_DIR`` (``off`` disables it), else ``$XDG_CACHE_HOME/arz/kernels``, else
    ``~/.cache/arz/kernels``. Never inside the output folder (only results go there): such a
    folder, or a relative one, is not used.
    """
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() == "off":
        return None
    if not value:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        value = os.path.join(base, "arz", "kernels")
    path = Path(value).expanduser()
    if not path.is_absolute():
        print(f"kernel cache {value} is not an absolute path; not used", flush=True)
        return None
    path = path.resolve()
    if path == out_dir or out_dir in path.parents:
        print(f"kernel cache {path} lies inside the output folder; not used", flush=True)
        return None
    return path


def restore_kernel_cache(cache_dir):
    """Unpack every attached ``arz-kcache-*.tar`` (kernel_payload/cache_archive.py) into
    ``cache_dir``; return the files written. Never fails: a bad archive means a cold cache."""
    import tarfile

    root, written = input_root(), 0
    if cache_dir is None or not root.is_dir():
        return 0
    for path in sorted(root.glob("*/arz-kcache-*.tar")) + sorted(root.glob("*/*/arz-kcache-*.tar")):
        try:
            with tarfile.open(path, "r:") as tar:
                for member in tar.getmembers():
                    target = cache_dir / member.name
                    if (not member.isfile() or not re.fullmatch(r"[0-9a-f]{16}(/[\w.-]+)+", member.name)
                            or "/../" in f"/{member.name}/" or target.exists()):  # fmt: skip
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(tar.extractfile(member).read())
                    written += 1
        except (OSError, tarfile.TarError) as exc:
            print(f"kernel cache archive {path.name} not used: {type(exc).__name__}: {exc}", flush=True)
    if written:
        print(f"kernel cache: {written} compiled-kernel files restored from the attached archive",
              flush=True)  # fmt: skip
    return written


def payload_env(src, out_dir=None):
    """Environment for the payload: the clone first on the import path, unbuffered output, the
    kernel cache folder (``$ARZ_KERNEL_CACHE_DIR``, ``off`` when there is none)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
    if out_dir is not None:
        cache = kernel_cache_dir(out_dir)
        env[CACHE_ENV] = str(cache) if cache else "off"
        env[STARTUP_ENV] = json.dumps(dict(TIMES, payload_spawned_at=time.time()))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), *SITE, env.get("PYTHONPATH", "")) if p)
    return env


def run_payload(src, spec_path, out_dir, extra=()):
    """Run ``python -u -m kernel_payload`` from the clone, output streamed through; return its code."""
    cmd = [sys.executable, "-u", "-m", "kernel_payload", "--spec", str(spec_path),
           "--out", str(out_dir), *extra]  # fmt: skip
    child = subprocess.Popen(cmd, cwd=src, env=payload_env(src, out_dir))
    STATE["child"] = child
    try:
        return child.wait()
    finally:
        STATE["child"] = None


def write_minimal_summary(cfg, out_dir, started, reason, tail=""):
    """Write a failed summary by hand when the payload could not (no clone, failed install)."""
    spec = cfg["spec"]
    artifacts = []
    for path in sorted(p for p in out_dir.rglob("*")
                       if p.is_file() and not p.is_symlink() and p != out_dir / SUMMARY):
        data = path.read_bytes()
        artifacts.append({"path": path.relative_to(out_dir).as_posix(), "bytes": len(data),
                          "sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip
    summary = {
        "job_id": spec["job_id"], "job_name": spec["job"]["name"], "slug": spec["slug"],
        "commit_sha": spec["commit_sha"], "repo_url": spec.get("repo_url", ""),
        "started_at": started, "finished_at": now_iso(),
        "suites": [{"name": n, "status": "not_run"} for n in spec["job"]["suites"]],
        "artifacts": artifacts,
        "error": {"type": "BootstrapError", "message": reason, "traceback_tail": tail},
    }  # fmt: skip
    (out_dir / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")


def now_iso():
    """The current UTC time in ISO 8601."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def on_signal(signum, _frame):
    """Forward SIGTERM/SIGINT to the payload (it writes its summary); stop the bootstrap otherwise."""
    STATE["signal"] = signum
    child = STATE["child"]
    if child is not None and child.poll() is None:
        child.send_signal(signum)
        return
    raise BootstrapError(f"bootstrap received signal {signum} before the payload started")


def finish(cfg, src, spec_path, out_dir, code, started):
    """Make sure a final summary exists after the payload exited with ``code``."""
    if summary_is_final(out_dir):
        return
    reason = f"payload exited with code {code} without finishing its summary"
    if code is not None and code < 0:
        reason = f"payload was killed by signal {-code} before it finished"
    print(reason + "; closing the summary", flush=True)
    if spec_path is not None:
        try:
            run_payload(src, spec_path, out_dir, extra=("--salvage", reason))
        except OSError as exc:
            print(f"salvage failed: {exc}", flush=True)
    if not summary_is_final(out_dir):
        write_minimal_summary(cfg, out_dir, started, reason)


def main():
    """Clone, install, run the payload, guarantee the summary; return the exit code."""
    TIMES["kernel_started_at"] = time.time()
    cfg = json.loads(CONFIG_JSON)
    out_dir = Path(os.environ.get("ARZ_OUTPUT_DIR") or os.getcwd()).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    started = now_iso()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    sha = cfg["commit_sha"]
    if cfg.get("export_kernel_cache"):  # a kernel whose disk vanishes: the payload ships its cache
        os.environ["ARZ_KERNEL_CACHE_EXPORT"] = "1"
    print(f"arz bootstrap: job {cfg['spec']['job_id']} commit {sha} python {sys.version.split()[0]}"
          f" output {out_dir}", flush=True)  # fmt: skip
    src = Path(tempfile.mkdtemp(prefix="arz-src-"))
    spec_path, code = None, None
    try:
        event(0, f"{'unpacking' if cfg.get('code') else 'cloning'} {sha[:8]}")
        t0 = time.time()
        fetch_code(cfg, src)
        TIMES["clone_s"] = time.time() - t0
        event(1, "checking requirements")
        t0 = time.time()
        install(cfg["requirements"], cfg.get("wheels"), src)
        TIMES["install_s"] = time.time() - t0
        spec_path = src / ".arz_kernel_spec.json"
        spec_path.write_text(json.dumps(cfg["spec"]))
        restore_kernel_cache(kernel_cache_dir(out_dir))
        event(2, "starting the payload (importing numpy, pydantic, the job's suites)")
        code = run_payload(src, spec_path, out_dir)
        finish(cfg, src, spec_path, out_dir, code, started)
        event(STEPS, f"payload exited with code {code}")
    except BootstrapError as exc:
        print(f"bootstrap failed: {exc}", flush=True)
        if not summary_is_final(out_dir):
            write_minimal_summary(cfg, out_dir, started, str(exc).splitlines()[0],
                                  traceback.format_exc()[-4000:])  # fmt: skip
    finally:
        shutil.rmtree(src, ignore_errors=True)
    return 0 if summary_is_final(out_dir) else 1


if __name__ == "__main__":
    sys.exit(main())
