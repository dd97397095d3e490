"""Set-based writes for walks that move many user journeys in one transaction.

A walker moves one user journey; the dispatcher and the enrolment move hundreds at a time. Given
``BatchWrites`` (``journeys.engine.writes``), walkers change rows in memory only, and ``flush``
writes the batch with these helpers in a handful of statements, whatever its size:

* new step runs: one ``INSERT`` (their ids come back for the runs to kick);
* changed step runs, user journeys, participants' tags: one ``UPDATE`` each;
* the user journeys' log rows: one ``INSERT``.

On Postgres every such statement takes its rows as JSON, unpacked server-side by
``jsonb_to_recordset``: one parameter, encoded by ``json.dumps`` in C (and the columns that hold
one value in every row, sent once beside it), instead of a quoted literal per value (Django's
``bulk_update`` builds a ``CASE`` per field and row, which costs seconds for a thousand rows;
even arrays per column cost more in quoting than the write).
Elsewhere (SQLite) Django's ``bulk_create``/``bulk_update``.

Tags: a participant whose row the batch holds (``participants_lock``) has its tags changed in
memory by the tag actions and written once in ``flush``; holding the lock from the read to the
write is what ``participant_tag`` does for one run. Participants the batch could not lock are
tagged the ordinary way, row by row.
"""

import json
from collections.abc import Iterable, Sequence
from functools import cache
from operator import attrgetter
from typing import Any, TypeVar

from django.db import connection, models

from journeys.models import JourneyVersion, Participant, UserJourney
from journeys.models.loading import instance

ModelT = TypeVar("ModelT", bound=models.Model)

BULK_CHUNK = 2000  # rows per INSERT or UPDATE statement; ~1 MB of JSON for step runs

STEP_RUN_FIELDS = [
    "status",
    "entered",
    "due_at",
    "waiting_for",
    "attempts",
    "max_attempts",
    "lease_until",
    "executed_at",
    "finished_at",
    "result",
    "error",
    "trace",
    "dead_lettered_at",
]
USER_JOURNEY_FIELDS = [
    "state",
    "current_step",
    "last_seq",
    "context",
    "variant",
    "converted",
    "converted_at",
    "end_reason",
    "failure_reason",
    "paused_at",
    "ended_at",
    "updated_at",
]


def _isoformat(value: Any) -> Any:
    return None if value is None else value.isoformat()


def _text(value: Any) -> Any:
    return None if value is None else str(value)


def _encoder(field: models.Field):
    """How a field's value goes into the JSON document (``None``: as it is)."""
    if isinstance(field, models.DateField | models.TimeField):  # DateTimeField is a DateField
        return _isoformat
    if isinstance(field, models.DecimalField):
        return _text
    if getattr(field, "encoder", None) is not None:  # its values would need that encoder
        raise ValueError(f"{field} has a custom JSON encoder; write it with Django's bulk methods")
    return None


def _stamps_the_time(field: models.Field) -> bool:
    """An ``auto_now``/``auto_now_add`` date or time: inserting it only stamps the clock."""
    stamped = isinstance(field, models.DateField | models.TimeField)  # DateTimeField is a DateField
    return stamped and bool(field.auto_now or field.auto_now_add)


def _saved_as_is(field: models.Field) -> bool:
    """Whether inserting the field stores its attribute as it is: no ``auto_now``, no file to
    commit, nothing else a ``pre_save`` of its own would do."""
    if isinstance(field, models.DateField):  # DateTimeField too
        return not (field.auto_now or field.auto_now_add)
    return type(field).pre_save is models.Field.pre_save


def _recordset(
    fields: list[models.Field], objs: Sequence[models.Model], *, add: bool = False
) -> tuple[str, list[str]]:
    """The rows as a relation ``v`` for ``FROM``, and its parameters.

    1. Read each row's attributes in one call; only the fields that need it go through
       ``pre_save`` (on insert). A time stamped on insert (``auto_now``, ``auto_now_add``) is
       taken once and given to every row: one statement writes them, at one time.
    2. A column with one value in every row (the batch's timestamp, a status, an empty
       result; for JSON, the same JSON: ``_same_json``) is a *constant*: it is sent once, in
       ``jsonb_to_record``, and joined to every row. The others go row by row in
       ``jsonb_to_recordset``. A batch of events or step runs has more constant columns than
       varying ones; sending each once halves what is encoded here and parsed by the server.
    3. Encode (``_encoder``) the values that need it, then ``json.dumps`` each part in C.
    """
    read = (
        attrgetter(*(f.attname for f in fields))
        if len(fields) > 1
        else lambda obj: (getattr(obj, fields[0].attname),)
    )
    if add:
        for field in filter(_stamps_the_time, fields):
            stamp = field.pre_save(objs[0], add)
            for obj in objs:
                setattr(obj, field.attname, stamp)
    hooked = [(i, f) for i, f in enumerate(fields) if add and not _saved_as_is(f) and not _stamps_the_time(f)]
    rows = [read(obj) for obj in objs]
    if hooked:
        rows = [list(values) for values in rows]
        for obj, values in zip(objs, rows, strict=True):
            for i, field in hooked:
                values[i] = field.pre_save(obj, add)
    columns = list(zip(*rows, strict=True))
    constant = [
        len(objs) > 1
        and column.count(column[0]) == len(column)
        and (not isinstance(field, models.JSONField) or _same_json(column))
        for field, column in zip(fields, columns, strict=True)
    ]
    if all(constant):  # identical rows: each still needs a row of its own
        constant = [False] * len(fields)
    varying, fixed = [], []
    for field, column, is_constant in zip(fields, columns, constant, strict=True):
        encode = _encoder(field)
        if is_constant:
            fixed.append((field, encode(column[0]) if encode else column[0]))
        else:
            varying.append((field, [encode(value) for value in column] if encode else column))
    names = [field.column for field, _ in varying]
    records = [dict(zip(names, values, strict=True)) for values in zip(*(c for _, c in varying), strict=True)]
    source = f"jsonb_to_recordset(%s::jsonb) AS r({_definition(f for f, _ in varying)})"
    params = [json.dumps(records)]
    if fixed:
        source += f" CROSS JOIN jsonb_to_record(%s::jsonb) AS c({_definition(f for f, _ in fixed)})"
        params.append(json.dumps({field.column: value for field, value in fixed}))
    return f"(SELECT * FROM {source}) AS v", params


def _same_json(values: Sequence[Any]) -> bool:
    """Whether values ``==`` finds equal are also the same JSON: ``==`` says ``1 == True == 1.0``
    (and so ``{"ok": 1} == {"ok": True}``), JSON does not; their ``repr`` tells them apart. (A
    dict with its keys in another order reads as different: it is sent row by row, still right.)"""
    first = repr(values[0])
    return all(repr(value) == first for value in values)


def _definition(fields: Iterable[models.Field]) -> str:
    """The column definition list of a ``jsonb_to_record(set)``."""
    return ", ".join(f'"{f.column}" {f.db_type(connection)}' for f in fields)


def unsaved(model: type[ModelT], **values: Any) -> ModelT:
    """``model(**values)``, built without ``__init__`` where that builds the same instance
    (``journeys.models.loading``): 3.1 against 6.7 µs for an event, 9 against 26 µs for a user
    journey, which counts where a batch builds thousands of rows.

    ``values`` go by attname (``participant_id``) or, for a foreign key, by name with the related
    instance (``participant``), which is then cached as ``__init__`` would. A field not given
    gets its default; a name the model lacks is refused, as ``__init__`` refuses it.
    """
    plan, relations, names = _plan_of(model)
    if not names.issuperset(values):
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(values.keys() - names))}")
    related = [(field, values.pop(name)) for name, field in relations.items() if name in values]
    for field, other in related:
        values[field.attname] = None if other is None else other.pk
    row = {
        name: values[name] if name in values else (default() if fresh else default)
        for name, default, fresh in plan
    }
    obj = instance(model, row)
    for field, other in related:
        field.set_cached_value(obj, other)
    return obj


@cache
def _plan_of(
    model: type[models.Model],
) -> tuple[tuple[tuple[str, Any, bool], ...], dict[str, models.ForeignKey], frozenset[str]]:
    """Each concrete field's attname and default: a callable to call for every row (``dict``,
    ``timezone.now``), else the value itself (``get_default`` on every row cost a third of
    ``unsaved``); the foreign keys by name; and every name ``unsaved`` takes."""
    plan, relations = [], {}
    for field in model._meta.concrete_fields:
        fresh = field.has_default() and callable(field.default)
        plan.append((field.attname, field.default if fresh else field.get_default(), fresh))
        if field.is_relation and field.many_to_one:
            relations[field.name] = field
    return tuple(plan), relations, frozenset(name for name, _, _ in plan) | relations.keys()


def bulk_update(
    model: type[models.Model], objs: Sequence[models.Model], fields: list[str], *, only_empty: str = ""
) -> int:
    """Write ``fields`` of many rows of ``model`` by primary key, in one statement per chunk.

    ``only_empty`` names a text field: rows where another writer has filled it already are left
    alone (a first-writer-wins claim). Returns the number of rows written.
    """
    if not objs or not fields:
        return 0
    if connection.vendor != "postgresql":
        if only_empty:
            return sum(
                model.objects.filter(pk=obj.pk, **{only_empty: ""}).update(
                    **{name: getattr(obj, name) for name in fields}
                )
                for obj in objs
            )
        return model.objects.bulk_update(objs, fields, batch_size=100)
    meta = model._meta
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f'"{f.column}" = v."{f.column}"' for f in columns)
    condition = f" AND t.\"{meta.get_field(only_empty).column}\" = ''" if only_empty else ""
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), BULK_CHUNK):
            source, params = _recordset([pk, *columns], objs[start : start + BULK_CHUNK])
            cursor.execute(
                f'UPDATE "{meta.db_table}" AS t SET {assignments} FROM {source} '
                f'WHERE t."{pk.column}" = v."{pk.column}"{condition}',
                params,
            )
            written += cursor.rowcount
    return written


def bulk_insert(
    model: type[models.Model],
    objs: Sequence[models.Model],
    *,
    key: tuple[str, ...] = (),
    ids: bool = False,
    ignore_conflicts: bool = False,
    unique_fields: Sequence[str] = (),
    update_fields: Sequence[str] = (),
    reserved: bool = False,
) -> None:
    """Insert many new rows of ``model`` in one statement per chunk and give them their ids.

    ``reserved``: the rows carry ids taken beforehand (``ids_reserve``), inserted with them.

    ``ids`` gives them their ids in the order they come back, which is the order they went in
    (what Django's ``bulk_create`` relies on too); not with ``ignore_conflicts``, which leaves
    rows out. ``key`` names fields (``("user_journey_id", "seq")``) by which the returned ids
    are matched to the rows, in that same order (``_match_in_order``). Without either the rows
    get no ids. With ``ignore_conflicts`` a row a unique constraint refuses is left out (``ON
    CONFLICT DO NOTHING``) and keeps no id: on Postgres the ids say exactly which rows went in.
    With ``update_fields``, a row whose ``unique_fields`` are taken updates those fields of the
    row there instead (``ON CONFLICT (…) DO UPDATE``).
    """
    if ids and ignore_conflicts:
        raise ValueError("ids are matched by order, which ignore_conflicts breaks: match them by key")
    if not objs:
        return
    if connection.vendor != "postgresql":
        upsert = {"update_conflicts": True, "unique_fields": unique_fields, "update_fields": update_fields}
        model.objects.bulk_create(
            objs,
            batch_size=BULK_CHUNK,
            ignore_conflicts=ignore_conflicts,
            **(upsert if update_fields else {}),
        )
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if reserved or not f.primary_key]
    names = ", ".join(f'"{f.column}"' for f in fields)
    by_column = {f.attname: f.column for f in fields}
    returning = ", ".join(f'"{by_column[name]}"' for name in key)
    conflicts = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    if update_fields:
        unique = ", ".join(f'"{meta.get_field(name).column}"' for name in unique_fields)
        updates = ", ".join(
            f'"{column}" = EXCLUDED."{column}"'
            for column in (meta.get_field(name).column for name in update_fields)
        )
        conflicts = f" ON CONFLICT ({unique}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        for start in range(0, len(objs), BULK_CHUNK):
            chunk = objs[start : start + BULK_CHUNK]
            source, params = _recordset(fields, chunk, add=True)
            sql = f'INSERT INTO "{meta.db_table}" ({names}) SELECT {names} FROM {source}{conflicts}'
            if ids:
                cursor.execute(f'{sql} RETURNING "{meta.pk.column}"', params)
                for obj, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                    obj.pk = pk
                    obj._state.adding = False
                continue
            if not key:
                cursor.execute(sql, params)
                continue
            cursor.execute(f'{sql} RETURNING "{meta.pk.column}", {returning}', params)
            _match_in_order(chunk, cursor.fetchall(), key)


def _match_in_order(objs: Sequence[models.Model], rows: list[tuple], key: tuple[str, ...]) -> None:
    """Give ``objs`` the ids of the ``rows`` (id, *key) an insert returned. Rows come back in the
    order they went in, less those a conflict left out: each row is the next object with its
    key. (Matching by the key alone would confuse rows whose key is NULL, which no unique
    constraint refuses.)"""
    returned = iter(rows)
    row = next(returned, None)
    for obj in objs:
        if row is not None and tuple(row[1:]) == tuple(getattr(obj, name) for name in key):
            obj.pk, obj._state.adding = row[0], False
            row = next(returned, None)
        else:
            obj.pk, obj._state.adding = None, True


def ids_reserve(model: type[models.Model], count: int) -> list[int]:
    """Take ``count`` ids from the table's sequence (Postgres) for rows built before they are
    inserted; an id taken and never used is a gap, as a rolled back insert leaves."""
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def versions_load(user_journeys: Iterable[UserJourney]) -> None:
    """Attach their versions to user journeys, one query for the distinct versions."""
    user_journeys = list(user_journeys)
    versions = JourneyVersion.objects.in_bulk({uj.version_id for uj in user_journeys})
    for uj in user_journeys:
        uj.version = versions[uj.version_id]


def participants_lock(ids: Iterable[int]) -> dict[int, Participant]:
    """Lock these participants' rows, skipping those another transaction holds (on SQLite,
    the single writer holds them all). Returns the rows locked, freshly read."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    return {
        p.pk: p
        for p in Participant.objects.select_for_update(skip_locked=True).filter(pk__in=ids).order_by("pk")
    }
