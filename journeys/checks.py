"""System checks: provider URLs from settings go through the same SSRF guard as user-typed ones,
so a provider that every call would be refused for is reported at start-up, not at the first
message."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

from journeys.webhooks import target_refusal

PROVIDER_URL_SETTINGS = ("PUSH_PROVIDER_URL", "TELEGRAM_API_BASE", "WORKSPACE_SEARCH_PROVIDER_URL")


@register(Tags.security)
def provider_targets_check(app_configs=None, **kwargs) -> list[Warning]:
    warnings = []
    for name in PROVIDER_URL_SETTINGS:
        url = getattr(settings, name, "")
        refusal = target_refusal(url, unresolvable_ok=True) if url else None
        if refusal:
            warnings.append(
                Warning(
                    f"{name} would be refused by the SSRF guard: {refusal}",
                    hint="Allow-list its host in WEBHOOK_ALLOWED_HOSTS if it is meant to be called.",
                    id="journeys.W001",
                )
            )
    return warnings
