"""``bin/run``'s process manager (``config/procfile.py``) refuses a grace period it cannot honour."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability

BASE_DIR = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize("grace", ["soon", "0", "-5"])
def test_a_shutdown_grace_that_is_not_a_positive_number_of_seconds_starts_nothing(grace, tmp_path):
    procfile = tmp_path / "Procfile"
    marker = tmp_path / "started"
    procfile.write_text(f"touch: touch {marker}\n")

    result = subprocess.run(
        [sys.executable, "-m", "config.procfile", "--no-colour", "-f", str(procfile), "start"],
        cwd=BASE_DIR,
        env={**os.environ, "SHUTDOWN_GRACE_SECONDS": grace},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "SHUTDOWN_GRACE_SECONDS must be a whole number of seconds >= 1" in result.stderr
    assert not marker.exists()
