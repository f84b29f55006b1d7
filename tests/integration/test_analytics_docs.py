"""The Python example of docs/analytics.md is docs/examples/analytics.py, and it runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_example_is_the_one_that_runs() -> None:
    doc = (ROOT / "docs" / "analytics.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", doc, re.S)
    assert block is not None
    example = (ROOT / "docs" / "examples" / "analytics.py").read_text(encoding="utf-8")
    lines = {line.strip() for line in example.splitlines()}
    for line in block.group(1).splitlines():
        assert line.strip() in lines, line


def test_the_example_runs_and_prints_segments_and_a_fit() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "examples" / "analytics.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Champions" in done.stdout
    assert "'alpha':" in done.stdout  # the BG/NBD parameters
