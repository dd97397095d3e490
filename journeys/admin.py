"""Admin screens of the event spine: participants, events, entity mappings, API keys."""

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from journeys import bus
from journeys.models import ApiKey, EntityMapping, EntityRecord, Event, Participant
from journeys.services.api_keys import api_key_create, api_key_revoke
from journeys.services.records import entity_mapping_delete, entity_mapping_save

RECENT_ROWS = 20  # rows shown in a participant's inlines


class RecentEventInline(admin.TabularInline):
    model = Event
    fields = ["type", "occurred_at", "status", "source"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-occurred_at"]
    verbose_name_plural = f"Events (newest {RECENT_ROWS})"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        # Admin inlines cannot slice, so narrow to the newest ids instead.
        qs = super().get_queryset(request)
        parent_id = request.resolver_match.kwargs.get("object_id")
        if parent_id is None:
            return qs.none()
        newest = list(
            qs.filter(participant_id=parent_id)
            .order_by("-occurred_at")
            .values_list("pk", flat=True)[:RECENT_ROWS]
        )
        return qs.filter(pk__in=newest)


class RecordInline(admin.TabularInline):
    model = EntityRecord
    fields = ["entity", "key", "data", "occurred_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["entity", "-occurred_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["user_id", "tag_list", "created_at", "updated_at"]
    search_fields = ["user_id"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [RecordInline, RecentEventInline]

    @admin.display(description="Tags")
    def tag_list(self, obj: Participant) -> str:
        return ", ".join(obj.tags)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Events are facts: read-only here, except that staff may send one through the bus again."""

    list_display = ["id", "type", "participant", "occurred_at", "received_at", "status", "attempts"]
    list_filter = ["status", "source", "type"]
    search_fields = ["type", "participant__user_id", "idempotency_key"]
    date_hierarchy = "received_at"
    list_select_related = ["participant"]
    actions = ["reprocess"]
    show_full_result_count = False  # COUNT(*) over a big log is slow; the pages still work

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Event._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in {"GET", "HEAD"} and super().has_change_permission(request, obj)

    @admin.action(description="Process again (only failed subscribers run)", permissions=["reprocess"])
    def reprocess(self, request, queryset) -> None:
        with transaction.atomic():
            events = list(queryset)
            for event in events:
                bus.event_reprocess(event=event)
        self.message_user(request, f"{len(events)} event(s) queued for processing.", messages.SUCCESS)

    def has_reprocess_permission(self, request) -> bool:
        return request.user.has_perm("journeys.change_event")


@admin.register(EntityMapping)
class EntityMappingAdmin(admin.ModelAdmin):
    list_display = ["event_type", "entity", "key_field", "active", "updated_at"]
    list_filter = ["active", "entity"]
    list_editable = ["active"]
    search_fields = ["event_type", "entity"]

    def save_model(self, request, obj, form, change) -> None:
        entity_mapping_save(mapping=obj)

    def delete_model(self, request, obj) -> None:
        entity_mapping_delete(mapping=obj)

    def delete_queryset(self, request, queryset) -> None:
        for mapping in queryset:
            entity_mapping_delete(mapping=mapping)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "scope", "state", "created_at", "last_used_at"]
    list_filter = ["scope"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]
    autocomplete_fields = ["user"]

    @admin.display(description="State")
    def state(self, obj: ApiKey) -> str:
        if obj.revoked_at:
            return format_html('<span style="color:#b00">revoked</span>')
        return "usable" if obj.is_usable else "expired"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "user", "scope", "expires_at"]
        return ["name", "user", "scope", "prefix", "expires_at", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            obj.save(update_fields=["name", "scope", "expires_at"])
            return
        created, full_key = api_key_create(
            name=obj.name, user=obj.user, scope=obj.scope, expires_at=obj.expires_at
        )
        obj.pk, obj.prefix, obj.hashed_secret = created.pk, created.prefix, created.hashed_secret
        self.message_user(
            request,
            format_html("The new key, shown only this once: <code>{}</code>", full_key),
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, "Keys revoked.", messages.SUCCESS)


import journeys.builder.admin  # noqa: E402  (the journey builder screens)
import journeys.directory_admin  # noqa: E402  (the service directory and its calls)
import journeys.subscriptions_admin  # noqa: E402  (webhook subscriptions and deliveries)
import journeys.template_admin  # noqa: E402,F401  (the template library)
