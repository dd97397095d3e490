"""The admin's branding and its one search box across participants, journeys, rules and staged
journeys (config wires the apps together, so this is the one place that may know all four)."""

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

SITE_HEADER = "Journey Orchestrator"
SITE_TITLE = "Journey Orchestrator"
INDEX_TITLE = "Build and run journeys"
RESULTS_PER_KIND = 10
MIN_QUERY_LENGTH = 2


def brand_admin_site(site: admin.AdminSite) -> None:
    """The product's name instead of "Django administration"; no "View site" link (there is no
    public site to view)."""
    site.site_header = SITE_HEADER
    site.site_title = SITE_TITLE
    site.index_title = INDEX_TITLE
    site.site_url = None


@dataclass
class Section:
    title: str
    rows: list[tuple[str, str, str]]  # (label, detail, url)
    total: int
    more_url: str


def _sections(query: str) -> list[tuple[str, str, QuerySet, Callable[[Model], tuple[str, str]]]]:
    from journeys.models import Journey, Participant
    from rules.models import Rule
    from stages.models import StagedJourney

    return [
        (
            "Participants",
            "journeys.view_participant",
            Participant.objects.filter(user_id__icontains=query).order_by("user_id"),
            lambda p: (p.user_id, ", ".join(p.tags[:5]) if isinstance(p.tags, list) else ""),
        ),
        (
            "Journeys",
            "journeys.view_journey",
            Journey.objects.filter(Q(name__icontains=query) | Q(trigger_type__icontains=query)).order_by(
                "name"
            ),
            lambda j: (j.name, f"{j.get_state_display()} · trigger {j.trigger_type or '—'}"),
        ),
        (
            "Rules",
            "rules.view_rule",
            Rule.objects.filter(Q(rule_id__icontains=query) | Q(name__icontains=query)).order_by("rule_id"),
            lambda r: (r.rule_id, r.name),
        ),
        (
            "Staged journeys",
            "stages.view_stagedjourney",
            StagedJourney.objects.filter(client_id__icontains=query)
            .select_related("pipeline")
            .order_by("client_id"),
            lambda s: (s.client_id, f"{s.get_stage_display()} · {s.pipeline.name}"),
        ),
    ]


def _url(obj: Model, name: str) -> str:
    meta = obj._meta
    return reverse(
        f"admin:{meta.app_label}_{meta.model_name}_{name}", args=[obj.pk] if name == "change" else []
    )


def global_search(request: HttpRequest) -> TemplateResponse:
    """``/admin/search/?q=…``: the first matches of each kind the user may see, with a link to all."""
    query = (request.GET.get("q") or "").strip()[:200]
    sections: list[Section] = []
    if len(query) >= MIN_QUERY_LENGTH:
        for title, permission, queryset, describe in _sections(query):
            if not request.user.has_perm(permission):
                continue
            found = list(queryset[:RESULTS_PER_KIND])
            total = len(found) if len(found) < RESULTS_PER_KIND else queryset.count()
            rows = [(*describe(obj), _url(obj, "change")) for obj in found]
            meta = queryset.model._meta
            more = (
                reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
                + "?"
                + urlencode({"q": query})
            )
            sections.append(Section(title=title, rows=rows, total=total, more_url=more))
    context = {
        **admin.site.each_context(request),
        "title": f"Search: {query}" if query else "Search",
        "query": query,
        "sections": sections,
        "too_short": 0 < len(query) < MIN_QUERY_LENGTH,
        "found_any": any(s.rows for s in sections),
    }
    return TemplateResponse(request, "admin/search.html", context)
