"""Routes of the template library: ``/api/v1/templates…``."""

from django.urls import path

from journeys.api import template_views as t

urlpatterns = [
    path("templates", t.TemplateListCreateView.as_view(), name="templates"),
    path("templates/import", t.TemplateImportView.as_view(), name="template-import"),
    path("templates/<slug:key>", t.TemplateDetailView.as_view(), name="template-detail"),
    path("templates/<slug:key>/publish", t.TemplatePublishView.as_view(), name="template-publish"),
    path("templates/<slug:key>/share", t.TemplateShareView.as_view(), name="template-share"),
    path("templates/<slug:key>/versions", t.TemplateVersionListView.as_view(), name="template-versions"),
    path(
        "templates/<slug:key>/versions/<int:number>",
        t.TemplateVersionDetailView.as_view(),
        name="template-version-detail",
    ),
    path("templates/<slug:key>/reviews", t.TemplateReviewListView.as_view(), name="template-reviews"),
    path("templates/<slug:key>/export", t.TemplateExportView.as_view(), name="template-export"),
    path("templates/<slug:key>/journeys", t.TemplateJourneyCreateView.as_view(), name="template-journeys"),
]
