"""CLV model fits: ours against ``lifetimes`` 0.11.3 on the CDNOW sample (2,357 customers), and
BG/NBD + Gamma-Gamma on a million customers simulated from the models.

    python benchmarks/bench_clv.py [--repeat 7] [--customers 1000000] [--lifetimes-venv DIR]

``lifetimes`` is no dependency of riskops: it runs in a throwaway venv under /tmp (created with
pip on first use, ``--lifetimes-venv`` to choose it, ``--skip-lifetimes`` to do without), in a
subprocess that times its own fits. Both sides fit the same files, the CDNOW summaries shipped
in the lifetimes wheel. Times are medians over ``--repeat`` fits; their log-likelihood is
computed with our formula at their parameters. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import peak_rss_mb
from rich.console import Console
from rich.table import Table

from riskops.core.analytics.clv import (
    BgNbd,
    GammaGamma,
    ParetoNbd,
    fit_bgnbd,
    fit_gammagamma,
    fit_paretonbd,
    simulate_bgnbd,
    simulate_spend,
)

LIFETIMES = "lifetimes==0.11.3"
console = Console(width=160)

# Runs inside the lifetimes venv: times each fit ``repeat`` times, prints JSON.
LIFETIMES_SCRIPT = r"""
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
import lifetimes.datasets as ds
repeat = int(sys.argv[1])
folder = os.path.dirname(ds.__file__)
rfm = ds.load_cdnow_summary(index_col=[0])
spend = ds.load_cdnow_summary_data_with_monetary_value()
spend = spend[spend["frequency"] > 0]
out = {"folder": folder}
for name, make, cols, data in [
    ("BG/NBD", BetaGeoFitter, ("frequency", "recency", "T"), rfm),
    ("Pareto/NBD", ParetoNBDFitter, ("frequency", "recency", "T"), rfm),
    ("Gamma-Gamma", GammaGammaFitter, ("frequency", "monetary_value"), spend),
]:
    times = []
    for _ in range(repeat):
        model = make()
        t0 = time.perf_counter()
        model.fit(*(data[c] for c in cols))
        times.append(time.perf_counter() - t0)
    out[name] = {"times": times, "params": {k: float(v) for k, v in model.params_.items()}}
print(json.dumps(out))
"""


def lifetimes_python(venv: Path) -> Path:
    """The venv's python, with lifetimes installed into it first if needed."""
    python = venv / "bin" / "python"
    if not python.exists():
        console.print(f"creating {venv} for {LIFETIMES} (pandas, autograd, dill)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import lifetimes"], capture_output=True)
    if probe.returncode != 0:
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, LIFETIMES], check=True)
    return python


def run_lifetimes(venv: Path, repeat: int) -> dict[str, Any]:
    python = lifetimes_python(venv)
    done = subprocess.run(
        [str(python), "-c", LIFETIMES_SCRIPT, str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def read_columns(path: Path) -> dict[str, np.ndarray]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def fmt(params: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in params.items())


def cdnow(args: argparse.Namespace) -> None:
    theirs = run_lifetimes(args.lifetimes_venv, args.repeat)
    folder = Path(theirs["folder"])
    rfm = read_columns(folder / "cdnow_customers_summary.csv")
    spend = read_columns(folder / "cdnow_customers_summary_with_transactions.csv")
    x, t_x, T = rfm["frequency"], rfm["recency"], rfm["T"]
    fits: list[tuple[str, Callable[[], Any], Callable[[dict[str, float]], float]]] = [
        (
            "BG/NBD",
            lambda: fit_bgnbd(x, t_x, T),
            lambda p: float(
                BgNbd(p["r"], p["alpha"], p["a"], p["b"]).log_likelihood(x, t_x, T).sum()
            ),
        ),
        (
            "Pareto/NBD",
            lambda: fit_paretonbd(x, t_x, T),
            lambda p: float(
                ParetoNbd(p["r"], p["alpha"], p["s"], p["beta"]).log_likelihood(x, t_x, T).sum()
            ),
        ),
        (
            "Gamma-Gamma",
            lambda: fit_gammagamma(spend["x"], spend["zbar"]),
            lambda p: float(
                GammaGamma(p["p"], p["q"], p["v"]).log_likelihood(spend["x"], spend["zbar"]).sum()
            ),
        ),
    ]
    table = Table(title=f"CDNOW (2,357 customers): median of {args.repeat} fits")
    for col in (
        "model",
        "ours s",
        "lifetimes s",
        "speed-up",
        "ours: params / LL",
        "lifetimes: params / LL",
    ):
        table.add_column(col, justify="right" if col.endswith(("s", "up")) else "left")
    for name, ours_fit, their_ll in fits:
        seconds, fit = timed(ours_fit, args.repeat)
        their = theirs[name]
        their_s = statistics.median(their["times"])
        table.add_row(
            name,
            f"{seconds:.4f}",
            f"{their_s:.4f}",
            f"{their_s / seconds:.1f}×",
            f"{fmt(dict(fit.params))} / {fit.log_likelihood:.2f}",
            f"{fmt(their['params'])} / {their_ll(their['params']):.2f}",
        )
    console.print(table)


def million(args: argparse.Namespace) -> None:
    n = args.customers
    rng = np.random.default_rng(args.seed)
    true_bg = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    true_gg = GammaGamma(p=6.25, q=3.74, gamma=15.44)
    t0 = time.perf_counter()
    customers = simulate_bgnbd(rng, true_bg, n, rng.uniform(1.0, 78.0, n))
    spend = simulate_spend(rng, true_gg, customers.frequency)
    simulated = time.perf_counter() - t0
    rss_data = peak_rss_mb()
    t0 = time.perf_counter()
    bg = fit_bgnbd(customers.frequency, customers.recency, customers.T)
    bg_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    gg = fit_gammagamma(customers.frequency, spend)
    gg_s = time.perf_counter() - t0
    table = Table(title=f"{n:,} simulated customers (seed {args.seed}), weeks")
    for col in ("step", "seconds", "result"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    repeaters = int((customers.frequency > 0).sum())
    table.add_row("simulate BG/NBD + spend", f"{simulated:.2f}", f"{repeaters:,} repeat buyers")
    table.add_row(
        "fit BG/NBD", f"{bg_s:.2f}", f"{fmt(dict(bg.params))} (true {fmt(vars(true_bg))})"
    )
    table.add_row(
        "fit Gamma-Gamma", f"{gg_s:.2f}", f"{fmt(dict(gg.params))} (true {fmt(vars(true_gg))})"
    )
    table.add_row(
        "fits together", f"{bg_s + gg_s:.2f}", f"{bg.iterations + gg.iterations} iterations"
    )
    table.add_row("peak RSS", "", f"{peak_rss_mb():,.0f} MB ({rss_data:,.0f} MB after simulating)")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--lifetimes-venv", type=Path, default=Path("/tmp/riskops-bench-lifetimes"))
    parser.add_argument("--skip-lifetimes", action="store_true")
    args = parser.parse_args()
    if not args.skip_lifetimes:
        cdnow(args)
    million(args)


if __name__ == "__main__":
    main()
