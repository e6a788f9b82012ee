"""A Kaggle-compatible fake server for tests (stdlib only, 127.0.0.1, ephemeral port).

It speaks the wire protocol of kaggle 2.2.5 / kagglesdk: JSON POSTs to
``/api/v1/kernels.KernelsApiService/<Method>`` (SaveKernel, GetKernel, GetKernelSessionStatus,
ListKernelSessionOutput, DeleteKernel, GetAcceleratorQuotaStatistics), the dataset and blob calls
of :mod:`tests.fakes.kaggle_datasets`, ``/api/v1/security.OAuthService/IntrospectToken``, the SSE
log stream ``GET /api/v1/kernels/logs/stream/<owner>/<slug>`` and the output-file URLs. Pushed
scripts really run (see :mod:`tests.fakes.kaggle_sessions`). Faults are injected per test through
:class:`Faults`; every wait is bounded and the server shuts itself down after ``max_lifetime_s``.

Point the real client at it in process with ``KAGGLE_API_ENVIRONMENT=LOCALHOST`` plus
``kagglesdk.kaggle_env._env_to_endpoint[KaggleEnv.LOCAL] = server.url``, or from a subprocess with
``KAGGLE_API_ENVIRONMENT=LOCALHOST`` and ``HTTP_PROXY=server.url`` (requests then sends absolute
URLs for ``http://localhost/...`` to this server, which serves them as a proxy would).
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
import urllib.parse
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.fakes import kaggle_datasets
from tests.fakes.kaggle_faults import ApiError, FakeKernel, Faults, take_named
from tests.fakes.kaggle_sessions import FakeSession, SessionOptions

API = "/api/v1/"
SERVICE = "kernels.KernelsApiService/"
STREAM = "/api/v1/kernels/logs/stream/"
FILES = "/_out/"
CAP_MESSAGE = "Maximum batch GPU session count of {cap} reached. Please wait for a session to end."
QUOTA_MESSAGE = "You have exceeded your weekly GPU quota."


class FakeKaggle:
    """State of the fake service plus the HTTP server that exposes it.

    Args:
        root: folder for kernel sessions.
        username: account name; also the owner of every pushed kernel.
        key: legacy API key (HTTP Basic auth).
        token: access token (Bearer auth, checked by IntrospectToken).
        session: how sessions run (queue delay, limits, injected platform error).
        max_lifetime_s: the server stops itself after this many seconds.
    """

    def __init__(self, root: Path, username: str = "tester", key: str = "k" * 32,
                 token: str = "KGAT_fake_token", session: SessionOptions | None = None,
                 max_lifetime_s: float = 300.0):
        self.root, self.username, self.key, self.token = root, username, key, token
        self.session_options = session or SessionOptions()
        self.faults = Faults()
        self.datasets = kaggle_datasets.FakeDatasets()
        self.kernels: dict[tuple[str, str], FakeKernel] = {}
        self.calls: list[str] = []
        self.pushes: list[dict] = []
        self.lock = threading.RLock()
        self._max_lifetime_s = max_lifetime_s
        self._httpd: ThreadingHTTPServer | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeKaggle:
        """Serve on an ephemeral port in a daemon thread; stop after ``max_lifetime_s``."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        timer = threading.Timer(self._max_lifetime_s, self.stop)
        timer.daemon = True
        timer.start()
        return self

    def stop(self) -> None:
        """Stop serving and kill every running kernel script."""
        with self.lock:
            sessions = [s for k in self.kernels.values() for s in k.sessions]
        for session in sessions:
            if session.is_active():
                session.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeKaggle:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- lookups used by tests and handlers --------------------------------------------------
    def kernel(self, owner: str, slug: str) -> FakeKernel:
        """The kernel ``owner/slug``; ApiError 404 when it does not exist."""
        with self.lock:
            found = self.kernels.get((owner, slug))
        if found is None:
            raise ApiError(404, f"Kernel {owner}/{slug} not found")
        return found

    def session(self, owner: str, slug: str, version_label: str | None) -> FakeSession:
        """The session of version ``vN`` (the latest without a label); ApiError 404 if none."""
        kernel = self.kernel(owner, slug)
        if not version_label:
            return kernel.sessions[-1]
        number = int(version_label.lstrip("v")) if version_label.lstrip("v").isdigit() else 0
        if not 1 <= number <= len(kernel.sessions):
            raise ApiError(404, f"Version {version_label!r} of {owner}/{slug} not found")
        return kernel.sessions[number - 1]

    def active_gpu_sessions(self) -> int:
        """GPU sessions now queued or running, including the injected busy ones."""
        with self.lock:
            mine = sum(s.gpu and s.is_active() for k in self.kernels.values() for s in k.sessions)
        return mine + self.faults.busy_gpu_sessions

    # ---- API methods -------------------------------------------------------------------------
    def save_kernel(self, body: dict, user: str, host: str) -> dict:
        """SaveKernel: create the kernel or a new version, and start its session."""
        owner, _, slug = (body.get("slug") or "").partition("/")
        if owner != user:
            raise ApiError(403, f"Permission denied: {user} cannot write to {owner}/{slug}")
        if body.get("language") != "python" or body.get("kernelType") not in ("script", "notebook"):
            return {"error": "A valid language and kernel type must be specified."}
        self.pushes.append(dict(body))
        gpu = str(body.get("machineShape") or "").startswith("Nvidia") or bool(body.get("enableGpu"))
        refusal = self._refusal(gpu)
        if refusal:
            return {"error": refusal}
        with self.lock:
            kernel = self.kernels.get((owner, slug))
            folder = self.root / owner / slug / f"v{len(kernel.sessions) + 1 if kernel else 1}"
            self.datasets.mount(body.get("datasetDataSources") or [], folder / "input", user)
            if kernel is None:
                kernel = FakeKernel(owner, slug, body.get("newTitle") or slug, len(self.kernels) + 1, {})
                self.kernels[(owner, slug)] = kernel
            kernel.meta = dict(body)
            number = len(kernel.sessions) + 1
            session = FakeSession(folder, body.get("text") or "", gpu, self._options(body, folder))
            kernel.sessions.append(session)
        session.start()
        return {"ref": f"/code/{owner}/{slug}", "url": f"http://{host}/code/{owner}/{slug}",
                "versionNumber": number, "kernelId": kernel.kernel_id}

    def _options(self, body: dict, folder: Path) -> SessionOptions:
        limit = body.get("sessionTimeoutSeconds") or self.session_options.max_run_s
        return replace(self.session_options, max_run_s=min(self.session_options.max_run_s, limit),
                       internet=bool(body.get("enableInternet")),  # unset = off, as on Kaggle
                       env=dict(self.session_options.env, ARZ_INPUT_DIR=str(folder / "input")))

    def _refusal(self, gpu: bool) -> str | None:
        if self.faults.push_error:
            message, self.faults.push_error = self.faults.push_error, None
            return message
        if gpu and self.faults.quota_used_h >= self.faults.quota_total_h:
            return QUOTA_MESSAGE
        if gpu and self.active_gpu_sessions() >= self.faults.gpu_session_cap:
            return CAP_MESSAGE.format(cap=self.faults.gpu_session_cap)
        return None

    def get_kernel(self, body: dict) -> dict:
        """GetKernel: metadata and source of a kernel."""
        kernel = self.kernel(body.get("userName", ""), body.get("kernelSlug", ""))
        meta = {"id": kernel.kernel_id, "ref": f"{kernel.owner}/{kernel.slug}", "title": kernel.title,
                "author": kernel.owner, "slug": kernel.slug, "language": "python",
                "kernelType": kernel.meta.get("kernelType"),
                "isPrivate": kernel.meta.get("isPrivate", True),
                "enableInternet": bool(kernel.meta.get("enableInternet")),
                "machineShape": kernel.meta.get("machineShape"),
                "currentVersionNumber": len(kernel.sessions)}
        return {"metadata": meta, "blob": {"source": kernel.meta.get("text"), "slug": kernel.slug}}

    def status(self, body: dict) -> dict:
        """GetKernelSessionStatus, with the stale-after-push fault."""
        session = self.session(body.get("userName", ""), body.get("kernelSlug", ""),
                               body.get("versionLabel"))
        if self.faults.take("stale_status_calls"):
            return {"status": self.faults.stale_status}
        answer = {"status": session.status}
        if session.failure_message:
            answer["failureMessage"] = session.failure_message
        return answer

    def list_output(self, body: dict, host: str) -> dict:
        """ListKernelSessionOutput: file URLs (paged) and, once the session ended, its log."""
        owner, slug, label = body.get("userName", ""), body.get("kernelSlug", ""), body.get("versionLabel")
        session = self.session(owner, slug, label)
        number = self.kernel(owner, slug).sessions.index(session) + 1
        names = sorted(p.relative_to(session.working).as_posix()
                       for p in session.working.rglob("*") if p.is_file())
        start = int(body.get("pageToken") or 0)
        size = int(body.get("pageSize") or 20)
        page = names[start:start + size]
        files = [{"fileName": name, "url": f"http://{host}{FILES}{owner}/{slug}/v{number}/"
                  + urllib.parse.quote(name)} for name in page]
        answer: dict = {"files": files}
        if not session.is_active():  # like Kaggle, the log is persisted when the session ends
            answer["log"] = json.dumps(session.events)
        if start + size < len(names):
            answer["nextPageToken"] = str(start + size)
        return answer

    def delete_kernel(self, body: dict, user: str) -> dict:
        """DeleteKernel: stop its sessions and forget it."""
        kernel = self.kernel(body.get("userName", ""), body.get("kernelSlug", ""))
        if kernel.owner != user:
            raise ApiError(403, "Permission denied")
        for session in kernel.sessions:
            if session.is_active():
                session.stop()
        with self.lock:
            self.kernels.pop((kernel.owner, kernel.slug), None)
        shutil.rmtree(self.root / kernel.owner / kernel.slug, ignore_errors=True)
        return {}

    def quota(self) -> dict:
        """GetAcceleratorQuotaStatistics."""
        return self.faults.quota_answer()

    def file_bytes(self, path: str) -> tuple[bytes, bool]:
        """Bytes served for an output-file URL path, with the corrupt/truncate faults applied,
        and whether the cut fault fires (send half of them, then close)."""
        owner, slug, version, name = path.split("/", 3)
        name = urllib.parse.unquote(name)
        session = self.session(owner, slug, version)
        target = (session.working / name).resolve()
        if session.working.resolve() not in target.parents or not target.is_file():
            raise ApiError(404, f"No output file {name}")
        data = target.read_bytes()
        if take_named(self.faults.corrupt, name):
            data = bytes(b ^ 0x5A for b in data)
        elif take_named(self.faults.truncate, name):
            data = data[: len(data) // 2]
        return data, take_named(self.faults.cut, name)


class _QuietServer(ThreadingHTTPServer):
    """Ignores clients that hang up mid-answer (a killed orchestrator, a dropped stream)."""

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """HTTP front of :class:`FakeKaggle`; also accepts proxy-style absolute request URLs."""

    fake: FakeKaggle
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        """An API call: ``/api/v1/<service>/<Method>`` with a JSON body."""
        path = urllib.parse.urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        method = path.rsplit("/", 1)[-1]
        self.fake.calls.append(method)
        try:
            self._before_api(method)
            body = json.loads(raw or b"{}")
            user = self._user(method, body)
            answer = self._dispatch(method, body, user)
            self._send_bytes(answer) if isinstance(answer, bytes) else self._send_json(200, answer)
        except ApiError as err:
            self._send_json(err.code, {"code": err.code, "message": err.message}, err.headers)

    do_PUT = kaggle_datasets.do_put  # a dataset file's bytes (the blob upload)

    def do_GET(self) -> None:
        """The SSE log stream, or an output file handed out by ListKernelSessionOutput."""
        parts = urllib.parse.urlsplit(self.path)
        try:
            if parts.path.startswith(STREAM):
                self.fake.calls.append("stream")
                self._before_api("stream")
                self._user("stream", {})
                owner, slug = parts.path[len(STREAM):].split("/")[:2]
                label = urllib.parse.parse_qs(parts.query).get("versionLabel", [None])[0]
                self._stream(self.fake.session(owner, slug, label))
            elif parts.path.startswith(FILES):
                self.fake.calls.append("file")
                self._send_bytes(*self.fake.file_bytes(parts.path[len(FILES):]))
            else:
                raise ApiError(404, f"No route {parts.path}")
        except ApiError as err:
            self._send_json(err.code, {"code": err.code, "message": err.message}, err.headers)

    def _before_api(self, method: str) -> None:
        faults = self.fake.faults
        if faults.hang_method == method and faults.take("hang_calls"):
            time.sleep(faults.hang_s)
        if faults.take("rate_limited_calls"):
            raise ApiError(429, "Too many requests", {"Retry-After": faults.retry_after})

    def _user(self, method: str, body: dict) -> str:
        auth = self.headers.get("Authorization") or ""
        fake = self.fake
        if method == "IntrospectToken" or auth == f"Bearer {fake.token}":
            return fake.username
        basic = base64.b64encode(f"{fake.username}:{fake.key}".encode()).decode()
        if auth == f"Basic {basic}":
            return fake.username
        raise ApiError(401, "Unauthenticated: missing or invalid credentials")

    def _dispatch(self, method: str, body: dict, user: str) -> dict | bytes:
        fake, host = self.fake, self.headers.get("Host", "localhost")
        if method == "IntrospectToken":
            ok = body.get("token") == fake.token
            return {"active": ok, "username": fake.username if ok else ""}
        if method == "SaveKernel":
            if fake.faults.take("push_unavailable"):
                raise ApiError(503, "Service unavailable")
            answer = fake.save_kernel(body, user, host)
            if fake.faults.take("push_lost_reply"):
                raise ApiError(500, "Internal error")
            return answer
        if method in kaggle_datasets.METHODS:
            return fake.datasets.handle(method, body, user, host)
        routes = {
            "GetKernel": lambda: fake.get_kernel(body),
            "GetKernelSessionStatus": lambda: fake.status(body),
            "ListKernelSessionOutput": lambda: fake.list_output(body, host),
            "DeleteKernel": lambda: fake.delete_kernel(body, user),
            "GetAcceleratorQuotaStatistics": fake.quota,
        }
        if method not in routes:
            raise ApiError(404, f"Unknown method {method}")
        return routes[method]()

    def _send_json(self, code: int, payload: dict | list, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_bytes(self, data: bytes, cut: bool = False) -> None:
        """Send a file; ``cut``: announce all of it, send half, close the connection."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.close_connection = self.close_connection or cut
        self.wfile.write(data[: len(data) // 2] if cut else data)

    def _stream(self, session: FakeSession) -> None:
        """SSE while the session is live (replayed from the start); the JSON blob once it ended.

        The live stream is chunked; a drop fault cuts it in the middle of an event's chunk.
        """
        if not session.is_active():
            self._send_json(200, session.events)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        drop = self.fake.faults.take("sse_drops")
        sent, deadline = 0, time.monotonic() + 120.0
        while time.monotonic() < deadline:
            events, done = session.wait_events(sent, timeout=0.5)
            for event in events:
                frame = f"data: {json.dumps(event)}\n\n".encode()
                if drop and sent >= self.fake.faults.sse_drop_after:
                    self.wfile.write(b"%x\r\n" % len(frame) + frame[: len(frame) // 2])
                    self.wfile.flush()
                    return
                self._chunk(frame)
                sent += 1
            if done and sent >= len(session.events):
                self._chunk(b"data: END_OF_LOG\n\n")
                break
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        self.wfile.flush()
