"""The maintenance commands as compose runs them: ``--every SECONDS`` until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
REPORT = "erase: erased the citizens' data of 0 bookings"


def test_a_job_runs_again_and_again_and_ends_at_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "BOOKING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"}
    subprocess.run([str(BIN / "rathaus-booking"), "migrate"], env=env, check=True)
    with subprocess.Popen(
        [str(BIN / "rathaus-booking"), "erase", "--every", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as job:
        assert job.stdout is not None
        assert job.stderr is not None
        try:
            reports = [job.stdout.readline() for _ in range(3)]
            job.send_signal(signal.SIGTERM)
            started = time.monotonic()
            returncode = job.wait(timeout=30)
        finally:
            job.kill()
        errors = job.stderr.read()

    assert all(report.rstrip().endswith(REPORT) for report in reports), reports
    assert returncode == 0, errors
    # SIGTERM ends the wait between runs, not after it.
    assert time.monotonic() - started < 10


def test_every_must_be_a_positive_number_of_seconds(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "rathaus-booking"), "erase", "--every", "0"],
        capture_output=True,
        text=True,
        env={**os.environ, "BOOKING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"},
        check=False,
    )

    assert result.returncode == 2
    assert "--every: must be more than 0 seconds" in result.stderr
