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

from tests.perf.harness import (
    Stopwatch,
    describe,
    isolate,
    percentile,
    print_load,
    scratch_database,
    setup_django,
    write_result,
)

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


def participant_records(
    rng: random.Random, now: datetime, records: int = RECORDS_PER_PARTICIPANT
) -> list[tuple[str, datetime, dict]]:
    entities = [e for e, w in ENTITY_WEIGHTS.items() for _ in range(w)]
    return [
        (entity, now - timedelta(hours=rng.uniform(1, 60 * 24)), record_data(rng, entity))
        for entity in (rng.choice(entities) for _ in range(records))
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
    from rules.engine.evaluator import evaluate
    from rules.engine.ruleset import compile_rule, ruleset_build
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
        stored_flags.append({c.flag: StoredFlag(c.value, c.set_by_rule) for c in outcome.changes})
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
def load_rules_and_participants(
    participants: int, *, rng: random.Random, prefix: str, label: str, records: int = RECORDS_PER_PARTICIPANT
) -> list:
    """Mappings, the 100 rules, and participants ``<prefix>-<i>`` with ``records`` records each."""
    from django.db import connection

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
    for start in range(0, len(people), 50):
        EntityRecord.objects.bulk_create(
            [
                EntityRecord(participant=p, entity=entity, data=data, occurred_at=at)
                for p in people[start : start + 50]
                for entity, at, data in participant_records(rng, now, records)
            ],
            batch_size=5000,
        )
    # A deployment's history accumulated over months, and autovacuum has long since analysed it;
    # tables filled a moment ago would be planned as if empty (a participant's 500 records
    # scanned where an index finds the few an event wrote).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f'ANALYZE "{Participant._meta.db_table}", "{EntityRecord._meta.db_table}"')
    print(f"{label} {participants} participants with {records} records each", flush=True)
    return people


EVENT_KINDS = [
    ("kintell.session.completed", "kintell_sessions"),
    ("buddy.message.sent", "buddy_events"),
    ("upskilling.course.progressed", "learning_progress"),
    ("buddy.match.created", None),
]


def wait_until_processed(source: str | None, seconds: float = 600) -> bool:
    """Wait until every event (of ``source``, or all) is processed; False on a timeout."""
    from journeys.models import Event

    deadline = time.monotonic() + seconds
    events = Event.objects.exclude(status=Event.Status.PROCESSED)
    if source:
        events = events.filter(source=source)
    while time.monotonic() < deadline:
        if not events.exists():
            return True
        time.sleep(0.1)
    return False


def ingest_retrying(inputs: list, attempts: int = 5) -> None:
    """Ingest as a client would: a batch refused by a deadlock (the ingest and the workers'
    evaluations lock participants in different orders) is rolled back whole and sent again."""
    from django.db import OperationalError

    from journeys.services.events import events_ingest

    for attempt in range(attempts):
        try:
            events_ingest(events=inputs)
            return
        except OperationalError as exc:
            if "deadlock" not in str(exc) or attempt == attempts - 1:
                raise
            print(f"    (ingest deadlocked with a worker; sending the batch again: {attempt + 1})")


def end_to_end_round(*, participants: int, events: int, records: int, prefix: str, rng) -> dict[str, Any]:
    """Participants with ``records`` records each; ``events`` events for them ingested, then
    processed by the running workers (first pass, flags new); then as many again (steady
    state). Returns the figures."""
    from journeys.services.events import EventInput
    from rules.models import FlagHistory

    load_rules_and_participants(participants, rng=rng, prefix=prefix, label="(b)", records=records)

    def batch(source: str) -> list[EventInput]:
        return [
            EventInput(
                type=t,
                user_id=f"{prefix}-{rng.randrange(participants)}",
                payload=record_data(rng, entity) if entity else {},
                source=source,
            )
            for t, entity in (rng.choice(EVENT_KINDS) for _ in range(events))
        ]

    figures: dict[str, Any] = {"records_per_participant": records, "participants": participants}
    for phase in ("first_pass", "steady_state"):
        source = f"{prefix}-{phase}"
        inputs = batch(source)
        flags_before = FlagHistory.objects.count()
        with Stopwatch() as clock:
            for start in range(0, len(inputs), 500):
                ingest_retrying(inputs[start : start + 500])
            finished = wait_until_processed(source)
        wait_until_processed(None)  # what rules emitted, so the next phase starts from quiet
        rate = events / clock.seconds
        figures[phase] = {
            "events": events,
            "seconds": round(clock.seconds, 2),
            "events_per_second": round(rate),
            "flag_changes": FlagHistory.objects.count() - flags_before,
            "finished": finished,
        }
        print(
            f"(b) {records} records/participant, {phase.replace('_', ' ')}: {events} events in "
            f"{clock.seconds:.1f} s = {rate:,.0f} events/s ingested → flags written"
            f"{'' if finished else ' (DID NOT FINISH within 10 minutes)'}; "
            f"{figures[phase]['flag_changes']} flag changes",
            flush=True,
        )
    return figures


def handled_twice() -> dict[str, int]:
    """Events claimed more than once, and subscriber results run more than once (none expected:
    no worker died, so every event is claimed once and each subscriber runs once)."""
    from journeys.models import Event

    twice = Event.objects.filter(attempts__gt=1).count()
    reruns = sum(
        1
        for results in Event.objects.values_list("subscriber_results", flat=True)
        for outcome in (results or {}).values()
        if outcome.get("attempts", 1) > 1
    )
    failed = Event.objects.filter(status=Event.Status.FAILED).count()
    return {"events_claimed_twice": twice, "subscribers_run_twice": reruns, "events_failed": failed}


def bench_end_to_end(
    *, participants: int, events: int, records: list[int], workers: list[int], queue: str, threads: int = 1
) -> dict[str, Any]:
    """(b) for each number of worker processes (solo, or ``threads`` each), each history size: see
    ``end_to_end_round``."""
    from django.conf import settings
    from django.db import connection

    from tests.perf.harness import purge, start_workers, stop_process

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        print("(b) end to end: skipped (needs DATABASE_URL=postgres://… and REDIS_URL)")
        return {}
    rng = random.Random(2)
    results: dict[str, Any] = {}
    for processes in workers:
        purge(queue)
        started = start_workers(
            queue=queue, database_name=connection.settings_dict["NAME"], processes=processes, threads=threads
        )
        print_load(f"(b) {processes} worker process(es) started")
        try:
            for size in records:
                figures = end_to_end_round(
                    participants=participants,
                    events=events,
                    records=size,
                    prefix=f"w{processes}r{size}",
                    rng=rng,
                )
                figures["load_average"] = print_load(f"(b) {processes} worker(s), {size} records")
                results[f"workers_{processes}_records_{size}"] = figures
        finally:
            for worker in started:
                stop_process(worker)
        twice = handled_twice()
        results[f"workers_{processes}_handled_twice"] = twice
        print(f"(b) with {processes} worker process(es): {twice}", flush=True)
    if len(records) > 1:
        anchor, largest = records[0], records[-1]
        for processes in workers:
            a = results[f"workers_{processes}_records_{anchor}"]["steady_state"]["events_per_second"]
            b = results[f"workers_{processes}_records_{largest}"]["steady_state"]["events_per_second"]
            ratio = a / b if b else float("inf")
            results[f"workers_{processes}_history_cost_ratio"] = round(ratio, 2)
            print(
                f"(b) {processes} worker(s), steady state: {largest} records per participant cost "
                f"{ratio:.2f} times the time of {anchor}",
                flush=True,
            )
    if len(workers) > 1:
        base = workers[0]
        for processes in workers[1:]:
            key = f"workers_{{}}_records_{records[0]}"
            one = results[key.format(base)]["steady_state"]["events_per_second"]
            more = results[key.format(processes)]["steady_state"]["events_per_second"]
            print(f"(b) {processes} worker processes vs {base}: {more / one:.2f} times the events/s")

    # The floor: one aggregate query per participant over its records.
    from journeys.models import Participant

    ids = list(Participant.objects.values_list("pk", flat=True)[:500])
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
    results["aggregate_query_per_participant_per_second"] = round(per_second)
    print(f"(b) one aggregate query per participant: {describe(samples)} = {per_second:,.0f}/s")
    return results


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
    parser.add_argument(
        "--records", default="50,500", help="(b): records per participant, the first the anchor (50,500)"
    )
    parser.add_argument("--workers", default="1", help="(b): worker processes, e.g. 1,2,4 (default 1)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="(b): tasks each worker process runs at once in threads (Celery's threads pool; 1: solo)",
    )
    parser.add_argument(
        "--participants", type=int, default=0, help="(b): participants (default n/10, at least 50)"
    )
    args = parser.parse_args()
    # A terminated benchmark still stops its worker and drops its scratch database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    queue = isolate("rules")
    setup_django()
    print_load("start")
    participants = max(args.n // 10, 50)
    results: dict[str, Any] = {"threads_per_worker": args.threads}
    if "a" in args.parts:
        rate, fresh, raw_contexts, now = bench_in_process(participants, args.seconds)
        results["a_evaluations_per_second_warm"] = round(rate)
        results["a_evaluations_per_second_fresh"] = round(fresh)
        jre = bench_json_rules_engine(raw_contexts, now, args.seconds)
        if jre:
            results["a_json_rules_engine_per_second"] = round(jre)
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
            results["b"] = bench_end_to_end(
                participants=args.participants or participants,
                events=args.n,
                records=[int(r) for r in args.records.split(",")],
                workers=[int(w) for w in args.workers.split(",")],
                queue=queue,
                threads=args.threads,
            )
    print_load("end")
    write_result("bench_rules", results)


if __name__ == "__main__":
    main()
