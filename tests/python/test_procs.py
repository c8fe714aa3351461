"""Many processes, one array (issue 12): no lost update across processes,
the read-or-write rule across processes, SIGKILLed writers, and object
stores that cannot do conditional writes.

Writers of three kinds share every chunk (and shard) of one array:

* the Rust API: `zarrcore-engine-helper strips` (tests/engine-helper/src/procs.rs);
* the C API: tests/ffi/test_procs.c, compiled here against include/zarrcore.h
  and libzarrcore.so;
* the command line: `zarrcore import ROW.npy STORE ARRAY --region i,...`.

Process `p` of `N` owns the rows `i = p (mod N)` of axis 0 (chunks are 8
rows high, so every chunk has rows of every process); the Rust and C
writers write their rows as shuffled 1 x 1 x K strips, flushing every F
writes, the CLI writer one `import --region` per row (or half row). Element
`f` (flat C index) must end as `1 + (f * 7919 + 13) % 1000003` (+ 0.5 for
float64), never the fill value 0: after each run EVERY element is checked,
read by zarr-python and by `zarrcore export`.

The S3 cases use moto (tests/python/s3_server.py) with its requests
serialized: moto checks `If-Match` and stores the object in two steps on a
threaded server, so two racing conditional PUTs could both pass there,
which S3 never allows.

Binaries: $ZARRCORE_BIN, $ZARRCORE_ENGINE_HELPER, $ZARRCORE_FFI_LIB (the
shared library), else the release builds in $CARGO_TARGET_DIR or target/.
A missing binary, compiler or server is a failure, never a skip.
"""

from __future__ import annotations

import http.client
import json
import http.server
import os
import random
import re
import select
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import s3_server  # noqa: E402

pytestmark = pytest.mark.timeout(1200)

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "release"
BUCKET = s3_server.BUCKET
EXIT_BUSY = 3  # `zarrcore-engine-helper hold` when the open fails with Busy
# Every store kind must see at least this many partial writes in this module.
MIN_PARTIAL_WRITES = 100_000


def _binary(env: str, name: str) -> str:
    p = Path(os.environ.get(env) or TARGET / name)
    if not p.is_file():
        pytest.fail(f"{p} is missing: build it (cargo build --workspace --release) or set ${env}")
    return str(p)


def zarrcore_bin() -> str:
    return _binary("ZARRCORE_BIN", "zarrcore")


def helper_bin() -> str:
    return _binary("ZARRCORE_ENGINE_HELPER", "zarrcore-engine-helper")


@pytest.fixture(scope="module")
def c_writer(tmp_path_factory) -> str:
    """tests/ffi/test_procs.c compiled against the header and the library."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is missing: the C writer cannot be built")
    lib = Path(_binary("ZARRCORE_FFI_LIB", "libzarrcore.so"))
    d = tmp_path_factory.mktemp("cwriter")
    (d / "libzarrcore.so").symlink_to(lib.resolve())
    (d / "libzarrcore.so.0").symlink_to(lib.resolve())
    exe = d / "test_procs"
    cmd = [
        gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2",
        f"-I{ROOT / 'include'}", f"-I{ROOT / 'tests' / 'ffi'}",
        str(ROOT / "tests" / "ffi" / "test_procs.c"), "-o", str(exe),
        f"-L{d}", "-lzarrcore", f"-Wl,-rpath,{d}",
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        pytest.fail(f"compiling test_procs.c failed:\n{p.stderr}")
    return str(exe)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    s = s3_server.start(log_file=str(log), serialized=True)
    try:
        s.create_bucket()
        yield s
    finally:
        s.stop()


# --- the pattern -------------------------------------------------------------


def expected(shape, dtype) -> np.ndarray:
    f = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    v = 1 + (f * 7919 + 13) % 1000003
    return (v + 0.5).astype(dtype) if np.dtype(dtype).kind == "f" else v.astype(dtype)


def strip_writes(shape, proc: int, nprocs: int, strip: int) -> int:
    """Strips process `proc` owns (one pass of its writer)."""
    rows = len(range(proc, shape[0], nprocs))
    return rows * int(np.prod(shape[1:-1])) * -(-shape[-1] // strip)


@dataclass(frozen=True)
class Config:
    """One array of the matrix."""

    name: str
    zarr_format: int
    dtype: str
    chunks: tuple
    shards: tuple | None = None
    order: str = "C"

    def create(self, store, shape, storage_options=None):
        import numcodecs
        import zarr

        kw = dict(
            shape=shape,
            chunks=self.chunks,
            dtype=self.dtype,
            fill_value=0,
            zarr_format=self.zarr_format,
            overwrite=True,
            storage_options=storage_options,
        )
        if self.shards:
            kw["shards"] = self.shards
        if self.zarr_format == 2:
            kw["compressors"] = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
            kw["order"] = self.order
        else:
            kw["compressors"] = zarr.codecs.ZstdCodec(level=1)
        zarr.create_array(store=store, **kw)


def configs(depth: int) -> list[Config]:
    """Plain and sharded, v2 and v3; chunks 8 rows high (every chunk holds
    rows of all 8 processes), half the middle axis wide, `depth` deep;
    shards of 2 x 2 chunks."""
    return [
        Config("v3", 3, "<i4", (8, 0, depth)),
        Config("v3_sharded", 3, "<i4", (8, 0, depth), shards=(8, -1, 2 * depth)),
        Config("v2_f8", 2, "<f8", (8, 0, depth)),
        Config("v2_F", 2, "<i4", (8, 0, depth), order="F"),
    ]


def fix(cfg: Config, shape) -> Config:
    """Resolves the 0 (half the middle axis) and -1 (whole) extents."""

    def ext(t):
        if t is None:
            return None
        return tuple(shape[1] // 2 if x == 0 else shape[1] if x == -1 else x for x in t)

    return Config(cfg.name, cfg.zarr_format, cfg.dtype, ext(cfg.chunks), ext(cfg.shards), cfg.order)


class Writers:
    """The N writer processes of one run; slot p is Rust (p % 3 == 0), C
    (p % 3 == 1) or the CLI (p % 3 == 2)."""

    def __init__(self, store, path, shape, dtype, nprocs, seed, strip, flush, env, c_writer, work,
                 cli_pieces=2):
        self.store, self.path, self.shape, self.dtype = store, path, shape, dtype
        self.nprocs, self.seed, self.strip, self.flush = nprocs, seed, strip, flush
        self.env, self.c_writer, self.work, self.cli_pieces = env, c_writer, work, cli_pieces
        self.procs: list[tuple[str, int, subprocess.Popen]] = []
        self.threads: list[threading.Thread] = []
        self.errors: list[str] = []
        self.partial_writes = 0
        self.lock = threading.Lock()

    def kind(self, p: int) -> str:
        return ("rust", "c", "cli")[p % 3]

    def start(self, sequential=False):
        """Starts every writer (`sequential`: each after the previous one
        finished, the control run)."""
        for p in range(self.nprocs):
            kind = self.kind(p)
            if kind == "cli":
                t = threading.Thread(target=self._cli, args=(p,), daemon=True)
                t.start()
                self.threads.append(t)
                if sequential:
                    t.join(600)
                continue
            if kind == "rust":
                cmd = [helper_bin(), "strips", self.store, self.path, "--proc", str(p),
                       "--nprocs", str(self.nprocs), "--writes", "0", "--flush-every",
                       str(self.flush), "--seed", str(self.seed), "--strip", str(self.strip)]
            else:
                cmd = [self.c_writer, self.store, self.path, str(p), str(self.nprocs), "0",
                       str(self.flush), str(self.seed), str(self.strip)]
            proc = subprocess.Popen(
                cmd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            self.procs.append((f"{kind} writer {p}", p, proc))
            if sequential:
                try:
                    proc.wait(600)  # one line of output: the pipes cannot fill
                except subprocess.TimeoutExpired:
                    pass  # reported by wait()

    def _cli(self, p: int):
        rows = list(range(p, self.shape[0], self.nprocs))
        random.Random(self.seed * 1000 + p).shuffle(rows)
        full = expected(self.shape, self.dtype)
        mid = self.shape[1]
        cuts = np.linspace(0, mid, self.cli_pieces + 1).astype(int)
        for i in rows:
            for a, b in zip(cuts[:-1], cuts[1:]):
                npy = self.work / f"cli_{p}_{i}_{a}.npy"
                np.save(npy, full[i, a:b])
                region = f"{i},{a}:{b}"
                r = subprocess.run(
                    [zarrcore_bin(), "import", str(npy), self.store, self.path, "--region", region],
                    env=self.env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                with self.lock:
                    self.partial_writes += 1
                if r.returncode != 0:
                    self.errors.append(f"cli writer {p}: import --region {region}: {r.stderr.strip()}")
                    return

    def wait(self, timeout=600):
        deadline = time.monotonic() + timeout
        for name, p, proc in self.procs:
            try:
                out, err = proc.communicate(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
                self.errors.append(f"{name} did not finish in {timeout} s")
                continue
            if proc.returncode != 0:
                self.errors.append(f"{name} exited {proc.returncode}: {err.strip()[-2000:]}")
                continue
            # Both writers end with "... wrote W strips (C owned) ...".
            m = re.search(r"wrote (\d+) strips \((\d+) owned\)", out)
            owned = strip_writes(self.shape, p, self.nprocs, self.strip)
            if not m or int(m.group(1)) != owned or int(m.group(2)) != owned:
                self.errors.append(f"{name} did not write each of its strips once: {out.strip()!r}")
            else:
                with self.lock:
                    self.partial_writes += int(m.group(1))
        for t in self.threads:
            t.join(max(1, deadline - time.monotonic()))
            if t.is_alive():
                self.errors.append("a cli writer did not finish in time")
        return self.errors


def compare(got: np.ndarray, want: np.ndarray, fill=0) -> tuple[int, int]:
    """(elements still the fill value, elements with any other wrong value)."""
    bad = got != want
    lost = int(np.count_nonzero(bad & (got == fill)))
    return lost, int(np.count_nonzero(bad)) - lost


def read_back(store, path, env, work, storage_options=None):
    """The array as zarr-python reads it and as `zarrcore export` writes it."""
    import zarr

    url = f"{store}/{path}"
    by_zarr = zarr.open_array(url, mode="r", storage_options=storage_options)[...]
    out = work / f"export_{path}.npy"
    r = subprocess.run(
        [zarrcore_bin(), "export", store, path, str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    by_export = np.load(out) if r.returncode == 0 else None
    return by_zarr, by_export, r.stderr.strip()


def run_matrix(kind, store_of, env, c_writer, work, *, rounds, shape, depth, strip, flush, cli_pieces,
               storage_options=None):
    """Runs every (round, N, array) case; returns the failures and the number
    of partial writes made."""
    failures, total, lines = [], 0, []
    for rnd in range(rounds):
        for nprocs in (4, 8):
            for cfg in configs(depth):
                cfg = fix(cfg, shape)
                seed = 1000 * rnd + 10 * nprocs + 7
                store, path = store_of(f"r{rnd}_n{nprocs}"), cfg.name
                cfg.create(f"{store}/{path}", shape, storage_options)
                case = f"{kind} round {rnd} (seed {seed}) N={nprocs} {cfg.name}"
                t0 = time.monotonic()
                w = Writers(store, path, shape, cfg.dtype, nprocs, seed, strip, flush, env, c_writer,
                            work, cli_pieces)
                w.start()
                errors = w.wait()
                total += w.partial_writes
                want = expected(shape, cfg.dtype)
                by_zarr, by_export, export_err = read_back(store, path, env, work, storage_options)
                lost, wrong = compare(by_zarr, want)
                msg = []
                if errors:
                    msg.append("writers failed: " + "; ".join(errors))
                if lost or wrong:
                    msg.append(f"zarr-python: {lost} of {want.size} elements lost, {wrong} wrong")
                if by_export is None:
                    msg.append(f"zarrcore export failed: {export_err}")
                else:
                    e_lost, e_wrong = compare(by_export.astype(want.dtype), want)
                    if e_lost or e_wrong:
                        msg.append(f"zarrcore export: {e_lost} lost, {e_wrong} wrong")
                    if not np.array_equal(by_export, by_zarr):
                        msg.append("zarrcore export and zarr-python disagree")
                line = f"{case}: {w.partial_writes} partial writes, {time.monotonic() - t0:.1f} s"
                lines.append(line + (": " + "; ".join(msg) if msg else ": ok"))
                if msg:
                    failures.append(f"{case}: " + "; ".join(msg))
    print("\n".join(lines))
    return failures, total


def test_control_sequential_writers_lose_nothing(tmp_path, c_writer):
    """The control: the same writers one after the other (nothing to race)
    leave every element right, so a loss in the concurrent runs is the
    engine's, not the harness's."""
    env = dict(os.environ)
    shape = (32, 12, 64)
    failures = []
    for cfg in configs(16):
        cfg = fix(cfg, shape)
        store = str(tmp_path / "control.zarr")
        cfg.create(f"{store}/{cfg.name}", shape)
        w = Writers(store, cfg.name, shape, cfg.dtype, 4, 5, 3, 64, env, c_writer, tmp_path)
        w.start(sequential=True)
        errors = w.wait()
        by_zarr, by_export, export_err = read_back(store, cfg.name, env, tmp_path)
        lost, wrong = compare(by_zarr, expected(shape, cfg.dtype))
        if errors or lost or wrong or by_export is None or not np.array_equal(by_export, by_zarr):
            failures.append(f"{cfg.name}: errors {errors}, {lost} lost, {wrong} wrong, export: {export_err}")
    assert not failures, "\n".join(failures)


def test_many_writer_processes_directory(tmp_path, c_writer):
    """N = 4 and 8 writers (Rust, C, CLI) into shared chunks and shards of a
    directory store, 3 rounds with different seeds: zero lost elements.
    4 arrays x 2 N x 3 rounds x 6352 = 152 448 partial writes: strips of 3
    (some straddle two chunks), 32 chunks (8 shards) per array, a flush
    every 64 writes."""
    env = dict(os.environ)
    failures, total = run_matrix(
        "directory",
        lambda name: str(tmp_path / f"{name}.zarr"),
        env,
        c_writer,
        tmp_path,
        rounds=3,
        shape=(32, 12, 64),
        depth=16,
        strip=3,
        flush=64,
        cli_pieces=2,
    )
    assert not failures, f"{len(failures)} cases failed:\n" + "\n".join(failures)
    assert total >= MIN_PARTIAL_WRITES, f"only {total} partial writes"


def test_many_writer_processes_s3(tmp_path, c_writer, server):
    """The same on the local S3 server: conditional PUTs must keep every
    element. Requests cost ~10 ms each on moto, so: one round, 16 chunks (4
    shards) per array, single-element strips, a flush every 2048 writes --
    4 arrays x 2 N x 24 584 = 196 672 partial writes, and every flush of
    every process rewrites every chunk the others are rewriting."""
    env = dict(os.environ)
    env.update(server.env())
    failures, total = run_matrix(
        "s3",
        lambda name: f"s3://{BUCKET}/procs-{name}",
        env,
        c_writer,
        tmp_path,
        rounds=1,
        shape=(32, 16, 64),
        depth=32,
        strip=1,
        flush=2048,
        cli_pieces=1,
        storage_options=server.storage_options(),
    )
    assert not failures, f"{len(failures)} cases failed:\n" + "\n".join(failures)
    assert total >= MIN_PARTIAL_WRITES, f"only {total} partial writes"


# --- the read-or-write rule across processes ----------------------------------


class Holder:
    """`zarrcore-engine-helper hold`: one open handle in its own process."""

    def __init__(self, store, path, mode, seconds=60.0):
        self.mode = mode
        self.proc = subprocess.Popen(
            [helper_bin(), "hold", store, path, "--mode", mode, "--seconds", str(seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def first_line(self, timeout=30.0) -> str:
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            self.kill()
            pytest.fail(f"hold --mode {self.mode}: no output in {timeout} s")
        return self.proc.stdout.readline().strip()

    def result(self, timeout=30.0) -> tuple[int, str]:
        """Exit code and first line of a holder expected to finish."""
        line = self.first_line(timeout)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        return self.proc.returncode, line

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.proc.stdout.close()
        self.proc.stderr.close()


def make_dir_array(root: Path, path="grp/temperature"):
    import zarr

    store = root / "busy.zarr"
    zarr.create_array(store=str(store / path), shape=(16, 16), chunks=(8, 8), dtype="<i4", fill_value=0)
    return str(store), path


@pytest.mark.parametrize("first,second", [("write", "read"), ("read", "write")])
def test_reader_and_writer_processes_exclude_each_other(tmp_path, first, second):
    """The second open (other mode, other process) fails with Busy naming the
    array; once the holder is SIGKILLed, the other mode opens at once."""
    store, path = make_dir_array(tmp_path)
    holder = Holder(store, path, first)
    try:
        line = holder.first_line()
        assert line.startswith("ready"), f"hold --mode {first}: {line}"
        code, msg = Holder(store, path, second, seconds=0).result()
        assert code == EXIT_BUSY, (
            f"a {second} handle opened (exit {code}: {msg!r}) while another process holds a {first} handle"
        )
        assert path in msg and "busy" in msg.lower(), f"the Busy message does not name the array: {msg!r}"
    finally:
        holder.kill()
    t0 = time.monotonic()
    code, msg = Holder(store, path, second, seconds=0).result()
    elapsed = time.monotonic() - t0
    assert code == 0 and msg.startswith("ready"), f"after SIGKILL of the {first} holder: exit {code}: {msg}"
    assert elapsed < 5, f"opening after the holder died took {elapsed:.1f} s"


@pytest.mark.parametrize("mode", ["read", "write"])
def test_processes_of_one_mode_share_the_array(tmp_path, mode):
    """Readers with readers and writers with writers are allowed."""
    store, path = make_dir_array(tmp_path)
    holder = Holder(store, path, mode)
    try:
        assert holder.first_line().startswith("ready")
        code, msg = Holder(store, path, mode, seconds=0).result()
        assert code == 0 and msg.startswith("ready"), f"a second {mode} handle: exit {code}: {msg}"
    finally:
        holder.kill()


# --- SIGKILLed writers ---------------------------------------------------------


def test_sigkilled_writers(tmp_path, c_writer):
    """Four writers (Rust and C) on a sharded directory array; 20 times a
    random writer is SIGKILLed at a random moment and restarted while the
    others carry on. At every kill every shard decodes and each element is
    the fill value or its final value; at the end `zarrcore check` is clean,
    every writer's last run completed and every element is present, and a
    reader opens at once (no lock outlived its process)."""
    import zarr

    shape, nprocs = (32, 12, 64), 4
    store = str(tmp_path / "kill.zarr")
    path = "sharded"
    fix(configs(16)[1], shape).create(f"{store}/{path}", shape)
    want = expected(shape, "<i4")
    rng = random.Random(12)

    def start(p: int, seed: int) -> subprocess.Popen:
        # Three passes over the process's strips, flushing every 8 writes.
        writes = str(3 * strip_writes(shape, p, nprocs, 3))
        if p % 2 == 0:
            cmd = [helper_bin(), "strips", store, path, "--proc", str(p), "--nprocs", str(nprocs),
                   "--writes", writes, "--flush-every", "8", "--seed", str(seed), "--strip", "3"]
        else:
            cmd = [c_writer, store, path, str(p), str(nprocs), writes, "8", str(seed), "3"]
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    procs = {p: start(p, p) for p in range(nprocs)}
    problems, kills = [], 0
    try:
        while kills < 20:
            time.sleep(rng.uniform(0.02, 0.4))
            for p, pr in procs.items():  # a writer that finished starts over
                if pr.poll() is not None:
                    if pr.returncode != 0:
                        problems.append(f"writer {p} exited {pr.returncode}: {pr.stderr.read()[-1000:]}")
                    pr.stderr.close()
                    procs[p] = start(p, rng.randrange(1 << 30))
            victim = rng.randrange(nprocs)
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait(30)
            procs[victim].stderr.close()
            kills += 1
            # Mid-run, every shard holds old or new values (zarr-python
            # reads the files; the survivors keep writing meanwhile).
            try:
                got = zarr.open_array(f"{store}/{path}", mode="r")[...]
                bad = int(np.count_nonzero((got != 0) & (got != want)))
                if bad:
                    problems.append(f"after kill {kills}: {bad} elements neither fill nor expected")
            except Exception as e:  # noqa: BLE001 - any decode failure is the finding
                problems.append(f"after kill {kills}: zarr-python cannot read the array: {e!r}")
            procs[victim] = start(victim, rng.randrange(1 << 30))
        for p, pr in procs.items():
            try:
                _, err = pr.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                pr.kill()
                _, err = pr.communicate()
                problems.append(f"writer {p}'s last run did not finish (a lock that outlived its process?)")
                continue
            if pr.returncode != 0:
                problems.append(f"writer {p}'s last run exited {pr.returncode}: {err[-1000:]}")
    finally:
        for pr in procs.values():
            if pr.poll() is None:
                pr.kill()
                pr.wait()
    # Every chunk decodes. Leftover temporaries of the killed writers are
    # the only problems allowed, and `check --repair` removes them.
    check = subprocess.run(
        [zarrcore_bin(), "check", store, path, "--json"], capture_output=True, text=True, timeout=300
    )
    try:
        report = json.loads(check.stdout)
    except ValueError:
        report = None
        problems.append(f"zarrcore check: exit {check.returncode}: {check.stdout} {check.stderr}")
    if report is not None:
        others = [p for p in report["problems"] if p["kind"] != "temporary"]
        if others or report["chunks"] == 0:
            problems.append(f"zarrcore check: {report['chunks']} chunks, problems: {others}")
        repair = subprocess.run(
            [zarrcore_bin(), "check", store, path, "--repair"], capture_output=True, text=True, timeout=300
        )
        again = subprocess.run([zarrcore_bin(), "check", store, path], capture_output=True, text=True, timeout=300)
        if again.returncode != 0:
            problems.append(f"zarrcore check after --repair: {repair.stdout} {again.stdout} {again.stderr}")
    got = zarr.open_array(f"{store}/{path}", mode="r")[...]
    lost, wrong = compare(got, want)
    if lost or wrong:
        problems.append(f"at the end: {lost} of {want.size} elements lost, {wrong} wrong")
    t0 = time.monotonic()
    code, msg = Holder(store, path, "read", seconds=0).result()
    if code != 0 or time.monotonic() - t0 > 5:
        problems.append(f"a reader after the writers: exit {code} after {time.monotonic() - t0:.1f} s: {msg}")
    assert not problems, "\n".join(problems)


# --- servers that refuse or ignore conditional writes -------------------------


class ConditionalProxy(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """A loopback HTTP proxy in front of moto. `mode` "refuse": any PUT
    carrying If-Match or If-None-Match is answered 501 NotImplemented;
    "ignore": those headers are stripped and the PUT forwarded (a server
    that silently ignores conditions)."""

    daemon_threads = True

    def __init__(self, upstream_port: int, mode: str):
        self.upstream_port, self.mode = upstream_port, mode
        self.conditional_puts = 0
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self):
        self.shutdown()
        self.server_close()


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self):
        body = self._body()
        conditional = [h for h in ("If-Match", "If-None-Match") if h in self.headers]
        if self.command == "PUT" and conditional:
            self.server.conditional_puts += 1
            if self.server.mode == "refuse":
                msg = (
                    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code>'
                    b"<Message>A header you provided implies functionality that is not implemented"
                    b"</Message></Error>"
                )
                self.send_response(501)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)
                return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")}
        if self.command == "PUT":
            # Clients may send header names in any case (hyper: lower).
            drop = {h.lower() for h in conditional}
            headers = {k: v for k, v in headers.items() if k.lower() not in drop}
            headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=60)
        try:
            conn.request(self.command, self.path, body=body if body else None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                    self.send_header(k, v)
            length = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
            self.send_header("Content-Length", length or "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


@pytest.mark.parametrize("mode", ["refuse", "ignore"])
def test_server_without_conditional_writes(tmp_path, server, c_writer, mode):
    """Through a server that refuses (501) or ignores conditional PUTs,
    partial writes (Rust API, C API, CLI) fail with an error naming the
    store and the `single_writer` option; with `?single_writer=true` they
    succeed."""
    import zarr

    shape = (16, 4, 16)
    prefix = f"procs-cond-{mode}"
    url = f"s3://{BUCKET}/{prefix}"
    path = "a"
    # The array is created directly on moto.
    fix(configs(4)[0], shape).create(f"{url}/{path}", shape, server.storage_options())
    proxy = ConditionalProxy(server.port, mode)
    try:
        env = dict(os.environ)
        env.update(server.env())
        env["AWS_ENDPOINT_URL"] = proxy.endpoint
        row = tmp_path / "row.npy"
        np.save(row, expected(shape, "<i4")[5])
        writers = {
            "rust": lambda loc: [helper_bin(), "strips", loc, path, "--proc", "0", "--nprocs", "4",
                                 "--flush-every", "5"],
            "c": lambda loc: [c_writer, loc, path, "2", "4", "0", "5", "1", "4"],
            "cli": lambda loc: [zarrcore_bin(), "import", str(row), loc, path, "--region", "5"],
        }
        problems = []
        for name, cmd in writers.items():
            r = subprocess.run(cmd(url), env=env, capture_output=True, text=True, timeout=300)
            out = (r.stdout + r.stderr).strip()
            if r.returncode == 0:
                problems.append(f"{name}: a partial write through a server that {mode}s conditions succeeded")
            elif url not in out or "single_writer" not in out:
                problems.append(f"{name}: the error does not name the store {url} and single_writer: {out!r}")
        for name, cmd in writers.items():
            r = subprocess.run(cmd(url + "?single_writer=true"), env=env, capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                problems.append(f"{name} with ?single_writer=true failed: {r.stderr.strip()}")
    finally:
        proxy.close()
    assert not problems, "\n".join(problems)
    got = zarr.open_array(f"{url}/{path}", mode="r", storage_options=server.storage_options())[...]
    want = expected(shape, "<i4")
    mine = np.zeros(shape, dtype=bool)
    mine[0::4] = True  # the Rust writer's rows
    mine[2::4] = True  # the C writer's rows
    mine[5] = True  # the CLI's row
    assert np.array_equal(got[mine], want[mine]), "single_writer writes did not land"
    assert not got[~mine].any(), "elements nobody wrote changed"


def _put(port: int, key: str, body: bytes, headers: dict | None = None) -> tuple[int, str]:
    """A PUT with a dummy signature (moto does not check signatures, but
    answers a failed condition of an anonymous request with 403, as S3
    does); (status, ETag)."""
    auth = "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("PUT", f"/{BUCKET}/{key}", body=body, headers={"Authorization": auth, **(headers or {})})
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("ETag") or ""
    finally:
        conn.close()


def test_conditional_proxies_refuse_or_ignore_conditions(server):
    """The test tool itself: moto honours If-None-Match; the "refuse" proxy
    answers 501 to a conditional PUT and forwards plain ones; the "ignore"
    proxy forwards a conditional PUT without its condition."""
    key = "procs-proxy-check"
    assert _put(server.port, key, b"one")[0] == 200
    assert _put(server.port, key, b"two", {"If-None-Match": "*"})[0] == 412
    for mode, want in (("refuse", 501), ("ignore", 200)):
        proxy = ConditionalProxy(server.port, mode)
        try:
            port = proxy.server_address[1]
            assert _put(port, key, b"three", {"If-None-Match": "*"})[0] == want, mode
            assert _put(port, key, b"four", {"If-Match": '"0123"'})[0] == want, mode
            assert _put(port, key, b"five")[0] == 200, mode
            assert proxy.conditional_puts == 2
        finally:
            proxy.close()


def test_serialized_moto_lets_one_racing_conditional_put_win(server):
    """Why the S3 cases use the serialized server: of 8 PUTs racing with the
    same If-Match (or If-None-Match: *), exactly one may succeed."""
    for trial in range(5):
        key = f"procs-race-{trial}"
        status, etag = _put(server.port, key, b"base")
        assert status == 200 and etag
        for headers in ({"If-Match": etag}, None):
            if headers is None:
                key += "-new"
                headers = {"If-None-Match": "*"}
            barrier = threading.Barrier(8)
            results: list[int] = []

            def race(i, key=key, headers=headers, barrier=barrier, results=results):
                barrier.wait()
                results.append(_put(server.port, key, f"racer {i}".encode(), headers)[0])

            threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert sorted(results) == [200] + [412] * 7, f"{headers}: {results}"
