#!/usr/bin/env python3
"""Set-up and the two everyday commands, on any machine with Python 3.11+.

    python3 run.py demo    # the main job on the embedded default (SQLite + in-process state)
    python3 run.py test    # lint, types, layer contracts and the whole test suite

The first run creates .venv and installs riskops with its extras into it; later runs reuse it
(re-installing when pyproject.toml changes). Nothing else is needed: no server for the demo.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".riskops-install"


def sh(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"riskops needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and (BIN / "riskops").exists():
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    sh(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    sh(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(wanted)


def demo(extra: list[str]) -> None:
    """`riskops demo`: server, key, starter rules, simulated history, then live traffic with
    attacks through the decision API, watched in the terminal (Ctrl-C stops)."""
    sh(BIN / "riskops", "demo", *extra)


def test(extra: list[str]) -> None:
    sh(BIN / "ruff", "check", "src", "tests", "benchmarks", "run.py")
    sh(BIN / "ruff", "format", "--check", "src", "tests", "benchmarks", "run.py")
    sh(BIN / "mypy")
    sh(BIN / "lint-imports")
    sh(BIN / "python", "-m", "pytest", *extra)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test", "setup"):
        sys.exit(__doc__)
    ensure_venv()
    command, extra = sys.argv[1], sys.argv[2:]
    if command == "demo":
        demo(extra)
    elif command == "test":
        test(extra)


if __name__ == "__main__":
    main()
