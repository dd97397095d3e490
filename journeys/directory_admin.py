"""The service directory in the admin: services with their kind, endpoint, health and signing
secret (generated, shown once, masked after, rotated after confirmation), and their calls."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from journeys.crypto import secret_mask
from journeys.models import Service, ServiceCall, ServiceCallAttempt
from journeys.services import directory as directory_services

SERVICE_FIELDS = [
    "key",
    "name",
    "kind",
    "handler",
    "endpoint_url",
    "health_check_url",
    "active",
    "description",
]


class ServiceForm(forms.ModelForm):
    endpoint_url = forms.URLField(
        required=False, assume_scheme="https", help_text=Service._meta.get_field("endpoint_url").help_text
    )
    health_check_url = forms.URLField(
        required=False, assume_scheme="https", help_text=Service._meta.get_field("health_check_url").help_text
    )

    class Meta:
        model = Service
        fields = SERVICE_FIELDS


class ServiceAdmin(admin.ModelAdmin):
    """Directory services. Saving a service that stage tasks wait for wakes them up."""

    form = ServiceForm
    list_display = ["key", "name", "kind", "endpoint_url", "configured", "health_status", "active"]
    list_filter = ["kind", "active", "health_status"]
    search_fields = ["key", "name", "endpoint_url"]
    readonly_fields = ["signing_secret", "health_status", "health_checked_at", "health_detail", "updated_at"]
    actions = ["rotate_secrets", "check_health"]
    fields = [*SERVICE_FIELDS[:5], "signing_secret", *SERVICE_FIELDS[5:], *readonly_fields[1:]]

    @admin.display(description="Configured", boolean=True)
    def configured(self, service: Service) -> bool:
        return not service.needs_configuration

    @admin.display(description="Signing secret")
    def signing_secret(self, service: Service):
        if not service.pk:
            return "Generated when the service is saved, and shown once."
        return format_html(
            '<code>{}</code> <a href="{}" class="rotate-secret">Rotate</a>',
            secret_mask(service.secret),
            reverse(self._url_name("rotate_secret"), args=[service.pk]),
        )

    def save_model(self, request, obj: Service, form, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in SERVICE_FIELDS if name in form.cleaned_data}
        if change:
            directory_services.service_update(service=obj, data=data)
        else:
            created, secret = directory_services.service_create(data=data)
            obj.pk = created.pk
            self.message_user(
                request,
                format_html("The signing secret, shown only this once: <code>{}</code>", secret),
                messages.WARNING,
            )

    def _url_name(self, name: str) -> str:
        opts = self.model._meta
        return f"admin:{opts.app_label}_{opts.model_name}_{name}"

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<int:pk>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name=f"{opts.app_label}_{opts.model_name}_rotate_secret",
            ),
            *super().get_urls(),
        ]

    def _rotation_page(self, request, services: list, *, confirmed: bool, **extra) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Rotate signing secrets",
            "subjects": [f"{service.key} ({service.name})" for service in services],
            "subject_label": self.model._meta.verbose_name.capitalize(),
            "back_url": reverse(self._url_name("changelist")),
            **extra,
        }
        if confirmed:
            context["secrets"] = [
                (service.key, directory_services.service_secret_rotate(service=service))
                for service in services
            ]
        return TemplateResponse(request, "admin/secret_rotate.html", context)

    def rotate_secret_view(self, request, pk: int):
        """Confirm, then give one service a new signing secret and show it this once."""
        service = get_object_or_404(self.model, pk=pk)
        if not self.has_change_permission(request, service):
            raise PermissionDenied
        confirmed = request.method == "POST" and request.POST.get("confirm") == "yes"
        back = reverse(self._url_name("change"), args=[service.pk])
        return self._rotation_page(request, [service], confirmed=confirmed, original=service, back_url=back)

    @admin.action(description="Rotate the signing secrets of the selected services", permissions=["change"])
    def rotate_secrets(self, request, queryset):
        services = list(queryset.order_by("key"))
        return self._rotation_page(
            request,
            services,
            confirmed=request.POST.get("confirm") == "yes",
            selected=[service.pk for service in services],
            action="rotate_secrets",
        )

    @admin.action(description="Check the health of the selected services", permissions=["change"])
    def check_health(self, request, queryset) -> None:
        for service in queryset.order_by("key"):
            checked = directory_services.service_health_check(service=service)
            self.message_user(request, f"{checked.key}: {checked.get_health_status_display()}")


admin.site.register(Service, ServiceAdmin)


class ServiceCallAttemptInline(admin.TabularInline):
    model = ServiceCallAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ["at", "status_code", "duration_ms", "error"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ServiceCall)
class ServiceCallAdmin(admin.ModelAdmin):
    """What milestones asked of directory services and what they answered, try by try."""

    list_display = ["id", "reference", "step_key", "role", "status", "attempts", "created_at"]
    list_filter = ["status", "role"]
    search_fields = ["reference", "step_key"]
    inlines = [ServiceCallAttemptInline]
    readonly_fields = [
        "user_journey",
        "step_run",
        "step_key",
        "role",
        "reference",
        "service",
        "operation",
        "status",
        "attempts",
        "max_attempts",
        "next_attempt_at",
        "request",
        "response",
        "error",
        "created_at",
        "finished_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False
