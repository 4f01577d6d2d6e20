"""Faults users meet every week: lost workers, damaged inputs, leaked secrets (issue: reliability)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from dataprep.engine.executor import RayExecutor


def test_a_worker_killed_mid_task_is_retried_and_the_map_finishes(tmp_path, ray_session):
    def slow_square(args: tuple[int, str]) -> int:
        """Records its worker's pid, then works long enough to be killed mid-task (defined here:
        pickled by value, since workers cannot import test modules)."""
        x, marks = args
        Path(marks, f"{x}-{os.getpid()}-{time.monotonic_ns()}").touch()
        time.sleep(1.5)
        return x * x

    marks = tmp_path / "marks"
    marks.mkdir()
    executor = RayExecutor(2)

    def kill_first_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = sorted(marks.iterdir())
            if started:
                os.kill(int(started[0].name.split("-")[1]), signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    results = executor.map(slow_square, [(x, str(marks)) for x in range(4)])
    killer.join()
    assert results == [0, 1, 4, 9]
    assert executor.retries == 1
    assert len(list(marks.iterdir())) == 5  # four tasks, one of them twice
