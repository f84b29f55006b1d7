"""Helpers shared by the benchmarks: a server subprocess, peak RSS, percentiles, tables."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
console = Console()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def riskops_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"RISKOPS_DATA_DIR": str(data_dir), "RISKOPS_SECRET_KEY": "bench-secret"})
    env.update({f"RISKOPS_{k.upper()}": v for k, v in extra.items()})
    return env


def create_key(env: dict[str, str]) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "riskops.cli.main",
            "keys",
            "create",
            "-q",
            "-n",
            "bench",
            "-s",
            "admin",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def started(
    cmd: list[str], url: str, ready_path: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run a server command until the block ends; yields ``url`` once ``ready_path`` answers 200."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}{ready_path}", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {' '.join(cmd)}")
            time.sleep(0.2)
        else:
            raise RuntimeError("server did not become ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def server(env: dict[str, str], workers: int = 1) -> contextlib.AbstractContextManager[str]:
    """``riskops serve`` on a free port, ready."""
    port = free_port()
    cmd = [sys.executable, "-m", "riskops.cli.main", "serve", "--port", str(port)]
    return started([*cmd, "--workers", str(workers)], f"http://127.0.0.1:{port}", "/readyz", env)


def wrk(
    url: str,
    lua: Path,
    connections: int,
    seconds: int,
    headers: Sequence[str] = (),
    script_args: Sequence[str] = (),
) -> dict[str, float]:
    """Run wrk (one thread) with a Lua script; requests/s, p50 / p99 in ms, non-2xx count."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(lua)]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    if script_args:
        cmd += ["--", *script_args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    found = {
        "rate": re.search(r"Requests/sec:\s+([\d.]+)", out),
        "p50": re.search(r"50%\s+([\d.]+)(us|ms|s)", out),
        "p99": re.search(r"99%\s+([\d.]+)(us|ms|s)", out),
        "bad": re.search(r"Non-2xx or 3xx responses: (\d+)", out),
    }
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    result: dict[str, float] = {}
    for name, m in found.items():
        if m is None:
            result[name] = 0.0
        elif name in ("p50", "p99"):
            result[name] = float(m.group(1)) * scale[m.group(2)]
        else:
            result[name] = float(m.group(1))
    return result


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def peak_rss_mb(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def table(title: str, rows: list[tuple[str, str]]) -> None:
    t = Table(title=title)
    t.add_column("measure")
    t.add_column("value", justify="right")
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)
