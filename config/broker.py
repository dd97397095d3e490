"""The embedded broker: kombu's filesystem transport, made safe for several processes at once.

kombu's filesystem transport creates a message file empty and only then locks and fills it; a
consumer listing the folder in between reads an empty file and the worker dies on the JSON error
("Unrecoverable error: JSONDecodeError", kombu issue 1551). Beat publishing every second makes that
a matter of minutes. Here no reader can ever see a file being written:

1. A message is written under a temporary name in ``tmp/`` and renamed into ``queue/``. A rename
   within one filesystem is atomic: a reader sees no file or the whole file.
2. A consumer claims a message by renaming it into ``claimed/``; of two consumers only one rename
   succeeds, the other moves on to the next file. The winner reads the file there and deletes it.
3. Exchange tables in ``control/`` (fanout bindings) are rewritten the same way, under a lock file
   so that two processes binding at once do not drop each other's queue.
4. A file that still cannot be decoded (written by kombu's own transport before an upgrade, or
   truncated by a full disk) is moved to ``corrupt/`` and logged, never raised into the worker.

Everything lives under one folder (``data_folder``, ``var/broker`` in the embedded default),
created when a channel opens, not when settings are imported. Correctness does not rest on the
broker: a message lost with a killed worker is re-dispatched by the database sweepers.
"""

import fcntl
import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

FOLDERS = ("queue", "tmp", "claimed", "control", "corrupt")


def broker_folders(root: Path) -> dict[str, Path]:
    """The transport's folders under ``root``, keyed by role (see the module docstring)."""
    return {name: root / name for name in FOLDERS}


class Channel(filesystem.Channel):
    """A filesystem channel whose files appear whole or not at all."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for folder in self.folders.values():
            folder.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ folders
    @property
    def folders(self) -> dict[str, Path]:
        root = self.transport_options.get("data_folder")
        if not root:
            raise ValueError("the embedded broker needs the transport option 'data_folder'")
        return broker_folders(Path(root))

    @property
    def data_folder_in(self) -> str:
        return str(self.folders["queue"])

    @property
    def data_folder_out(self) -> str:
        return str(self.folders["queue"])

    @property
    def control_folder(self) -> Path:
        return self.folders["control"]

    # ------------------------------------------------------------------ files
    def _write_whole(self, target: Path, data: bytes) -> None:
        """Write ``data`` to ``target`` so that no reader ever sees part of it."""
        staging = self.folders["tmp"] / f"{uuid.uuid4().hex}.part"
        with staging.open("wb") as f:
            f.write(data)
        staging.replace(target)

    def _quarantine(self, path: Path, error: Exception) -> None:
        logger.error("embedded broker: unreadable file %s moved to corrupt/ (%s)", path.name, error)
        try:
            path.replace(self.folders["corrupt"] / path.name)
        except OSError:
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ messages
    def _put(self, queue: str, payload: dict, **kwargs) -> None:
        # Nanoseconds of wall-clock time keep the order across restarts (monotonic time resets).
        name = f"{time.time_ns()}_{uuid.uuid4().hex}.{queue}.msg"
        self._write_whole(self.folders["queue"] / name, str_to_bytes(dumps(payload)))

    def _get(self, queue: str) -> dict:
        suffix = f"{queue}.msg"
        queue_folder, claimed = self.folders["queue"], self.folders["claimed"]
        for name in sorted(path.name for path in queue_folder.iterdir()):
            if name.partition(".")[2] != suffix:
                continue
            mine = claimed / name
            try:
                (queue_folder / name).rename(mine)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                payload = loads(bytes_to_str(mine.read_bytes()))
            except (ValueError, UnicodeDecodeError) as error:
                self._quarantine(mine, error)
                continue
            mine.unlink(missing_ok=True)
            return payload
        raise Empty()

    # ------------------------------------------------------------------ exchange tables
    @contextmanager
    def _table_lock(self, exchange: str) -> Iterator[None]:
        lock_path = self.control_folder / f"{exchange}.lock"
        with lock_path.open("a") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _read_table(self, exchange: str) -> list[filesystem.exchange_queue_t]:
        path = self._exchange_file(exchange)
        try:
            rows = json.loads(path.read_text())
        except FileNotFoundError:
            return []
        except ValueError as error:
            self._quarantine(path, error)
            return []
        return [filesystem.exchange_queue_t(*row) for row in rows]

    def get_table(self, exchange: str) -> list[filesystem.exchange_queue_t]:
        return self._read_table(exchange)

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock(exchange):
            rows = self._read_table(exchange)
            if row not in rows:
                rows.insert(0, row)
                self._write_whole(self._exchange_file(exchange), str_to_bytes(dumps(rows)))

    def _delete(self, queue: str, exchange: str, routing_key: str, pattern: str, *args, **kwargs) -> None:
        # The grandparent's bookkeeping (in-memory state), then our own table rewrite.
        super(filesystem.Channel, self)._delete(queue, exchange, routing_key, pattern, *args, **kwargs)
        row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        with self._table_lock(exchange):
            rows = self._read_table(exchange)
            if row in rows:
                rows.remove(row)
                self._write_whole(self._exchange_file(exchange), str_to_bytes(dumps(rows)))


class Transport(filesystem.Transport):
    """kombu's filesystem transport with :class:`Channel`."""

    Channel = Channel
    driver_name = "embedded-filesystem"


# The broker URL alone names the transport (``embedded://localhost/``), as ``redis://`` does, so
# code that swaps the URL (a readiness test, a benchmark) swaps the transport with it.
TRANSPORT_ALIASES.setdefault("embedded", "config.broker:Transport")
