"""`make run` is README's first command: the demo runs end to end here, so a change that breaks it fails the tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_end_to_end_with_every_step_as_expected(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("COSIGN_PASSWORD", None)
    env.pop("SEALGATE_PASSWORD", None)
    done = subprocess.run(
        [sys.executable, "-m", "tools.demo"],
        cwd=tmp_path,  # the demo writes .demo/ into its working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = re.search(r"demo OK: (\d+) of (\d+) steps as expected", done.stdout)
    assert summary is not None, done.stdout[-3000:]
    assert summary.group(1) == summary.group(2)
    assert int(summary.group(2)) >= 10
    # the demo shows denials, not only allows
    assert "DENIED" in done.stdout
    assert (tmp_path / ".demo").is_dir()
