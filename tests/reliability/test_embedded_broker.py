"""The embedded broker (``config/broker.py``): whole messages only, each consumed once, under ``var/``."""

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kombu import Connection

from config.broker import broker_folders

pytestmark = pytest.mark.reliability

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PRODUCERS = 4
MESSAGES_PER_PRODUCER = 400


def connection(folder: Path) -> Connection:
    return Connection(
        "embedded://localhost/",
        transport_options={"data_folder": str(folder), "polling_interval": 0.01},
    )


def produce(folder: str, producer: int) -> None:
    with connection(Path(folder)) as conn:
        queue = conn.SimpleQueue("stress")
        for n in range(MESSAGES_PER_PRODUCER):
            queue.put({"producer": producer, "n": n})
        queue.close()


def consume(folder: str, results: str, stop_after_idle: float) -> None:
    """Receive until the queue stays empty for ``stop_after_idle`` seconds; any error propagates."""
    seen = []
    with connection(Path(folder)) as conn:
        queue = conn.SimpleQueue("stress")
        while True:
            try:
                message = queue.get(timeout=stop_after_idle)
            except queue.Empty:
                break
            seen.append(f"{message.payload['producer']}:{message.payload['n']}")
            message.ack()
        queue.close()
    Path(results).write_text("\n".join(seen))


def test_messages_from_several_processes_arrive_whole_and_each_is_consumed_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    consumers = [
        ctx.Process(target=consume, args=(str(tmp_path / "broker"), str(tmp_path / f"seen-{i}"), 5.0))
        for i in range(2)
    ]
    producers = [ctx.Process(target=produce, args=(str(tmp_path / "broker"), p)) for p in range(PRODUCERS)]
    for process in [*consumers, *producers]:
        process.start()
    for process in [*producers, *consumers]:
        process.join(120)

    assert [c.exitcode for c in consumers] == [0, 0]  # a consumer reading a half-written file dies
    seen = [line for i in range(2) for line in (tmp_path / f"seen-{i}").read_text().split("\n") if line]
    assert len(seen) == PRODUCERS * MESSAGES_PER_PRODUCER
    assert len(set(seen)) == len(seen)


def test_an_unreadable_message_file_is_set_aside_and_the_next_message_delivered(tmp_path):
    folders = broker_folders(tmp_path)
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue("jobs")
        # What kombu's own transport leaves between creating a message file and filling it.
        (folders["queue"] / "0_empty.jobs.msg").write_bytes(b"")
        queue.put({"job": 1})

        message = queue.get(timeout=5)
        message.ack()
        assert message.payload == {"job": 1}
        queue.close()
    assert [p.name for p in folders["corrupt"].iterdir()] == ["0_empty.jobs.msg"]


def test_everything_the_broker_writes_stays_in_its_folder(tmp_path):
    workdir, broker = tmp_path / "cwd", tmp_path / "var" / "broker"
    workdir.mkdir()
    script = (
        "from tests.reliability.test_embedded_broker import connection\n"
        "from pathlib import Path\n"
        "import sys\n"
        "with connection(Path(sys.argv[1])) as conn:\n"
        "    q = conn.SimpleQueue('jobs'); q.put({'job': 1}); q.get(timeout=5).ack(); q.close()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(BASE_DIR)}
    subprocess.run([sys.executable, "-c", script, str(broker)], cwd=workdir, env=env, check=True)

    assert list(workdir.iterdir()) == []  # kombu's transport made control/ in the working directory
    assert {p.name for p in broker.iterdir()} == {"queue", "tmp", "claimed", "control", "corrupt"}


def test_importing_settings_creates_no_folder(tmp_path):
    var_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"VAR_DIR": str(var_dir), "SECRET_KEY": "x" * 50, "DJANGO_SETTINGS_MODULE": "config.settings"}
    subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=BASE_DIR, env=env, check=True)

    assert not var_dir.exists()
