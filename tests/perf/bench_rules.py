"""Rules engine throughput: the three default rules plus 97 generated ones, ~50 records per participant.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python -m tests.perf.bench_rules [--n N]

(a) in-process: full evaluations (all 100 rules) per second against loaded contexts, warm (what
    the conditions derive from the records is memoised on the context, as for a context
    evaluated again) and fresh (derived anew in each evaluation); and the same rules and facts
    in json-rules-engine (Node) when ``node`` is on PATH (the package is installed into a
    temporary folder, never into the repository);
(b) end to end on Postgres + Redis: events ingested → one real Celery worker → flags written,
    in events per second; next to it, what one aggregate query per participant costs in Postgres;
(c) the rules subscriber alone, per event: SQL statements, Redis round trips and time, for the
    single handler and for the batch handler (a worker message's events at once).
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.perf.harness import Stopwatch, describe, percentile, scratch_database, setup_django

BASE_DIR = Path(__file__).resolve().parents[2]
RECORDS_PER_PARTICIPANT = 50
GENERATED_RULES = 97
JRE_DIR = Path(os.environ.get("JRE_DIR", "/tmp/jre"))  # where json-rules-engine gets installed

ENTITY_MAPPINGS = [
    ("kintell.session.*", "kintell_sessions"),
    ("buddy.match.*", "buddy_matches"),
    ("buddy.*", "buddy_events"),
    ("upskilling.*", "learning_progress"),
    ("q2q.*", "q2q_assessments"),
]


# ----------------------------------------------------------------------------------------------
# Data: rules and records, deterministic
# ----------------------------------------------------------------------------------------------
def record_data(rng: random.Random, entity: str) -> dict[str, Any]:
    if entity == "kintell_sessions":
        return {"session_type": rng.choice(["language", "mentoring"]), "rating": rng.randint(1, 5)}
    if entity == "learning_progress":
        return {"course": rng.choice(["cv", "finnish", "coding"]), "score": rng.randint(0, 100)}
    if entity == "program_enrollments":
        return {"status": rng.choice(["active", "paused", "done"])}
    if entity == "q2q_assessments":
        return {"language_comfort": round(rng.random(), 2)}
    return {"kind": rng.choice(["message", "meeting", "call"])}


ENTITY_WEIGHTS = {
    "kintell_sessions": 14,
    "buddy_events": 14,
    "buddy_matches": 6,
    "learning_progress": 12,
    "program_enrollments": 2,
    "q2q_assessments": 2,
}


def participant_records(rng: random.Random, now: datetime) -> list[tuple[str, datetime, dict]]:
    entities = [e for e, w in ENTITY_WEIGHTS.items() for _ in range(w)]
    return [
        (entity, now - timedelta(hours=rng.uniform(1, 60 * 24)), record_data(rng, entity))
        for entity in (rng.choice(entities) for _ in range(RECORDS_PER_PARTICIPANT))
    ]


def generated_rules(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    rules = []
    for i in range(n):
        kind = i % 6
        flag = f"gen_flag_{i:03d}"
        if kind == 0:
            conditions = [
                {
                    "type": "count",
                    "entity": "kintell_sessions",
                    "field": "session_type",
                    "value": rng.choice(["language", "mentoring"]),
                    "count": ">=",
                    "count_value": rng.randint(3, 12),
                }
            ]
        elif kind == 1:
            conditions = [
                {
                    "type": "value",
                    "entity": rng.choice(["kintell_sessions", "learning_progress"]),
                    "field": rng.choice(["avg_rating", "max_rating", "avg_score", "sum_score"]),
                    "operator": ">=",
                    "value": rng.choice([3, 3.5, 4, 50, 70, 300]),
                }
            ]
        elif kind == 2:
            conditions = [
                {
                    "type": "time_since",
                    "entity": rng.choice(list(ENTITY_WEIGHTS)),
                    "field": "last_activity",
                    "duration": f"{rng.randint(1, 20)} days",
                }
            ]
        elif kind == 3:
            conditions = [
                {
                    "type": "all_of",
                    "conditions": [
                        {
                            "type": "count",
                            "entity": "buddy_events",
                            "count": ">=",
                            "count_value": rng.randint(5, 15),
                        },
                        {
                            "type": "value",
                            "entity": "learning_progress",
                            "field": "avg_score",
                            "operator": ">",
                            "value": 40,
                        },
                    ],
                }
            ]
        elif kind == 4:
            conditions = [
                {
                    "type": "any_of",
                    "conditions": [
                        {
                            "type": "exists",
                            "entity": "program_enrollments",
                            "field": "status",
                            "value": "paused",
                        },
                        {
                            "type": "value",
                            "entity": "learning_progress",
                            "field": "max_score",
                            "operator": ">",
                            "value": 97,
                        },
                    ],
                }
            ]
        else:
            conditions = [
                {"type": "count", "entity": "buddy_matches", "count": ">=", "count_value": rng.randint(1, 6)},
                {"type": "not", "condition": {"type": "exists", "entity": "q2q_assessments"}},
            ]
        rules.append(
            {
                "rule_id": f"generated_{i:03d}",
                "name": f"Generated {i}",
                "flag": flag,
                "priority": rng.randint(0, 30),
                "conditions": conditions,
                "actions": [{"type": "set_flag", "flag": flag, "value": True}],
            }
        )
    return rules


def all_definitions() -> list[dict[str, Any]]:
    from rules.services.rules import DEFAULTS_DIR, rule_files_read

    defaults = [data for _, data in rule_files_read(DEFAULTS_DIR)]
    return defaults + generated_rules(GENERATED_RULES)


# ----------------------------------------------------------------------------------------------
# (a) in process
# ----------------------------------------------------------------------------------------------
def bench_in_process(participants: int, seconds: float) -> tuple[float, float, list, Any]:
    from rules.engine.evaluator import compile_rule, evaluate, ruleset_build
    from rules.engine.validation import rule_definition_validate
    from rules.engine.values import ParticipantContext, Record

    compiled = []
    for raw in all_definitions():
        definition, errors = rule_definition_validate(raw)
        assert not errors, errors
        compiled.append(compile_rule(definition))
    ruleset = ruleset_build(compiled, token="bench")
    rng = random.Random(1)
    now = datetime.now(UTC)
    raw_contexts = [participant_records(rng, now) for _ in range(participants)]
    contexts = []
    for index, records in enumerate(raw_contexts):
        entities: dict[str, list[Record]] = {}
        for entity, at, data in sorted(records, key=lambda r: r[1], reverse=True):
            entities.setdefault(entity, []).append(Record(at, data))
        contexts.append(ParticipantContext(index, f"p{index}", {}, [], entities))

    print(
        f"(a) {len(ruleset.rules)} rules compiled; "
        f"{participants} contexts of {RECORDS_PER_PARTICIPANT} records"
    )
    from rules.engine.evaluator import StoredFlag

    stored_flags = []
    for context in contexts:
        outcome = evaluate(ruleset, context, {}, now=now)
        stored_flags.append({c.flag: StoredFlag(c.value, c.set_by_rule, now) for c in outcome.changes})
    matched = sum(len(evaluate(ruleset, c, {}, now=now).matched) for c in contexts)
    print(f"    {matched / participants:.1f} rules hold per participant on average")

    def run(flags_of, *, fresh: bool = False) -> tuple[float, list[float]]:
        done = 0
        samples_us: list[float] = []
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            for context, flags in zip(contexts, flags_of, strict=True):
                t0 = time.perf_counter()
                if fresh:
                    context.facts = {}  # as a context just loaded: nothing derived yet
                evaluate(ruleset, context, flags, now=now)
                samples_us.append((time.perf_counter() - t0) * 1_000_000)
            done += len(contexts)
        return done / (time.perf_counter() - started), samples_us

    def show(samples_us: list[float]) -> str:
        return (
            f"p50 {percentile(samples_us, 50):.0f} µs, p99 {percentile(samples_us, 99):.0f} µs, "
            f"mean {sum(samples_us) / len(samples_us):.0f} µs"
        )

    rate, samples_us = run(stored_flags)
    print(
        f"(a) in-process, warm context, flags already set (steady state): {rate:,.0f} evaluations/s "
        f"of 100 rules"
    )
    print(f"    per evaluation: {show(samples_us)}")
    fresh, samples_us = run(stored_flags, fresh=True)
    print(
        f"(a) in-process, fresh context (counts and aggregates derived in the evaluation), steady "
        f"state: {fresh:,.0f} evaluations/s"
    )
    print(f"    per evaluation: {show(samples_us)}")
    cold, samples_us = run([{}] * len(contexts), fresh=True)
    print(
        f"(a) in-process, fresh context, every flag new (first evaluation, ~46 changes each): "
        f"{cold:,.0f} evaluations/s"
    )
    print(f"    per evaluation: {show(samples_us)}")
    return rate, fresh, raw_contexts, now


# ----------------------------------------------------------------------------------------------
# (a) json-rules-engine
# ----------------------------------------------------------------------------------------------
JRE_OPERATORS = {
    "=": "equal",
    "!=": "notEqual",
    ">": "greaterThan",
    ">=": "greaterThanInclusive",
    "<": "lessThan",
    "<=": "lessThanInclusive",
    "in": "in",
    "contains": "contains",
}
SECONDS = {"hour": 3600, "day": 86_400, "week": 604_800, "month": 2_592_000}


def jre_condition(spec: dict[str, Any]) -> dict[str, Any]:
    """The same condition for json-rules-engine, reading facts computed from the same records."""
    kind = spec["type"]
    if kind in ("all_of", "any_of"):
        return {"all" if kind == "all_of" else "any": [jre_condition(c) for c in spec["conditions"]]}
    if kind == "not":
        return {"not": jre_condition(spec["condition"])}
    if kind in ("count", "exists"):
        params = {"entity": spec["entity"], "field": spec.get("field"), "value": spec.get("value")}
        if kind == "exists":
            return {"fact": "count", "params": params, "operator": "greaterThan", "value": 0}
        return {
            "fact": "count",
            "params": params,
            "operator": JRE_OPERATORS[spec["count"]],
            "value": spec["count_value"],
        }
    if kind == "value":
        return {
            "fact": "value",
            "params": {"entity": spec["entity"], "field": spec["field"]},
            "operator": JRE_OPERATORS[spec["operator"]],
            "value": spec["value"],
        }
    if kind == "time_since":
        amount, unit = spec["duration"].split()
        seconds = float(amount) * SECONDS[unit.rstrip("s")]
        return {
            "fact": "elapsed",
            "params": {"entity": spec["entity"]},
            "operator": JRE_OPERATORS[spec.get("operator", ">=")],
            "value": seconds,
        }
    raise ValueError(kind)


JRE_SCRIPT = r"""
const { Engine } = require('json-rules-engine');
const input = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const seconds = Number(process.argv[3]);
const engine = new Engine([], { allowUndefinedFacts: true });
for (const rule of input.rules) engine.addRule(rule);
const now = input.now;
const records = (almanac, entity) => almanac.factValue('entities').then(e => e[entity] || []);
engine.addFact('count', async (params, almanac) => {
  const rows = await records(almanac, params.entity);
  if (params.field == null) return rows.length;
  if (params.value == null) return rows.filter(r => r.data[params.field] != null).length;
  return rows.filter(r => r.data[params.field] === params.value).length;
});
engine.addFact('value', async (params, almanac) => {
  const rows = await records(almanac, params.entity);
  const m = /^(avg|sum|min|max)_(.+)$/.exec(params.field);
  if (!m) return rows.length ? rows[0].data[params.field] : undefined;
  const nums = rows.map(r => r.data[m[2]]).filter(v => typeof v === 'number');
  if (m[1] === 'sum') return nums.reduce((a, b) => a + b, 0);
  if (!nums.length) return undefined;
  if (m[1] === 'avg') return nums.reduce((a, b) => a + b, 0) / nums.length;
  return m[1] === 'min' ? Math.min(...nums) : Math.max(...nums);
});
engine.addFact('elapsed', async (params, almanac) => {
  const rows = await records(almanac, params.entity);
  return rows.length ? now - rows[0].at : Infinity;
});
(async () => {
  let matched = 0;
  for (const p of input.participants) matched += (await engine.run({ entities: p })).results.length;
  let done = 0;
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    for (const p of input.participants) { await engine.run({ entities: p }); done++; }
  }
  const rate = done / ((Date.now() - started) / 1000);
  console.log(JSON.stringify({ rate, matched_per_participant: matched / input.participants.length }));
})();
"""


def bench_json_rules_engine(raw_contexts: list, now: datetime, seconds: float) -> float | None:
    node = shutil.which("node")
    if node is None:
        print("(a) json-rules-engine: skipped (node is not on PATH)")
        return None
    if not (JRE_DIR / "node_modules" / "json-rules-engine").exists():
        print(f"(a) installing json-rules-engine into {JRE_DIR} (outside the repository)…", flush=True)
        JRE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(JRE_DIR),
                "json-rules-engine",
            ],
            check=True,
        )
    from rules.engine.validation import rule_definition_validate

    rules = []
    for raw in all_definitions():
        definition, _ = rule_definition_validate(raw)
        rules.append(
            {
                "name": definition["rule_id"],
                "priority": max(definition["priority"], 1),  # json-rules-engine wants >= 1
                "conditions": {"all": [jre_condition(c) for c in definition["conditions"]]},
                "event": {"type": definition["rule_id"]},
            }
        )
    participants = []
    for records in raw_contexts:
        entities: dict[str, list] = {}
        for entity, at, data in sorted(records, key=lambda r: r[1], reverse=True):
            entities.setdefault(entity, []).append({"at": at.timestamp(), "data": data})
        participants.append(entities)
    with tempfile.TemporaryDirectory() as folder:
        data_file = Path(folder) / "input.json"
        data_file.write_text(
            json.dumps({"rules": rules, "participants": participants, "now": now.timestamp()})
        )
        script = JRE_DIR / "bench_rules.js"
        script.write_text(JRE_SCRIPT)
        out = subprocess.run(
            [node, str(script), str(data_file), str(seconds)],
            check=True,
            capture_output=True,
            text=True,
            cwd=JRE_DIR,
        )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    version = json.loads((JRE_DIR / "node_modules" / "json-rules-engine" / "package.json").read_text())[
        "version"
    ]
    node_version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    print(
        f"(a) json-rules-engine {version} (node {node_version}): {result['rate']:,.0f} evaluations/s "
        f"({result['matched_per_participant']:.1f} rules hold per participant)"
    )
    return result["rate"]


# ----------------------------------------------------------------------------------------------
# (b) end to end
# ----------------------------------------------------------------------------------------------
def load_rules_and_participants(participants: int, *, rng: random.Random, prefix: str, label: str) -> list:
    """Mappings, the 100 rules, and participants ``<prefix>-<i>`` with their records."""
    from journeys.models import EntityMapping, EntityRecord, Participant
    from rules.services.rules import rules_load

    for pattern, entity in [*ENTITY_MAPPINGS, ("program.enrollment.*", "program_enrollments")]:
        EntityMapping.objects.get_or_create(
            event_type=pattern,
            entity=entity,
            defaults={"key_field": "enrollment_id" if entity == "program_enrollments" else ""},
        )
    report = rules_load(definitions=[(d.get("rule_id", "rule"), d) for d in all_definitions()])
    print(f"{label} rules: {report.summary()}")
    now = datetime.now(UTC)
    people = Participant.objects.bulk_create(
        [Participant(user_id=f"{prefix}-{i}") for i in range(participants)]
    )
    EntityRecord.objects.bulk_create(
        [
            EntityRecord(participant=p, entity=entity, data=data, occurred_at=at)
            for p in people
            for entity, at, data in participant_records(rng, now)
        ],
        batch_size=5000,
    )
    print(f"{label} {participants} participants with {RECORDS_PER_PARTICIPANT} records each")
    return people


def bench_end_to_end(participants: int, events: int) -> None:
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        print("(b) end to end: skipped (needs DATABASE_URL=postgres://… and REDIS_URL)")
        return
    from config.celery import app as celery_app
    from journeys.models import Event, Participant
    from journeys.services.events import EventInput, events_ingest
    from rules.models import FlagHistory

    rng = random.Random(2)
    load_rules_and_participants(participants, rng=rng, prefix="bench", label="(b)")

    # One queue for what the benchmark sends and what the worker itself emits (rule events).
    queue = celery_app.conf.task_default_queue
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)
    database_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    log = Path(tempfile.mkstemp(suffix=".log", prefix="bench-rules-worker-")[1])
    log_file = log.open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--queues",
            queue,
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_URL": database_url, "CELERY_TASK_ALWAYS_EAGER": "false"},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        time.sleep(4)  # the worker connects; a message sent earlier would wait anyway
        kinds = [
            ("kintell.session.completed", lambda: record_data(rng, "kintell_sessions")),
            ("buddy.message.sent", lambda: record_data(rng, "buddy_events")),
            ("upskilling.course.progressed", lambda: record_data(rng, "learning_progress")),
            ("buddy.match.created", lambda: {}),
        ]
        batch = [
            EventInput(type=t, user_id=f"bench-{rng.randrange(participants)}", payload=make(), source="bench")
            for t, make in (rng.choice(kinds) for _ in range(events))
        ]
        flags_before = FlagHistory.objects.count()
        print(f"(b) ingesting {events} events in batches of 500 and waiting for the worker…", flush=True)
        with Stopwatch() as ingest_clock:
            for start in range(0, len(batch), 500):
                events_ingest(events=batch[start : start + 500])
        with Stopwatch() as total:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                pending = Event.objects.filter(source="bench").exclude(status=Event.Status.PROCESSED).count()
                if pending == 0:
                    break
                time.sleep(0.2)
            else:
                print("    the worker did not finish within 10 minutes; see", log)
        while Event.objects.exclude(status=Event.Status.PROCESSED).exists() and time.monotonic() < deadline:
            time.sleep(0.2)  # the events evaluation emitted, for a complete picture
        elapsed = ingest_clock.seconds + total.seconds
        emitted = Event.objects.filter(source="rules").count()
        print(
            f"(b) first pass (every participant's flags set for the first time): {events} events in "
            f"{elapsed:.1f} s = {events / elapsed:,.0f} events/s with one worker (ingest alone "
            f"{events / ingest_clock.seconds:,.0f} events/s); "
            f"{FlagHistory.objects.count() - flags_before} flag changes, "
            f"{emitted} events emitted by rules (processed by the same worker)"
        )
        # Steady state: the same participants, new events; flags mostly settled already.
        history_before, emitted_before = FlagHistory.objects.count(), emitted
        second = [
            EventInput(
                type=t, user_id=f"bench-{rng.randrange(participants)}", payload=make(), source="bench2"
            )
            for t, make in (rng.choice(kinds) for _ in range(events))
        ]
        with Stopwatch() as clock:
            for start in range(0, len(second), 500):
                events_ingest(events=second[start : start + 500])
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                if not Event.objects.exclude(status=Event.Status.PROCESSED).exists():
                    break
                time.sleep(0.1)
        print(
            f"(b) steady state: {events} events in {clock.seconds:.1f} s = "
            f"{events / clock.seconds:,.0f} events/s ingest → flags written, one worker; "
            f"{FlagHistory.objects.count() - history_before} flag changes, "
            f"{Event.objects.filter(source='rules').count() - emitted_before} events emitted"
        )
        failed = Event.objects.filter(status=Event.Status.FAILED).count()
        if failed:
            print(f"    {failed} events FAILED; see {log}")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(20)
        log_file.close()

    # The floor: one aggregate query per participant over its records.
    ids = list(Participant.objects.filter(user_id__startswith="bench-").values_list("pk", flat=True)[:500])
    sql = (
        "SELECT entity, count(*), avg((data->>'rating')::float), max(occurred_at) "
        "FROM journeys_entityrecord WHERE participant_id = %s GROUP BY entity"
    )
    samples = []
    with connection.cursor() as cursor:
        for pk in ids:
            t0 = time.perf_counter()
            cursor.execute(sql, [pk])
            cursor.fetchall()
            samples.append((time.perf_counter() - t0) * 1000)
    per_second = 1000 / (sum(samples) / len(samples))
    print(f"(b) one aggregate query per participant: {describe(samples)} = {per_second:,.0f}/s")


# ----------------------------------------------------------------------------------------------
# (c) what the rules subscriber costs per event
# ----------------------------------------------------------------------------------------------
@contextmanager
def redis_round_trips() -> Iterator[list[int]]:
    """Counts round trips to Redis (a pipeline is one) while the block runs: ``counter[0]``."""
    from redis.connection import AbstractConnection

    counter = [0]
    send = AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        counter[0] += 1
        return send(self, command, check_health)

    AbstractConnection.send_packed_command = counting
    try:
        yield counter
    finally:
        AbstractConnection.send_packed_command = send


def bench_statements(participants: int) -> None:
    """SQL statements, Redis round trips and time of the rules subscriber alone, per event:
    the single handler event by event, and the batch handler on worker-message-sized batches.
    Events are stored but not dispatched (no worker): each handler is called directly, in a
    transaction as the bus does."""
    from django.conf import settings
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from journeys import bus
    from journeys.models import Event
    from journeys.services.events import EventInput, events_ingest
    from rules.services import evaluation

    rng = random.Random(3)
    people = load_rules_and_participants(participants, rng=rng, prefix="stmt", label="(c)")
    if not settings.REDIS_URL:
        print("(c) (no REDIS_URL: the cache is local, Redis round trips are not counted)")
    on_events = getattr(evaluation, "on_events", None)
    half = len(people) // 2
    dispatch = bus.dispatch_on_commit
    bus.dispatch_on_commit = lambda ids: None  # no worker here: the handlers are called directly
    try:
        for round_name in ("first evaluation (flags new)", "steady state (flags settled)"):
            results = events_ingest(
                events=[
                    EventInput(
                        type="kintell.session.completed",
                        user_id=p.user_id,
                        payload=record_data(rng, "kintell_sessions"),
                        source="stmt",
                    )
                    for p in people
                ]
            )
            events = list(Event.objects.filter(pk__in=[r.id for r in results]).order_by("pk"))
            single, batched = events[:half], events[half:]
            paths = [("single", [[e] for e in single], evaluation.on_event)]
            if on_events is not None:
                chunk = bus.EVENT_DISPATCH_CHUNK
                paths.append(
                    ("batch", [batched[i : i + chunk] for i in range(0, len(batched), chunk)], on_events)
                )
            for path, calls, handler in paths:
                statements = round_trips = 0
                with Stopwatch() as clock:
                    for call in calls:
                        with (
                            CaptureQueriesContext(connection) as queries,
                            redis_round_trips() as trips,
                            transaction.atomic(),
                        ):
                            handler(call[0] if path == "single" else call)
                        statements += len(queries.captured_queries)
                        round_trips += trips[0]
                n = sum(len(call) for call in calls)
                print(
                    f"(c) {round_name}, {path} handler ({n} events, {len(calls)} calls): "
                    f"{statements / n:.2f} SQL statements, {round_trips / n:.2f} Redis round trips, "
                    f"{clock.seconds / n * 1000:.2f} ms per event"
                )
    finally:
        bus.dispatch_on_commit = dispatch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="events for (b); (a) uses n/10 contexts")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each in-process run")
    parser.add_argument("--parts", default="abc", help="which parts to run: any of a, b, c (default abc)")
    args = parser.parse_args()
    # A terminated benchmark still stops its worker and drops its scratch database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    setup_django()
    participants = max(args.n // 10, 50)
    if "a" in args.parts:
        rate, fresh, raw_contexts, now = bench_in_process(participants, args.seconds)
        jre = bench_json_rules_engine(raw_contexts, now, args.seconds)
        if jre:
            print(
                f"(a) compiled evaluator vs json-rules-engine: {rate / jre:.1f} times (warm context), "
                f"{fresh / jre:.1f} times (fresh context; json-rules-engine computes its facts on "
                f"every run too)"
            )
    if "c" in args.parts:
        with scratch_database():
            bench_statements(participants=2 * participants)
    if "b" in args.parts:
        with scratch_database():
            bench_end_to_end(participants=participants, events=args.n)


if __name__ == "__main__":
    main()
