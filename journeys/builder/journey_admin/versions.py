"""Published journey versions: frozen, shown with their graph and definition."""

import json

from django.contrib import admin
from django.utils.html import format_html

from journeys.builder.forms import BUILDER_MEDIA
from journeys.builder.graph.svg import render_svg
from journeys.builder.read_only import ReadOnlyMixin
from journeys.engine.definition import definition_for
from journeys.models import JourneyVersion
from journeys.services.webhook_secrets import definition_masked


class JourneyVersionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Versions are frozen when published: look, never touch."""

    list_display = ["__str__", "journey", "number", "published_at", "published_by", "is_live"]
    list_filter = ["journey"]
    list_select_related = ["journey", "published_by"]
    fields = ["journey", "number", "published_at", "published_by", "graph", "definition_json"]
    readonly_fields = fields

    @property
    def media(self):
        return super().media + BUILDER_MEDIA

    @admin.display(description="Live")
    def is_live(self, obj: JourneyVersion) -> str:
        # Words, not a ✓/✗: an older version is not a failure.
        return "live" if obj.journey.live_version_id == obj.pk else "—"

    @admin.display(description="Step graph")
    def graph(self, obj: JourneyVersion):
        return format_html('<div class="journey-graph-box">{}</div>', render_svg(definition_for(obj)))

    @admin.display(description="Definition")
    def definition_json(self, obj: JourneyVersion):
        text = json.dumps(definition_masked(obj.definition), indent=2, ensure_ascii=False)
        return format_html('<pre class="json-view">{}</pre>', text)
