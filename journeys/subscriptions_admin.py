"""Admin screens of webhook subscriptions: endpoints, their deliveries with every try, re-send."""

from django.contrib import admin, messages
from django.utils.html import format_html

from journeys.errors import ValidationFailed
from journeys.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from journeys.services.subscriptions import webhook_delivery_resend, webhook_subscription_save


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "event_types", "state", "consecutive_failures", "disabled_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]
    fields = ["name", "url", "event_types", "active", "secret", "consecutive_failures", "disabled_reason"]
    readonly_fields = ["secret", "consecutive_failures", "disabled_reason"]
    actions = ["enable"]

    @admin.display(description="State")
    def state(self, obj: WebhookSubscription):
        if obj.active:
            return "active"
        return format_html('<strong class="errornote">disabled</strong> {}', obj.disabled_reason[:120])

    def save_model(self, request, obj, form, change) -> None:
        data = {name: form.cleaned_data[name] for name in ("name", "url", "event_types", "active")}
        try:
            saved = webhook_subscription_save(
                subscription=obj if change else None, data=data, actor=request.user
            )
        except ValidationFailed as exc:
            for field, problems in exc.errors.items():
                self.message_user(request, f"Not saved: {field}: {' '.join(problems)}", messages.ERROR)
            return
        obj.pk = saved.pk

    @admin.action(description="Enable the selected subscriptions again", permissions=["change"])
    def enable(self, request, queryset) -> None:
        for subscription in queryset.filter(active=False):
            webhook_subscription_save(subscription=subscription, data={"active": True}, actor=request.user)
        self.message_user(request, "Enabled; re-send their failed deliveries under Webhook deliveries.")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["at", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "subscription",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "subscription"]
    list_select_related = ["subscription", "event"]
    fields = ["subscription", "event", "status", "attempts", "next_attempt_at", "last_error", "delivered_at"]
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["resend"]

    @admin.display(description="Event type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Re-send the selected deliveries", permissions=["change"])
    def resend(self, request, queryset) -> None:
        for delivery in queryset:
            webhook_delivery_resend(delivery=delivery)
        self.message_user(request, f"{queryset.count()} deliveries queued to be sent again.")
