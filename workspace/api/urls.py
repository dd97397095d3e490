from django.urls import path

from workspace.api import collaboration_views as people
from workspace.api import conversation_views, decision_views, file_views, views

P = "user-journeys/<int:user_journey_id>/"

urlpatterns = [
    path("me/journeys", views.MyJourneysView.as_view(), name="my-journeys"),
    path("invitations/accept", people.InvitationAcceptView.as_view(), name="invitation-accept"),
    path(P + "workspace", views.WorkspaceView.as_view(), name="workspace"),
    path(P + "attachments", file_views.AttachmentsView.as_view(), name="attachments"),
    path(P + "attachments/<int:pk>", file_views.AttachmentView.as_view(), name="attachment"),
    path(
        P + "attachments/<int:pk>/content",
        file_views.AttachmentContentView.as_view(),
        name="attachment-content",
    ),
    path(
        P + "attachments/<int:pk>/near-duplicates",
        file_views.NearDuplicatesView.as_view(),
        name="near-duplicates",
    ),
    path(P + "before-after", file_views.PairsView.as_view(), name="before-after"),
    path(P + "search", file_views.SearchView.as_view(), name="workspace-search"),
    path(P + "research", file_views.ResearchView.as_view(), name="research"),
    path(P + "research/search", file_views.ResearchSearchView.as_view(), name="research-search"),
    path(P + "research/<int:pk>", file_views.ResearchItemView.as_view(), name="research-item"),
    path(P + "decisions", decision_views.DecisionsView.as_view(), name="decisions"),
    path(P + "decisions/<int:pk>", decision_views.DecisionView.as_view(), name="decision"),
    path(
        P + "decisions/<int:pk>/revisit",
        decision_views.DecisionRevisitView.as_view(),
        name="decision-revisit",
    ),
    path(
        P + "decisions/<int:pk>/rollback",
        decision_views.DecisionRollbackView.as_view(),
        name="decision-rollback",
    ),
    path(
        P + "decisions/<int:pk>/history",
        decision_views.DecisionHistoryView.as_view(),
        name="decision-history",
    ),
    path(P + "budget", decision_views.BudgetView.as_view(), name="budget"),
    path(P + "quotes", decision_views.QuotesView.as_view(), name="quotes"),
    path(P + "quotes/<int:pk>/accept", decision_views.QuoteAcceptView.as_view(), name="quote-accept"),
    path(P + "costs", decision_views.ExpensesView.as_view(), name="costs"),
    path(P + "collaborators", people.CollaboratorsView.as_view(), name="collaborators"),
    path(P + "collaborators/<int:pk>", people.CollaboratorView.as_view(), name="collaborator"),
    path(P + "invitations", people.InvitationsView.as_view(), name="invitations"),
    path(P + "comments", people.CommentsView.as_view(), name="comments"),
    path(P + "comments/<int:pk>", people.CommentView.as_view(), name="comment"),
    path(P + "tasks", people.TasksView.as_view(), name="tasks"),
    path(P + "tasks/<int:pk>", people.TaskView.as_view(), name="task"),
    path(P + "activity", people.ActivityView.as_view(), name="activity"),
    path(P + "conversations", conversation_views.ConversationsView.as_view(), name="conversations"),
    path(
        P + "conversations/<str:conversation_id>/messages",
        conversation_views.MessagesView.as_view(),
        name="messages",
    ),
    path(P + "conversations/resume", conversation_views.ResumeView.as_view(), name="resume"),
    path(P + "exports", file_views.ExportsView.as_view(), name="exports"),
    path(P + "exports/<int:pk>", file_views.ExportView.as_view(), name="export"),
    path(P + "exports/<int:pk>/download", file_views.ExportDownloadView.as_view(), name="export-download"),
]
