"""The quick start's embedded default (``bin/run``: SQLite, the file broker) under real load.

A fresh ``bin/run`` of its own runs web, worker and beat for ``SOAK_SECONDS`` (ten minutes) while
events trickle in through the API; then a Ctrl-C arrives while the worker runs a slow task. Skip
these with ``-m "not soak"`` when iterating locally.
"""

import json
import os
import subprocess
import time

import pytest

from tests.helpers import wait_for
from tests.reliability.quick_start import QuickStart

pytestmark = [pytest.mark.reliability, pytest.mark.soak]

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
TRICKLE_SECONDS = 2.0  # one event through the API every two seconds
# Longer than honcho's own kill timeout (5 s): the worker must be let finish, not killed.
SLOW_SUBSCRIBER_SECONDS = 15
# Event types of the trickle: the demo journey (an email, a 30-second wait run by beat's
# dispatcher, a tag, an email), a default entity mapping with rules, and a type nothing handles.
TRICKLE_TYPES = ("demo.signup", "kintell.session.completed", "soak.ping")


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory) -> QuickStart:
    notes = tmp_path_factory.mktemp("slow-subscriber")
    run = QuickStart(
        tmp_path_factory.mktemp("quick-start") / "var",
        extra_env={
            "EVENT_SUBSCRIBERS": "reliability.slow=tests.reliability.subscribers.note_then_record_slowly",
            "SLOW_SUBSCRIBER_NOTES": str(notes),
            "SLOW_SUBSCRIBER_SECONDS": str(SLOW_SUBSCRIBER_SECONDS),
        },
    )
    run.notes = notes
    try:
        run.wait_until_serving()
        yield run
    finally:
        run.stop()


def test_the_quick_start_runs_ten_minutes_of_beat_and_events_without_a_worker_exit(quick_start):
    ids = []
    started = time.monotonic()
    while time.monotonic() - started < SOAK_SECONDS:
        assert quick_start.process.poll() is None, f"bin/run stopped:\n{quick_start.output()[-5000:]}"
        n = len(ids)
        body = {"type": TRICKLE_TYPES[n % len(TRICKLE_TYPES)], "user_id": f"soak-{n % 40}"}
        if body["type"] == "kintell.session.completed":
            body["payload"] = {"session_type": "language", "rating": n % 5 + 1}
        ids.append(quick_start.post_event(body))
        time.sleep(TRICKLE_SECONDS)

    def processed() -> int:
        marks = ",".join("?" * len(ids))
        sql = f"SELECT COUNT(*) FROM journeys_event WHERE status = 'processed' AND id IN ({marks})"
        return quick_start.query(sql, tuple(ids))[0][0]

    wait_for(lambda: processed() == len(ids), timeout=120, message=f"{processed()} of {len(ids)} processed")
    output = quick_start.output()
    assert "Unrecoverable error" not in output
    assert "stopped (rc=" not in output  # honcho's line for any process that exits
    assert quick_start.process.poll() is None
    # Beat kept ticking to the end: no step run of the demo journey is left overdue.
    overdue = quick_start.query(
        "SELECT COUNT(*) FROM journeys_steprun WHERE status IN ('pending', 'scheduled')"
        " AND due_at < datetime('now', '-120 seconds')"
    )
    assert overdue == [(0,)]


def test_ctrl_c_lets_the_worker_finish_the_task_it_is_running(quick_start):
    event_id = quick_start.post_event({"type": "reliability.slow", "user_id": "ctrl-c"})
    wait_for(lambda: (quick_start.notes / f"started-{event_id}").exists(), timeout=120)

    quick_start.interrupt()
    try:
        quick_start.process.wait(SLOW_SUBSCRIBER_SECONDS + 60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"bin/run still running a minute after Ctrl-C:\n{quick_start.output()[-5000:]}")

    [(attributes,)] = quick_start.query(
        "SELECT attributes FROM journeys_participant WHERE user_id = 'ctrl-c'"
    )
    assert json.loads(attributes).get("handled_events") == [event_id]
    assert quick_start.query("SELECT status FROM journeys_event WHERE id = ?", (event_id,)) == [
        ("processed",)
    ]
    assert "SIGKILL" not in quick_start.output()
