"""Admin screens of the template library: templates with their versions (read-only: a published
version never changes) and reviews; publish, share and export actions; importing a file.

Every change goes through the template services, so the admin and the API keep the same rules.
Staff see the templates they may see through the API; superusers see every template not deleted.
"""

import io
import zipfile

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from journeys.errors import Conflict, ValidationFailed
from journeys.models import JourneyTemplate, TemplateReview, TemplateVersion
from journeys.selectors import templates as selectors
from journeys.services import template_files
from journeys.services import templates as services
from journeys.services.templates import NotTheAuthor

EDITABLE = ("key", "name", "journey_type", "description", "definition")


class JourneyTemplateForm(forms.ModelForm):
    """Checks the definition as the API does, so problems show next to the field."""

    class Meta:
        model = JourneyTemplate
        fields = EDITABLE

    def clean_definition(self):
        definition = self.cleaned_data.get("definition")
        errors = services.template_definition_errors(definition)
        if errors:
            raise forms.ValidationError(
                [f"{path}: {' '.join(problems)}" for path, problems in errors.items()]
            )
        return definition


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A template file (.yaml, .yml or .json) as exported.")
    visibility = forms.ChoiceField(
        choices=JourneyTemplate.Visibility.choices, initial=JourneyTemplate.Visibility.PRIVATE
    )


class TemplateVersionInline(admin.TabularInline):
    model = TemplateVersion
    fields = ["number", "published_at", "published_by", "changelog", "definition"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-number"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class TemplateReviewInline(admin.TabularInline):
    model = TemplateReview
    fields = ["user", "rating", "text", "updated_at"]
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(JourneyTemplate)
class JourneyTemplateAdmin(admin.ModelAdmin):
    form = JourneyTemplateForm
    list_display = ["key", "name", "journey_type", "visibility", "author", "latest", "rating"]
    list_filter = ["journey_type", "visibility"]
    search_fields = ["key", "name", "description"]
    readonly_fields = ["visibility", "author"]
    inlines = [TemplateVersionInline, TemplateReviewInline]
    actions = ["publish", "share_with_staff", "put_in_catalogue", "export_yaml", "export_json"]

    def get_queryset(self, request):
        if request.user.is_superuser:
            return selectors.templates_live()
        return selectors.templates_visible_to(request.user)

    @admin.display(description="Latest version", ordering="latest_version")
    def latest(self, obj: JourneyTemplate):
        return obj.latest_version or "—"

    @admin.display(description="Rating", ordering="average_rating")
    def rating(self, obj: JourneyTemplate) -> str:
        if obj.average_rating is None:
            return "—"
        return f"{obj.average_rating:.1f} ({obj.review_count})"

    def save_model(self, request, obj, form, change) -> None:
        data = {name: form.cleaned_data[name] for name in EDITABLE if name in form.cleaned_data}
        if change:
            saved = services.template_update(template=obj, data=data, actor=request.user)
        else:
            saved = services.template_create(data=data, actor=request.user)
        obj.pk = saved.pk

    def delete_model(self, request, obj) -> None:
        services.template_delete(template=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for template in queryset:
            services.template_delete(template=template, actor=request.user)

    # ------------------------------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------------------------------
    @admin.action(description="Publish the drafts as new versions", permissions=["publish"])
    def publish(self, request, queryset) -> None:
        for template in queryset:
            try:
                version = services.template_publish(template=template, actor=request.user)
            except (ValidationFailed, Conflict) as exc:
                detail = (
                    "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
                    if isinstance(exc, ValidationFailed)
                    else exc.message
                )
                self.message_user(request, f"{template.key} not published: {detail}", messages.ERROR)
                continue
            self.message_user(
                request, f"{template.key}: version {version.number} published.", messages.SUCCESS
            )

    def _share(self, request, queryset, visibility: str) -> None:
        for template in queryset:
            try:
                shared = services.template_share(template=template, visibility=visibility, actor=request.user)
            except ValidationFailed as exc:
                self.message_user(
                    request, f"{template.key}: {' '.join(exc.errors['visibility'])}", messages.ERROR
                )
                continue
            except NotTheAuthor as exc:
                self.message_user(request, f"{template.key}: {exc.message}", messages.ERROR)
                continue
            self.message_user(request, f"{template.key}: {shared.get_visibility_display().lower()}.")

    @admin.action(description="Share with staff", permissions=["publish"])
    def share_with_staff(self, request, queryset) -> None:
        self._share(request, queryset, JourneyTemplate.Visibility.STAFF)

    @admin.action(description="Put in the catalogue", permissions=["publish"])
    def put_in_catalogue(self, request, queryset) -> None:
        self._share(request, queryset, JourneyTemplate.Visibility.CATALOGUE)

    def has_publish_permission(self, request) -> bool:
        return request.user.has_perm("journeys.publish_journeytemplate")

    def _export(self, queryset, file_format: str) -> HttpResponse:
        files = {
            f"{t.key}.{file_format}": template_files.template_dumps(
                template_files.template_document(template=t), file_format=file_format
            )
            for t in queryset.order_by("key")
        }
        if len(files) == 1:
            [(name, text)] = files.items()
            response = HttpResponse(text, content_type=f"application/{file_format}")
        else:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, text in files.items():
                    archive.writestr(name, text)
            name = "templates.zip"
            response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @admin.action(description="Export as YAML", permissions=["view"])
    def export_yaml(self, request, queryset) -> HttpResponse:
        return self._export(queryset, "yaml")

    @admin.action(description="Export as JSON", permissions=["view"])
    def export_json(self, request, queryset) -> HttpResponse:
        return self._export(queryset, "json")

    # ------------------------------------------------------------------------------------------
    # Import
    # ------------------------------------------------------------------------------------------
    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="journeys_journeytemplate_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        """Upload a template file; every problem is shown on the form, nothing half-imported."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            file_format = "json" if upload.name.lower().endswith(".json") else "yaml"
            try:
                text = upload.read(template_files.MAX_FILE_BYTES + 1).decode()
                document = template_files.template_loads(text, file_format=file_format)
                template = template_files.template_import(
                    document=document, actor=request.user, visibility=form.cleaned_data["visibility"]
                )
            except UnicodeDecodeError:
                form.add_error("file", "Not a text file (UTF-8).")
            except ValidationFailed as exc:
                for field, problems in exc.errors.items():
                    form.add_error("file", f"{field}: {' '.join(problems)}")
            else:
                self.message_user(request, f"Imported {template.key}.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:journeys_journeytemplate_change", args=[template.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import a template",
            "form": form,
        }
        return TemplateResponse(request, "admin/journeys/journeytemplate/import.html", context)


@admin.register(TemplateReview)
class TemplateReviewAdmin(admin.ModelAdmin):
    """Moderation: staff read reviews and delete the ones that should not stay."""

    list_display = ["template", "user", "rating", "updated_at"]
    list_filter = ["rating"]
    list_select_related = ["template", "user"]
    search_fields = ["template__key", "user__username", "text"]
    readonly_fields = ["template", "user", "rating", "text", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False
