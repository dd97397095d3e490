"""Shapes of the workspace API. Inputs name exactly the fields a person may set (no mass assignment)."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from workspace.models import (
    Activity,
    Attachment,
    BeforeAfterPair,
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
)
from workspace.models.collaboration import SHARED_ROLE_CHOICES

CURRENCY = serializers.RegexField(
    r"^[A-Z]{3}$", error_messages={"invalid": "Use a three-letter ISO 4217 code."}
)
MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": 0}


class UserField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(
            slug_field="username", queryset=get_user_model().objects.filter(is_active=True), **kwargs
        )


# ---------------------------------------------------------------------------------------------
# Journeys and files
# ---------------------------------------------------------------------------------------------
class MyJourneySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    journey = serializers.CharField(source="journey.name")
    state = serializers.CharField()
    current_step = serializers.CharField()
    role = serializers.CharField()
    started_at = serializers.DateTimeField()


class WorkspaceSerializer(serializers.Serializer):
    user_journey = serializers.IntegerField(source="user_journey_id")
    journey = serializers.CharField(source="user_journey.journey.name")
    participant = serializers.CharField(source="user_journey.participant.user_id")
    state = serializers.CharField(source="user_journey.state")
    current_step = serializers.CharField(source="user_journey.current_step")
    currency = serializers.CharField()
    role = serializers.CharField()
    last_activity_at = serializers.DateTimeField()


class AttachmentSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = Attachment
        fields = [
            "id", "kind", "filename", "content_type", "size", "sha256", "caption", "step_key",
            "width", "height", "dominant_colors", "phash", "text_status", "metadata",
            "uploaded_by", "created_at",
        ]  # fmt: skip


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    step_key = serializers.CharField(max_length=80, required=False, default="", allow_blank=True)
    caption = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class NearDuplicateSerializer(serializers.Serializer):
    attachment = AttachmentSerializer()
    distance = serializers.IntegerField(help_text="Bits of 64 that differ; 0 is the same picture.")


class PairSerializer(serializers.ModelSerializer):
    before = AttachmentSerializer(read_only=True)
    after = AttachmentSerializer(read_only=True)

    class Meta:
        model = BeforeAfterPair
        fields = ["id", "step_key", "before", "after", "note", "created_at"]


class PairInputSerializer(serializers.Serializer):
    before = serializers.IntegerField()
    after = serializers.IntegerField()
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class SearchHitSerializer(AttachmentSerializer):
    excerpt = serializers.SerializerMethodField()

    class Meta(AttachmentSerializer.Meta):
        fields = [*AttachmentSerializer.Meta.fields, "excerpt"]

    def get_excerpt(self, attachment: Attachment) -> str:
        words = self.context.get("query", "").lower().split()
        text = attachment.text
        at = min((i for w in words if (i := text.lower().find(w)) >= 0), default=0)
        return text[max(at - 80, 0) : at + 160].strip()


class ResearchSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResearchItem
        fields = ["id", "step_key", "query", "title", "url", "snippet", "note", "provider", "created_at"]
        read_only_fields = ["id", "provider", "created_at"]


class ResearchResultSerializer(serializers.Serializer):
    title = serializers.CharField()
    url = serializers.URLField()
    snippet = serializers.CharField()


# ---------------------------------------------------------------------------------------------
# Decisions and costs
# ---------------------------------------------------------------------------------------------
class AlternativeSerializer(serializers.Serializer):
    option = serializers.CharField(max_length=300)
    pros = serializers.ListField(child=serializers.CharField(max_length=300), required=False, default=list)
    cons = serializers.ListField(child=serializers.CharField(max_length=300), required=False, default=list)


class DecisionSerializer(serializers.ModelSerializer):
    alternatives = AlternativeSerializer(many=True, required=False, default=list)
    decided_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    impact = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = [
            "id", "step_key", "question", "chosen", "alternatives", "reasoning", "supersedes",
            "current", "rolled_back", "decided_by", "created_at", "impact",
        ]  # fmt: skip
        read_only_fields = [
            "id",
            "supersedes",
            "current",
            "rolled_back",
            "decided_by",
            "created_at",
            "impact",
        ]

    def get_impact(self, decision: Decision) -> dict[str, list[int | str]]:
        return {
            "quotes": [q.pk for q in decision.quotes.all() if q.deleted_at is None],
            "expenses": [e.pk for e in decision.expenses.all() if e.deleted_at is None],
            "tasks": [t.pk for t in decision.tasks.all() if t.deleted_at is None],
            "steps": [decision.step_key] if decision.step_key else [],
        }


class DecisionRevisitSerializer(serializers.Serializer):
    chosen = serializers.CharField(max_length=300)
    reasoning = serializers.CharField(required=False, default="", allow_blank=True)
    alternatives = AlternativeSerializer(many=True, required=False)


class BudgetLineInputSerializer(serializers.Serializer):
    category = serializers.CharField(max_length=80, required=False, default="", allow_blank=True)
    amount = serializers.DecimalField(**MONEY)
    currency = CURRENCY


class BudgetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Budget
        fields = ["category", "amount", "currency"]


class QuoteSerializer(serializers.ModelSerializer):
    amount = serializers.DecimalField(**MONEY)
    currency = CURRENCY

    class Meta:
        model = Quote
        fields = [
            "id", "step_key", "category", "vendor", "amount", "currency", "valid_until", "description",
            "attachment", "decision", "accepted", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "accepted", "created_at"]

    def validate(self, attrs):
        workspace = self.context["workspace"]
        for name in ("attachment", "decision"):
            related = attrs.get(name)
            if related is not None and (
                related.workspace_id != workspace.pk or related.deleted_at is not None
            ):
                raise serializers.ValidationError({name: ["Not found in this journey."]})
        return attrs


class ExpenseSerializer(serializers.ModelSerializer):
    amount = serializers.DecimalField(**MONEY)
    currency = CURRENCY

    class Meta:
        model = Expense
        fields = [
            "id", "step_key", "category", "description", "amount", "currency", "spent_on", "quote",
            "decision", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):
        workspace = self.context["workspace"]
        for name in ("quote", "decision"):
            related = attrs.get(name)
            if related is not None and (
                related.workspace_id != workspace.pk or related.deleted_at is not None
            ):
                raise serializers.ValidationError({name: ["Not found in this journey."]})
        return attrs


class CategoryLineSerializer(serializers.Serializer):
    category = serializers.CharField()
    budget = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    spent = serializers.DecimalField(max_digits=14, decimal_places=2)
    quoted_low = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    remaining = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    over_budget = serializers.BooleanField()


class BudgetReportSerializer(serializers.Serializer):
    currency = serializers.CharField()
    total_budget = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    total_spent = serializers.DecimalField(max_digits=14, decimal_places=2)
    remaining = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    over_budget = serializers.BooleanField()
    categories = CategoryLineSerializer(many=True)


# ---------------------------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------------------------


class CollaboratorSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Collaborator
        fields = ["id", "user", "role", "created_at"]
        read_only_fields = ["id", "user", "created_at"]


class RoleInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=SHARED_ROLE_CHOICES)


class InvitationInputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=SHARED_ROLE_CHOICES)


class InvitationSerializer(serializers.ModelSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once, when the invitation is made.")

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "expires_at", "accepted_at", "created_at", "token"]


class InvitationListSerializer(InvitationSerializer):
    """An invitation as listed later: its token was shown once, when it was made."""

    token = None

    class Meta(InvitationSerializer.Meta):
        fields = [name for name in InvitationSerializer.Meta.fields if name != "token"]


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200)


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="created_by.username", default=None, read_only=True)
    mentions = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "step_key", "parent", "body", "author", "mentions", "created_at"]
        read_only_fields = ["id", "author", "mentions", "created_at"]

    def get_mentions(self, comment: Comment) -> list[str]:
        return [mention.user.username for mention in comment.mentions.all()]


class CommentInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)
    step_key = serializers.CharField(max_length=80, required=False, default="", allow_blank=True)
    parent = serializers.IntegerField(required=False, allow_null=True, default=None)


class TaskSerializer(serializers.ModelSerializer):
    assignee = UserField(required=False, allow_null=True)

    class Meta:
        model = Task
        fields = [
            "id", "step_key", "title", "description", "assignee", "due_on", "status", "decision",
            "completed_at", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "completed_at", "created_at"]

    def validate_decision(self, decision):
        if decision is not None and decision.workspace_id != self.context["workspace"].pk:
            raise serializers.ValidationError("Not found in this journey.")
        return decision


class ActivitySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None)

    class Meta:
        model = Activity
        fields = ["id", "at", "actor", "verb", "summary", "target_type", "target_id", "step_key"]


# ---------------------------------------------------------------------------------------------
# Conversations and exports
# ---------------------------------------------------------------------------------------------
class ConversationSerializer(serializers.ModelSerializer):
    conversation_id = serializers.CharField(source="external_id", max_length=200)

    class Meta:
        model = Conversation
        fields = ["conversation_id", "channel", "created_at"]
        read_only_fields = ["created_at"]


class MessageSerializer(serializers.ModelSerializer):
    user_journey = serializers.IntegerField(source="workspace.user_journey_id", read_only=True)
    message_id = serializers.CharField(
        source="external_id", max_length=200, required=False, default="", allow_blank=True
    )

    class Meta:
        model = Message
        fields = ["id", "user_journey", "sender", "body", "step_key", "message_id", "created_at"]
        read_only_fields = ["id", "user_journey", "created_at"]


class ResumeSerializer(serializers.Serializer):
    user_journey = serializers.IntegerField(source="workspace.user_journey_id")
    journey = serializers.CharField(source="workspace.user_journey.journey.name")
    state = serializers.CharField()
    current_step = serializers.CharField()
    last_activity_at = serializers.DateTimeField(source="workspace.last_activity_at")
    open_tasks = TaskSerializer(many=True)
    decisions = DecisionSerializer(many=True)
    messages = MessageSerializer(many=True)


class ExportSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = ["id", "status", "pages", "error", "created_at", "finished_at", "download"]

    def get_download(self, export: Export) -> str | None:
        if export.status != Export.Status.READY:
            return None
        return f"/api/v1/user-journeys/{export.workspace.user_journey_id}/exports/{export.pk}/download"
