"""Staff roles as Django groups: what designers, operators and analysts of journeys may do.

The API and the admin both check Django permissions, so membership of these groups is all a
staff member needs. The loader is idempotent and only adds permissions: permissions staff
granted to a group by hand are kept (other apps add theirs to the same groups).
"""

from django.contrib.auth.models import Group, Permission

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Builds and publishes journeys; sees how they run.
    "designer": [
        "journeys.add_journey",
        "journeys.change_journey",
        "journeys.delete_journey",
        "journeys.view_journey",
        "journeys.publish_journey",
        "journeys.add_step",
        "journeys.change_step",
        "journeys.delete_step",
        "journeys.view_step",
        "journeys.view_journeyversion",
        "journeys.view_userjourney",
        "journeys.view_steprun",
        "journeys.view_participant",
        "journeys.view_event",
    ],
    # Runs them: enrols, pauses, resumes, cancels, advances; retries or skips dead letters.
    "operator": [
        "journeys.view_journey",
        "journeys.view_step",
        "journeys.view_journeyversion",
        "journeys.view_userjourney",
        "journeys.change_userjourney",
        "journeys.operate_userjourney",
        "journeys.view_steprun",
        "journeys.retry_steprun",
        "journeys.view_rewardledger",
        "journeys.view_participant",
        "journeys.view_event",
    ],
    # Reads everything, changes nothing.
    "analyst": [
        "journeys.view_journey",
        "journeys.view_step",
        "journeys.view_journeyversion",
        "journeys.view_userjourney",
        "journeys.view_steprun",
        "journeys.view_rewardledger",
        "journeys.view_userjourneylog",
        "journeys.view_participant",
        "journeys.view_event",
    ],
}


def staff_roles_load() -> str:
    """Create the role groups and give them their journey permissions."""
    added = 0
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        existing = set(group.permissions.values_list("pk", flat=True))
        missing = [p for p in wanted if p.pk not in existing]
        group.permissions.add(*missing)
        added += len(missing)
    return f"roles {', '.join(ROLE_PERMISSIONS)}: {added} permissions added"
