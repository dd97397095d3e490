from workspace.models.collaboration import Activity, Collaborator, Comment, Invitation, Mention, Task
from workspace.models.conversations import Conversation, Message
from workspace.models.costs import Budget, Expense, Quote
from workspace.models.decisions import Decision
from workspace.models.exports import Export
from workspace.models.files import Attachment, BeforeAfterPair, ResearchItem
from workspace.models.spaces import Role, SoftDeleteQuerySet, Workspace

__all__ = [
    "Activity",
    "Attachment",
    "BeforeAfterPair",
    "Budget",
    "Collaborator",
    "Comment",
    "Conversation",
    "Decision",
    "Expense",
    "Export",
    "Invitation",
    "Mention",
    "Message",
    "Quote",
    "ResearchItem",
    "Role",
    "SoftDeleteQuerySet",
    "Task",
    "Workspace",
]
