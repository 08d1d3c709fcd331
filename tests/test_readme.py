"""The README's own code: every Python block of its Usage section runs as written.

A new user copies these blocks first; each runs here in a fresh folder, in a
fresh interpreter, exactly as printed.  The beating-ventricle block also runs
a second time in the same folder: its checkpoint is complete, so the run
resumes at its end and its finished results file keeps every step.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _usage_blocks() -> list[str]:
    text = README.read_text()
    start = text.index("\n## Usage\n")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


def _run(code: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"README block failed:\n{code}\n--- stderr ---\n{done.stderr[-4000:]}"
    return done.stdout


def test_usage_has_the_quasi_static_and_the_dynamic_block():
    blocks = _usage_blocks()
    assert len(blocks) == 2
    assert "ramp(" in blocks[0] and "simulate(" in blocks[1]


@pytest.mark.slow
def test_quasi_static_block_runs(tmp_path):
    out = _run(_usage_blocks()[0], tmp_path)
    # The inflated cavity [mm^3]: larger than the reference cavity of the
    # Land et al. (2015) ellipsoid truncated at z = 5 mm (about 2.46 mL).
    assert float(out.strip().splitlines()[-1]) > 2460.0
    assert (tmp_path / "lv.vtkhdf").is_file()


@pytest.mark.slow
def test_dynamic_block_runs_and_resumes(tmp_path):
    from organfem.io import read_results

    block = _usage_blocks()[1]
    _run(block, tmp_path)
    first = read_results(tmp_path / "beat.vtkhdf")
    assert len(first.times) == 4  # 0.02 s in steps of 0.005 s
    _run(block, tmp_path)  # the checkpoint is complete: nothing to do, nothing lost
    again = read_results(tmp_path / "beat.vtkhdf")
    assert list(again.times) == list(first.times)
