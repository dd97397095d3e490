"""Webhook steps' signing secrets: kept across edits, masked when read, shown once, rotated.

A ``trigger_webhook`` step keeps its secret in ``config.secret``, encrypted at rest
(``journeys.crypto``); publishing copies the stored form into the version, so the draft and its
versions hold the same token. The secret is a credential of the endpoint rather than part of the
graph: rotating it changes the draft and every version that has the step, so runs in flight sign
with the new secret at once.
"""

import copy
from typing import Any

from django.db import transaction
from django.utils import timezone

from journeys.crypto import is_masked, secret_decrypt, secret_encrypt, secret_mask
from journeys.errors import NotFound
from journeys.models import Journey, JourneyVersion, Step
from journeys.webhooks import webhook_secret_generate

WEBHOOK_ACTION = "trigger_webhook"
SECRET_KEY = "secret"  # the config key holding a step's signing secret


def _is_webhook(step: dict[str, Any]) -> bool:
    return (
        step.get("kind", "action") == "action"
        and step.get("action_type") == WEBHOOK_ACTION
        and isinstance(step.get("config"), dict)
    )


def config_with_kept_secret(step: dict[str, Any], previous_config: Any) -> dict[str, Any] | Any:
    """The config of an edited webhook step with the step's current secret when the edit left it
    out or sent back the masked value (a read-modify-write round trip never changes a secret)."""
    config = step.get("config")
    if not _is_webhook(step) or not isinstance(previous_config, dict):
        return config
    given = config.get(SECRET_KEY)
    kept = previous_config.get(SECRET_KEY)
    if kept and (not given or (is_masked(given) and secret_mask(kept) == given)):
        return {**config, SECRET_KEY: kept}
    return config


def secrets_revealed(steps: list[dict[str, Any]], previous: dict[str, Any]) -> dict[str, str]:
    """Step key → plain secret, for the webhook steps whose secret this save created or replaced
    (the one time it is shown). ``previous`` maps step keys to their configs before the save."""
    revealed = {}
    for step in steps:
        if not _is_webhook(step):
            continue
        stored = step["config"].get(SECRET_KEY)
        before = previous.get(step["key"])
        if stored and (not isinstance(before, dict) or before.get(SECRET_KEY) != stored):
            revealed[step["key"]] = secret_decrypt(stored)
    return revealed


def config_masked(config: Any, *, revealed: str | None = None) -> Any:
    """A step config as shown: the secret masked, or in full when ``revealed`` (just created)."""
    if not isinstance(config, dict) or not isinstance(config.get(SECRET_KEY), str):
        return config
    return {**config, SECRET_KEY: revealed or secret_mask(config[SECRET_KEY])}


def definition_masked(definition: Any) -> Any:
    """A frozen definition as shown: every step's secret masked."""
    if not isinstance(definition, dict) or not isinstance(definition.get("steps"), list):
        return definition
    shown = copy.copy(definition)
    shown["steps"] = [
        {**step, "config": config_masked(step.get("config"))} if isinstance(step, dict) else step
        for step in definition["steps"]
    ]
    return shown


@transaction.atomic
def webhook_step_secret_rotate(*, journey: Journey, step_key: str, actor=None) -> str:
    """Give a webhook step a new signing secret and answer it (shown this once).

    1. Lock the journey, so a concurrent edit or publish cannot copy the old secret back.
    2. Store the new secret, encrypted, in the draft step.
    3. Store the same token in every version's step of that key, so runs in flight sign with it.
    """
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    step = Step.objects.filter(journey=journey, key=step_key, action_type=WEBHOOK_ACTION).first()
    if step is None:
        raise NotFound(f"The journey has no webhook step {step_key!r}.", code="step_not_found")
    plain = webhook_secret_generate()
    stored = secret_encrypt(plain)
    step.config = {**(step.config if isinstance(step.config, dict) else {}), SECRET_KEY: stored}
    step.save(update_fields=["config"])
    for version in JourneyVersion.objects.select_for_update().filter(journey=journey):
        changed = False
        for frozen in version.definition.get("steps", []):
            if frozen.get("key") == step_key and _is_webhook(frozen):
                frozen["config"][SECRET_KEY] = stored
                changed = True
        if changed:
            version.secrets_rotated_at = timezone.now()
            version.save(update_fields=["definition", "secrets_rotated_at"])
    return plain


@transaction.atomic
def webhook_secrets_reencrypt(*, step_model=Step, version_model=JourneyVersion) -> int:
    """Store every webhook step secret (drafts and versions) under the first encryption key:
    plain values written before encryption are encrypted, tokens of an older key re-encrypted.

    One secret gets one token everywhere, so a draft still equals its live version afterwards
    (``has_unpublished_changes`` compares them). The models are parameters so the data
    migration can pass its historical ones. Answers how many values were rewritten.
    """
    tokens: dict[str, str] = {}

    def restored(stored: str) -> str:
        plain = secret_decrypt(stored)
        if plain not in tokens:
            tokens[plain] = secret_encrypt(plain)
        return tokens[plain]

    rewritten = 0
    for step in step_model.objects.filter(action_type=WEBHOOK_ACTION).order_by("pk").iterator():
        secret = step.config.get(SECRET_KEY) if isinstance(step.config, dict) else None
        if isinstance(secret, str) and secret:
            step.config = {**step.config, SECRET_KEY: restored(secret)}
            step.save(update_fields=["config"])
            rewritten += 1
    for version in version_model.objects.order_by("pk").iterator():
        steps = version.definition.get("steps") if isinstance(version.definition, dict) else None
        changed = False
        for frozen in steps or []:
            secret = frozen.get("config", {}).get(SECRET_KEY) if _is_webhook(frozen) else None
            if isinstance(secret, str) and secret:
                frozen["config"][SECRET_KEY] = restored(secret)
                changed = True
                rewritten += 1
        if changed:
            version.save(update_fields=["definition"])
    return rewritten
