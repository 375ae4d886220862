"""Load: concurrent clients sending mixed requests (text search, classify, health) to a local server.

Usage: python bench/bench_load.py [--clients 8] [--requests 50] [--clips 40] [--model general]
                                 [--kinds search,classify,health] [--probe-health 0.1]

Builds a small index of generated clips (`auralign index build`), starts `auralign serve --index` as a
subprocess on a free 127.0.0.1 port, and runs `--clients` threads, each with its own httpx client, each
sending `--requests` requests in turn: request j of client c is of kind (c + j) mod len(kinds) of
`--kinds` (default all three: (GET /api/search, a text query from a list of 20), classify (POST /classify: a new generated
clip for every request, so the server's upload feature cache does not answer it, against 10 labels) and
health (GET /health)). With `--probe-health S`, one more thread sends GET /health every S seconds
while the clients run: how long a user waits for a trivial answer under that load. A request is an error if it raises, times out, answers other than 200 or without
the expected field. Prints JSON with p50/p99/max per kind; exits 1 on any error. The server is stopped
and the scratch folder deleted at the end; the request count is bounded, so the run stops by itself.
AURALIGN_HOME points at a scratch home whose entries link to the real one except `features`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf
from scratch_home import scratch_home

SAMPLE_RATE = 16000
KINDS = ("search", "classify", "health")
QUERIES = ["a dog barking", "rain on a roof", "a car horn", "footsteps", "a door slams", "birds singing",
           "a piano note", "a low hum", "a high whistle", "a telephone ringing", "water running", "wind",
           "a beep", "white noise", "an engine", "a bell rings", "a drum hit", "a siren", "a short click",
           "a clock ticking"]
LABELS = "a dog barking, rain, a car horn, a bell, a whistle, an engine, speech, music, a siren, silence"


def clip(seconds: float, seed: int) -> np.ndarray:
    """A decaying tone (or, every third seed, a noise burst) with a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = np.exp(-t * rng.uniform(0, 4))
    if seed % 3 == 2:
        samples = 0.3 * rng.standard_normal(len(t)) * envelope
    else:
        samples = 0.4 * np.sin(2 * np.pi * 100.0 * 2 ** rng.uniform(0, 6) * t) * envelope
    return (samples + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def wav_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(base: str, server: subprocess.Popen, log: Path, timeout: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if server.poll() is not None:
            sys.exit(f"the server exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit(f"the server did not answer /health within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def one_request(client: httpx.Client, kind: str, n: int) -> None:
    """Send request number `n` of `kind`; raises on any failure."""
    if kind == "search":
        response = client.get("/api/search", params={"q": QUERIES[n % len(QUERIES)], "k": 10})
        field = "hits"
    elif kind == "classify":
        audio = wav_bytes(clip(1.0, 1_000_000 + n))
        response = client.post("/classify", files={"audio": (f"upload_{n}.wav", audio, "audio/wav")},
                               data={"labels": LABELS, "top_k": "3"})
        field = "top"
    else:
        response = client.get("/health")
        field = "status"
    if response.status_code != 200:
        raise RuntimeError(f"{kind}: HTTP {response.status_code} {response.text[:200]}")
    if field not in response.json():
        raise RuntimeError(f"{kind}: no {field!r} in the answer")


def run_clients(base: str, clients: int, requests: int, timeout: float, kinds: list[str],
                probe_every: float | None = None) -> tuple[list, float]:
    """(kind, seconds, error or None) of every request, and the wall time of the whole run.

    Requests of the health prober, if any, are of kind "health_probe"."""
    results: list[tuple[str, float, str | None]] = []
    lock, barrier = threading.Lock(), threading.Barrier(clients)
    running = threading.Event()

    def timed(client: httpx.Client, kind: str, n: int) -> None:
        start, error = time.perf_counter(), None
        try:
            one_request(client, "health" if kind == "health_probe" else kind, n)
        except Exception as failure:  # every failure is counted, none stops the run
            error = f"{type(failure).__name__}: {failure}"[:300]
        with lock:
            results.append((kind, time.perf_counter() - start, error))

    def worker(c: int) -> None:
        with httpx.Client(base_url=base, timeout=timeout) as client:
            barrier.wait()
            running.set()
            for j in range(requests):
                timed(client, kinds[(c + j) % len(kinds)], c * requests + j)

    def prober() -> None:
        with httpx.Client(base_url=base, timeout=timeout) as client:
            running.wait()
            while any(thread.is_alive() for thread in threads):
                timed(client, "health_probe", 0)
                time.sleep(probe_every or 0)

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    probe = threading.Thread(target=prober) if probe_every else None
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    if probe is not None:
        probe.start()
    for thread in threads:
        thread.join()
    if probe is not None:
        probe.join()
    return results, time.perf_counter() - start


def stats(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"n": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1), "max_ms": round(float(ms.max()), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="requests per client")
    parser.add_argument("--clips", type=int, default=40, help="generated clips in the index")
    parser.add_argument("--model", default="general", help="shipped model name or checkpoint path")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated request kinds, in turn")
    parser.add_argument("--probe-health", type=float, default=None, metavar="SECONDS",
                        help="also send GET /health every SECONDS from one more client")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a request is an error")
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    if not kinds or set(kinds) - set(KINDS):
        parser.error(f"--kinds takes a comma-separated subset of {', '.join(KINDS)}")

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "AURALIGN_HOME": str(scratch_home(root))}
        (root / "clips").mkdir()
        for i in range(args.clips):
            name = f"{'noise' if i % 3 == 2 else 'tone'}_{i:03d}.wav"
            sf.write(root / "clips" / name, clip(2.0, i), SAMPLE_RATE, subtype="PCM_16")
        start = time.perf_counter()
        build = subprocess.run([sys.executable, "-m", "auralign.cli.main", "index", "build", str(root / "clips"),
                                "--out", str(root / "index"), "--model", args.model],
                               env=env, capture_output=True, text=True)
        build_seconds = time.perf_counter() - start
        if build.returncode != 0:
            sys.exit(f"index build failed:\n{build.stderr[-3000:]}")

        port, log = free_port(), root / "server.log"
        base = f"http://127.0.0.1:{port}"
        with open(log, "w") as log_file:
            server = subprocess.Popen([sys.executable, "-m", "auralign.cli.main", "serve", "--index",
                                       str(root / "index"), "--host", "127.0.0.1", "--port", str(port)],
                                      env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            startup_seconds = wait_ready(base, server, log, args.startup_timeout)
            results, wall = run_clients(base, args.clients, args.requests, args.timeout, kinds, args.probe_health)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    errors = [error for _, _, error in results if error]
    served = sum(kind != "health_probe" for kind, _, _ in results)
    print(json.dumps({
        "model": args.model, "clients": args.clients, "requests_per_client": args.requests,
        "kinds": kinds, "requests": served, "errors": len(errors), "first_errors": errors[:5],
        "index_clips": args.clips, "index_build_seconds": round(build_seconds, 1),
        "server_startup_seconds": round(startup_seconds, 1), "wall_seconds": round(wall, 1),
        "requests_per_second": round(served / wall, 2),
        "latency": {kind: stats([s for k, s, e in results if k == kind and not e])
                    for kind in (*KINDS, "health_probe") if any(k == kind and not e for k, _, e in results)},
        "machine": f"{os.cpu_count()} CPU cores, shared with other jobs (run niced)",
    }, indent=2))
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
