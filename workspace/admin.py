"""Staff see and moderate every workspace: files, decisions, costs, people, chat, exports.

Deleting here is the same soft delete people use (restorable until the retention purge).
"""

from django.contrib import admin, messages
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from workspace.models import (
    Activity,
    Attachment,
    Budget,
    Collaborator,
    Comment,
    Conversation,
    Decision,
    Expense,
    Export,
    Invitation,
    Message,
    Quote,
    ResearchItem,
    Task,
    Workspace,
)
from workspace.selectors import journey_timeline


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Live"), ("yes", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.action(description="Delete (soft; restorable)")
def soft_delete(modeladmin, request, queryset):
    count = queryset.filter(deleted_at__isnull=True).update(deleted_at=timezone.now())
    messages.success(request, f"{count} deleted; they can be restored until the retention purge.")


@admin.action(description="Restore")
def restore(modeladmin, request, queryset):
    count = queryset.filter(deleted_at__isnull=False).update(deleted_at=None)
    messages.success(request, f"{count} restored.")


class SoftDeleteAdmin(admin.ModelAdmin):
    actions = [soft_delete, restore]
    list_filter = [DeletedFilter]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deletion is soft, through the actions; the purge removes rows for good


class WorkspaceOwnedAdmin(SoftDeleteAdmin):
    list_select_related = ["workspace__user_journey__participant"]
    search_fields = ["workspace__user_journey__participant__user_id", "step_key"]

    @admin.display(description="participant", ordering="workspace__user_journey__participant__user_id")
    def participant(self, obj) -> str:
        return obj.workspace.user_journey.participant.user_id


class CollaboratorInline(admin.TabularInline):
    model = Collaborator
    extra = 0
    fields = ["user", "role", "invited_by", "created_at"]
    readonly_fields = ["invited_by", "created_at"]
    raw_id_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(SoftDeleteAdmin):
    list_display = ["__str__", "participant", "journey", "currency", "last_activity_at", "deleted_at"]
    list_select_related = ["user_journey__participant", "user_journey__journey"]
    search_fields = ["user_journey__participant__user_id", "user_journey__journey__name"]
    readonly_fields = ["user_journey", "last_activity_at", "created_at", "deleted_at"]
    fields = ["user_journey", "currency", "last_activity_at", "created_at", "deleted_at"]
    inlines = [CollaboratorInline]
    change_form_template = "admin/workspace/workspace/change_form.html"

    def has_add_permission(self, request) -> bool:
        return False  # a workspace opens with its user journey's first use

    @admin.display(description="participant")
    def participant(self, obj) -> str:
        return obj.user_journey.participant.user_id

    @admin.display(description="journey")
    def journey(self, obj) -> str:
        return obj.user_journey.journey.name

    def change_view(self, request, object_id, form_url="", extra_context=None):
        workspace = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if workspace is not None:
            extra["timeline"] = journey_timeline(workspace=workspace)
            extra["activity"] = Activity.objects.filter(workspace=workspace).select_related("actor")[:100]
            extra["comments"] = Comment.objects.filter(workspace=workspace).select_related("created_by")[:100]
        return super().change_view(request, object_id, form_url, extra_context=extra)


@admin.register(Attachment)
class AttachmentAdmin(WorkspaceOwnedAdmin):
    list_display = [
        "filename",
        "preview",
        "participant",
        "kind",
        "step_key",
        "size",
        "text_status",
        "deleted_at",
    ]
    list_filter = [DeletedFilter, "kind", "text_status"]
    search_fields = [*WorkspaceOwnedAdmin.search_fields, "filename", "text"]
    readonly_fields = [
        "workspace", "kind", "filename", "content_type", "size", "sha256", "width", "height",
        "dominant_colors", "phash", "text_status", "metadata", "created_by", "created_at", "deleted_at",
        "preview",
    ]  # fmt: skip
    exclude = ["file", "thumbnail", "text"]

    def has_add_permission(self, request) -> bool:
        return False  # uploads go through the API, which checks and cleans them

    @admin.display(description="preview")
    def preview(self, obj) -> str:
        if not obj.thumbnail:
            return "—"
        url = reverse("admin:workspace_attachment_thumbnail", args=[obj.pk])
        return format_html('<img src="{}" alt="" style="max-height:48px">', url)

    def get_urls(self):
        thumbnail = self.admin_site.admin_view(self.thumbnail_view)
        return [
            path("<int:pk>/thumbnail/", thumbnail, name="workspace_attachment_thumbnail"),
            *super().get_urls(),
        ]

    def thumbnail_view(self, request, pk: int):
        """Files are never public: staff see thumbnails through the admin, with its permissions."""
        attachment = Attachment.objects.filter(pk=pk).exclude(thumbnail="").first()
        if attachment is None or not self.has_view_permission(request, attachment):
            raise Http404("No thumbnail.")
        return FileResponse(attachment.thumbnail.open("rb"), content_type="image/jpeg")


@admin.register(Decision)
class DecisionAdmin(WorkspaceOwnedAdmin):
    list_display = ["question", "chosen", "participant", "current", "rolled_back", "created_at", "deleted_at"]
    list_filter = [DeletedFilter, "current"]
    readonly_fields = ["supersedes", "created_by", "created_at"]


@admin.register(Quote)
class QuoteAdmin(WorkspaceOwnedAdmin):
    list_display = ["vendor", "category", "amount", "currency", "valid_until", "accepted", "participant"]


@admin.register(Expense)
class ExpenseAdmin(WorkspaceOwnedAdmin):
    list_display = ["description", "category", "amount", "currency", "spent_on", "participant"]


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["workspace", "category", "amount", "currency"]


@admin.register(Comment)
class CommentAdmin(WorkspaceOwnedAdmin):
    list_display = ["__str__", "participant", "created_by", "step_key", "created_at", "deleted_at"]
    readonly_fields = ["workspace", "parent", "created_by", "created_at"]


@admin.register(Task)
class TaskAdmin(WorkspaceOwnedAdmin):
    list_display = ["title", "assignee", "due_on", "status", "participant"]
    list_filter = [DeletedFilter, "status"]


@admin.register(ResearchItem)
class ResearchAdmin(WorkspaceOwnedAdmin):
    list_display = ["title", "url", "participant", "step_key", "created_at"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "role", "workspace", "expires_at", "accepted_at", "revoked_at"]
    readonly_fields = ["token_hash", "accepted_at", "accepted_by", "created_at"]
    actions = ["revoke"]

    @admin.action(description="Revoke")
    def revoke(self, request, queryset):
        count = queryset.filter(accepted_at=None, revoked_at=None).update(revoked_at=timezone.now())
        messages.success(request, f"{count} invitation(s) revoked.")


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["created_at", "sender", "body", "step_key"]
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["external_id", "channel", "workspace", "created_at"]
    search_fields = ["external_id"]
    inlines = [MessageInline]


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    list_display = ["__str__", "workspace", "status", "pages", "created_at", "finished_at"]
    list_filter = ["status"]
    readonly_fields = [
        "workspace",
        "requested_by",
        "status",
        "file",
        "pages",
        "error",
        "created_at",
        "finished_at",
    ]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "verb", "summary", "workspace"]
    list_filter = ["verb"]
    readonly_fields = ["workspace", "actor", "verb", "summary", "target_type", "target_id", "step_key", "at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
