"""A local S3-compatible server for the tests: moto's server mode
(`moto[server]`, pinned in requirements.txt) on 127.0.0.1.

Used by the pytest fixture in test_s3.py, by tests/suites/s3.sh and by the
benchmark (bench/s3_bench.py). Every server started here is stopped by its
owner; `start()` returns a handle whose `stop()` kills it.

    python tests/python/s3_server.py serve PORT_FILE   # run until killed

`start(serialized=True)` runs moto with its requests serialized (see
`serve_serialized`): moto checks a conditional PUT's `If-Match` /
`If-None-Match` and stores the object in two steps, on a threaded server,
so two racing conditional PUTs of one key can both pass -- a real S3
server never lets that happen. The many-processes tests
(test_procs.py), which rely on conditional PUTs, use this mode.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BUCKET = "zarrcore-test"
KEY = "test"
SECRET = "test"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(method: str, url: str, timeout: float = 5.0) -> int:
    req = urllib.request.Request(url, method=method, data=b"" if method in ("PUT", "POST") else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


class Server:
    """A running moto server."""

    def __init__(
        self,
        port: int,
        record_file: str | None = None,
        log_file: str | None = None,
        serialized: bool = False,
    ):
        self.port = port
        self.serialized = serialized
        self.endpoint = f"http://127.0.0.1:{port}"
        self.record_file = record_file
        self.log_file = log_file
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> "Server":
        env = dict(os.environ)
        if self.record_file:
            env["MOTO_ENABLE_RECORDING"] = "True"
            env["MOTO_RECORDER_FILEPATH"] = self.record_file
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        if self.serialized:
            cmd = [sys.executable, os.path.abspath(__file__), "serve-serialized", str(self.port)]
        else:
            cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.proc.returncode}")
            try:
                if _request("GET", self.endpoint + "/moto-api/", timeout=2) < 500:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"moto server on port {self.port} did not start in {timeout} s")

    def create_bucket(self, name: str = BUCKET) -> None:
        status = _request("PUT", f"{self.endpoint}/{name}")
        if status not in (200, 409):
            raise RuntimeError(f"creating bucket {name}: HTTP {status}")

    def replay(self) -> None:
        """Replays the recording (restores the state after a restart)."""
        status = _request("POST", self.endpoint + "/moto-api/recorder/replay-recording", timeout=300)
        if status != 200:
            raise RuntimeError(f"replaying the moto recording: HTTP {status}")

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc = None

    def env(self) -> dict[str, str]:
        """Environment variables that point zarrcore (and boto) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }

    def storage_options(self) -> dict:
        """fsspec/s3fs options for this server."""
        return {
            "key": KEY,
            "secret": SECRET,
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": REGION},
            "skip_instance_cache": True,
            "use_listings_cache": False,
        }


def start(
    record_file: str | None = None,
    log_file: str | None = None,
    port: int | None = None,
    serialized: bool = False,
) -> Server:
    return Server(port or free_port(), record_file, log_file, serialized).start()


def serve_serialized(port: int) -> None:
    """moto's server (as `python -m moto.server -H 127.0.0.1 -p PORT`) with
    one request handled at a time: the WSGI app runs under a lock and its
    whole response body is produced before the lock is released, so each
    conditional PUT's check and store are atomic as on S3. Connections are
    still accepted by several threads (a slow client cannot block others
    while it sends its request)."""
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto.server does
    lock = threading.Lock()

    def serialized_app(environ, start_response):
        with lock:
            result = app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]

    run_simple(
        "127.0.0.1",
        port,
        serialized_app,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "serve-serialized":
        serve_serialized(int(argv[1]))
        return 0
    if len(argv) == 2 and argv[0] == "serve":
        # Start a server, create the test bucket, write "PORT PID" to the
        # file, and stay until killed (then stop the server).
        server = start()
        server.create_bucket()

        def bye(*_):
            # Only signal here: the main thread is inside proc.wait(), which
            # returns once moto is gone.
            assert server.proc is not None
            try:
                os.kill(server.proc.pid, signal.SIGCONT)
                os.kill(server.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        signal.signal(signal.SIGTERM, bye)
        signal.signal(signal.SIGINT, bye)
        with open(argv[1] + ".tmp", "w") as f:
            f.write(f"{server.port}\n")
        os.replace(argv[1] + ".tmp", argv[1])
        assert server.proc is not None
        server.proc.wait()
        server.proc = None
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
