"""Who may do what in a workspace: the one place that decides.

A person's role in a workspace is, in order:

1. ``owner`` when their username is the participant's ``user_id`` (participants sign in with
   the account named by their user id);
2. the role of their collaborator row (``editor``, ``commenter``, ``viewer``);
3. ``moderator`` for staff holding ``workspace.moderate_workspace`` (sees and changes everything);
4. nothing — the workspace does not exist for them (404, never 403, so ids reveal nothing).

Each operation names the ability it needs; ``ABILITIES`` says which roles hold it.
"""

from enum import StrEnum

from workspace.models import Collaborator, Role, Workspace

MODERATOR = "moderator"


class Ability(StrEnum):
    VIEW = "view"  # read everything in the workspace
    COMMENT = "comment"  # comment and mention
    EDIT = "edit"  # files, research, decisions, costs, tasks, chat, exports
    MANAGE = "manage"  # share, invite, remove people, delete the workspace


ABILITIES: dict[Ability, frozenset[str]] = {
    Ability.VIEW: frozenset({Role.OWNER, Role.EDITOR, Role.COMMENTER, Role.VIEWER, MODERATOR}),
    Ability.COMMENT: frozenset({Role.OWNER, Role.EDITOR, Role.COMMENTER, MODERATOR}),
    Ability.EDIT: frozenset({Role.OWNER, Role.EDITOR, MODERATOR}),
    Ability.MANAGE: frozenset({Role.OWNER, MODERATOR}),
}


def role_of(user, workspace: Workspace) -> str | None:
    """The user's role in the workspace, or ``None`` when it is not theirs to see."""
    if user is None or not user.is_authenticated:
        return None
    if workspace.user_journey.participant.user_id == user.get_username():
        return Role.OWNER
    if workspace.pk is not None:  # a workspace not yet opened has no collaborators
        collaborator = Collaborator.objects.filter(workspace=workspace, user=user).only("role").first()
        if collaborator is not None:
            return collaborator.role
    if user.has_perm("workspace.moderate_workspace"):
        return MODERATOR
    return None


def can(user, workspace: Workspace, ability: Ability) -> bool:
    role = role_of(user, workspace)
    return role is not None and role in ABILITIES[ability]


def can_delete_comment(user, workspace: Workspace, comment) -> bool:
    """Authors may take back their own comments; owners and moderators may remove any."""
    if comment.created_by_id == user.pk and can(user, workspace, Ability.COMMENT):
        return True
    return can(user, workspace, Ability.MANAGE)
