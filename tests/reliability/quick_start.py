"""``bin/run`` as a user starts it: a fresh embedded deployment (SQLite, the file broker) of its own.

Nothing is shared with the test run's database, cache or queues: the services' variables are
removed from the environment and every file lives in a temporary ``VAR_DIR``.
"""

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent.parent
STARTUP_TIMEOUT_SECONDS = 600  # setup, migrations, bootstrap and three processes on a busy machine
PASSWORD = "quick-start-pw-1"
# The deployment's own settings come from VAR_DIR and defaults, never from the test run.
SERVICE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_QUEUE",
    "CACHE_KEY_PREFIX",
    "CELERY_TASK_ALWAYS_EAGER",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QuickStart:
    """A running ``bin/run``; ``interrupt()`` is a Ctrl-C in its terminal."""

    def __init__(self, var_dir: Path, extra_env: dict[str, str]) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = var_dir / "run.log"
        env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
        env |= {
            "VAR_DIR": str(var_dir),
            "WEB_PORT": str(self.port),
            "WEB_WORKERS": "1",
            "DJANGO_SUPERUSER_USERNAME": "admin",
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
        var_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        # A session of its own, like a terminal's foreground job: interrupt() signals the group.
        self.process = subprocess.Popen(
            ["bin/run"],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._token = ""
        self._token_at = 0.0

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"bin/run exited ({self.process.returncode}):\n{self.output()[-5000:]}")
            if " ready." in self.output() and self._ready():
                return
            time.sleep(1)
        raise AssertionError(
            f"bin/run not serving after {STARTUP_TIMEOUT_SECONDS}s:\n{self.output()[-5000:]}"
        )

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def token(self) -> str:
        if time.monotonic() - self._token_at > 300:  # access tokens live 15 minutes
            response = httpx.post(
                f"{self.base_url}/api/v1/auth/token/",
                json={"username": "admin", "password": PASSWORD},
                timeout=30,
            )
            response.raise_for_status()
            self._token, self._token_at = response.json()["access"], time.monotonic()
        return self._token

    def post_event(self, body: dict) -> int:
        response = httpx.post(
            f"{self.base_url}/api/v1/events",
            json=body,
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of the deployment's own SQLite database."""
        with sqlite3.connect(self.var_dir / "db.sqlite3", timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def interrupt(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.interrupt()
            try:
                self.process.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # honcho started each Procfile process in a session of its own: none may outlive the test.
        for pid in re.findall(r"started \(pid=(\d+)\)", self.output()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid), signal.SIGKILL)
        self._log.close()
