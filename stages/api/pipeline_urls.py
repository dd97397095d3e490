"""Routes of pipelines and their parts (included by ``stages.api.urls``)."""

from django.urls import path

from stages.api import pipeline_views as views

pipeline = "pipelines/<slug:slug>"
stage = f"{pipeline}/stages/<str:stage>"

urlpatterns = [
    path("pipelines", views.PipelineListCreateView.as_view(), name="stages-pipelines"),
    path(pipeline, views.PipelineDetailView.as_view(), name="stages-pipeline-detail"),
    path(f"{pipeline}/stages", views.PipelineStageCreateView.as_view(), name="stages-pipeline-stages"),
    path(stage, views.PipelineStageDetailView.as_view(), name="stages-pipeline-stage-detail"),
    path(f"{stage}/criteria", views.ExitCriterionCreateView.as_view(), name="stages-pipeline-criteria"),
    path(
        f"{stage}/criteria/<str:criterion_key>",
        views.ExitCriterionDetailView.as_view(),
        name="stages-pipeline-criterion-detail",
    ),
    path(f"{stage}/tasks", views.TaskTemplateCreateView.as_view(), name="stages-pipeline-tasks"),
    path(
        f"{stage}/tasks/<str:purpose>/<str:task_key>",
        views.TaskTemplateDetailView.as_view(),
        name="stages-pipeline-task-detail",
    ),
]
