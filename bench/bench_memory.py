"""Peak memory (RSS) of the commands that decode a user's long audio (issue 17: at most 1.5 GB each).

Usage: python bench/bench_memory.py [--seconds 3600] [--dc-seconds 1800] [--json]

In a temporary folder it writes a `--seconds` long 16 kHz mono WAV (noise + tones) and a `--dc-seconds`
long 44.1 kHz DC FLAC (a few KB that decode to a long clip), then measures, each in its own process:

* `auralign classify <wav> --labels "a, b, c"` and `auralign embed <wav> --json`: peak RSS of the
  process (`ru_maxrss` from `wait4`, i.e. over its whole life, model loading included);
* `auralign serve --model clap-fsdd` on a free loopback port, the FLAC POSTed to /classify: once with
  the server's default duration limit (expect 413 from the header, nothing decoded) and once with
  `--max-seconds` above the FLAC's length (expect 200: the clip is decoded and encoded); peak RSS of the
  server over its whole life (it is stopped after the upload) and its RSS just before the upload.

Prints one markdown table (or one JSON object with --json).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np
import psutil
import soundfile as sf

AURALIGN = Path(sys.executable).with_name("auralign")
BLOCK_SECONDS = 60
LABELS = "a, b, c"


@dataclass
class Measurement:
    what: str
    outcome: str
    peak_rss_mb: float
    seconds: float
    rss_before_upload_mb: float | None = None


def write_noise_and_tones(path: Path, seconds: int, rate: int = 16000) -> None:
    """White noise plus a tone whose pitch changes every block, written block by block (16-bit WAV)."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as out:
        for start in range(0, seconds, BLOCK_SECONDS):
            n = min(BLOCK_SECONDS, seconds - start) * rate
            pitch = 220.0 + 40.0 * (start // BLOCK_SECONDS % 20)
            tone = 0.3 * np.sin(2 * np.pi * pitch * np.arange(n) / rate)
            out.write((tone + 0.1 * rng.standard_normal(n)).astype(np.float32))


def write_dc(path: Path, seconds: int, rate: int = 44100) -> None:
    """A constant signal (DC at 0.25): FLAC stores it in a few KB whatever its length."""
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16", format="FLAC") as out:
        block = np.full(BLOCK_SECONDS * rate, 0.25, dtype=np.float32)
        for start in range(0, seconds, BLOCK_SECONDS):
            out.write(block[: min(BLOCK_SECONDS, seconds - start) * rate])


def run_measured(what: str, argv: list[str]) -> Measurement:
    """Run a command to its end; its own peak RSS comes from wait4 (not the maximum over all children)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        last_line = (err.read().decode(errors="replace").strip().splitlines() or [""])[-1]
    outcome = f"exit {process.returncode}" + (f" ({last_line[:80]})" if process.returncode else "")
    return Measurement(what, outcome, usage.ru_maxrss / 1024, time.perf_counter() - start)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before answering")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(1)
    raise RuntimeError("the server did not answer /health in time")


def measure_server(what: str, upload: Path, extra: list[str]) -> Measurement:
    """Start `auralign serve`, POST `upload` to /classify, stop it; its peak RSS over its whole life."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(AURALIGN), "serve", "--model", "clap-fsdd", "--host", "127.0.0.1", "--port", str(port),
            *extra]
    env = {key: value for key, value in os.environ.items() if key != "AURALIGN_TOKEN"}
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_until_up(url, process)
        before = psutil.Process(process.pid).memory_info().rss / 2**20
        start = time.perf_counter()
        with open(upload, "rb") as handle:
            response = httpx.post(f"{url}/classify", files={"audio": (upload.name, handle, "audio/flac")},
                                  data={"labels": LABELS}, timeout=3600)
        elapsed = time.perf_counter() - start
        detail = response.json().get("detail", "") if response.status_code != 200 else ""
    finally:
        process.send_signal(signal.SIGINT)
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    outcome = f"HTTP {response.status_code}" + (f" ({detail[:80]})" if detail else "")
    return Measurement(what, outcome, usage.ru_maxrss / 1024, elapsed, before)


def run(seconds: int, dc_seconds: int, folder: Path) -> list[Measurement]:
    long_wav, dc_flac = folder / "long.wav", folder / "dc.flac"
    write_noise_and_tones(long_wav, seconds)
    write_dc(dc_flac, dc_seconds)
    wav_desc = f"{seconds} s 16 kHz WAV, {long_wav.stat().st_size / 2**20:.0f} MB"
    dc_desc = f"{dc_seconds} s DC FLAC, {dc_flac.stat().st_size / 2**10:.0f} KB"
    return [
        run_measured(f"classify ({wav_desc})",
                     [str(AURALIGN), "classify", str(long_wav), "--labels", LABELS]),
        run_measured(f"embed --json ({wav_desc})", [str(AURALIGN), "embed", str(long_wav), "--json"]),
        measure_server(f"serve, POST /classify ({dc_desc}), default limit", dc_flac, []),
        measure_server(f"serve, POST /classify ({dc_desc}), --max-seconds {dc_seconds + 1}", dc_flac,
                       ["--max-seconds", str(dc_seconds + 1)]),
    ]


def table(rows: list[Measurement]) -> str:
    lines = ["| what | outcome | peak RSS (MB) | RSS before upload (MB) | seconds |", "|---|---|---|---|---|"]
    for row in rows:
        before = "" if row.rss_before_upload_mb is None else f"{row.rss_before_upload_mb:.0f}"
        lines.append(f"| {row.what} | {row.outcome} | {row.peak_rss_mb:.0f} | {before} | {row.seconds:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3600, help="Length of the noise + tones WAV.")
    parser.add_argument("--dc-seconds", type=int, default=1800,
                        help="Length of the DC FLAC uploaded to the server.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="auralign-bench-memory-") as tmp:
        rows = run(args.seconds, args.dc_seconds, Path(tmp))
    if args.json:
        print(json.dumps({"seconds": args.seconds, "dc_seconds": args.dc_seconds,
                          "rows": [asdict(row) for row in rows]}))
    else:
        print(table(rows))


if __name__ == "__main__":
    main()
