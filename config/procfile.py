"""``bin/run``'s process manager: honcho, with time for the worker to finish its tasks on Ctrl-C.

On Ctrl-C honcho sends SIGTERM to every process of the Procfile and SIGKILLs what still runs five
seconds later, a constant it offers no option for. A Celery worker's warm shutdown waits for the
tasks it is running, and a journey step can take longer than that (a webhook has a 10 s timeout,
a dispatch batch holds 500 runs), so the worker would be killed mid-task. Here the wait is
``SHUTDOWN_GRACE_SECONDS`` (default 60). The worker's pool processes are kept out of the signal by
``config.celery`` (they leave the process group honcho signals); their master stops them once
their tasks are done.

    python -m config.procfile start -f Procfile      # any honcho command line
"""

import os
import sys

import honcho.command
import honcho.manager

DEFAULT_GRACE_SECONDS = 60


def grace_seconds() -> int:
    """``SHUTDOWN_GRACE_SECONDS`` from the environment: a whole number of seconds, at least 1."""
    raw = os.environ.get("SHUTDOWN_GRACE_SECONDS", str(DEFAULT_GRACE_SECONDS))
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise SystemExit(f"SHUTDOWN_GRACE_SECONDS must be a whole number of seconds >= 1, not {raw!r}")
    return seconds


def main(argv: list[str]) -> None:
    # honcho reads the module constant each time it checks the clock during shutdown.
    honcho.manager.KILL_WAIT = grace_seconds()
    honcho.command.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
