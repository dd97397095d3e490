"""Model instances built without ``Model.__init__``, where the engine builds thousands at once.

Django builds an instance it unpickles by setting its ``__dict__`` in one update and giving it
a fresh ``ModelState``; for a model whose class adds nothing to ``__init__`` and that nothing
listens to ``pre_init`` or ``post_init`` for, that is the instance ``__init__`` would build, at
under half the cost: ``__init__`` sets each field through its descriptor and sends two signals.
A model that does not qualify is built by its ``__init__``.

Used for new rows (``journeys.engine.batch.unsaved``) and for rows read from the database by
the models the engine reads in bulk (``LoadedQuickly``).
"""

from functools import cache
from typing import Any, TypeVar

from django.db import models
from django.db.models import signals
from django.db.models.base import ModelState

ModelT = TypeVar("ModelT", bound=models.Model)


def builds_plainly(model: type[models.Model]) -> bool:
    """Whether ``model``'s ``__init__`` only sets its fields (nothing of its own, no receivers)."""
    pre, post = signals.pre_init, signals.post_init
    return model.__init__ is models.Model.__init__ and not (
        (pre.receivers and pre.has_listeners(model)) or (post.receivers and post.has_listeners(model))
    )


def instance(model: type[ModelT], row: dict[str, Any], *, db: str | None = None) -> ModelT:
    """An instance of ``model`` with ``row`` (every concrete field, by attname, in field order);
    read from ``db`` when given (not adding), else new."""
    if not builds_plainly(model):
        obj = model(*row.values())
    else:
        obj = model.__new__(model)
        obj.__dict__.update(row)
        obj._state = ModelState()
    if db is not None:
        obj._state.adding = False
        obj._state.db = db
    return obj


@cache
def attnames(model: type[models.Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


class LoadedQuickly:
    """Mixin for a model read in bulk by the engine: its rows are built by ``instance``.

    ``from_db`` is Django's documented hook for how a model is loaded; rows read with deferred
    fields (``only``, ``defer``) are loaded by Django's own.
    """

    @classmethod
    def from_db(cls, db: str, field_names: list[str], values: tuple[Any, ...]) -> Any:
        names = attnames(cls)
        if len(values) != len(names):
            return super().from_db(db, field_names, values)
        return instance(cls, dict(zip(names, values, strict=True)), db=db)
