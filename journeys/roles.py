"""What the staff roles may do in journeys (the loader is ``journeys.services.roles``).

Each role lists what it adds to the roles it includes: operators and designers read what
analysts read.
"""

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Reads journeys, their runs and step runs, participants, the event log and entity records.
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
        "journeys.view_entitymapping",
        "journeys.view_entityrecord",
        "journeys.view_webhooksubscription",
        "journeys.view_webhookdelivery",
        "journeys.view_webhookattempt",
        "journeys.view_journeytemplate",
        "journeys.view_templateversion",
        "journeys.view_templatereview",
        "journeys.view_servicecall",
        "journeys.view_servicecallattempt",
    ],
    # Runs journeys: enrols, pauses, resumes, cancels, advances; retries or skips dead letters.
    "operator": [
        "journeys.change_userjourney",
        "journeys.operate_userjourney",
        "journeys.retry_steprun",
    ],
    # Builds and publishes journeys and templates (and reviews others' templates), and maps events
    # to the entities rules read.
    "designer": [
        "journeys.add_journey",
        "journeys.change_journey",
        "journeys.delete_journey",
        "journeys.publish_journey",
        "journeys.add_step",
        "journeys.change_step",
        "journeys.delete_step",
        "journeys.add_entitymapping",
        "journeys.change_entitymapping",
        "journeys.delete_entitymapping",
        "journeys.add_webhooksubscription",
        "journeys.change_webhooksubscription",
        "journeys.delete_webhooksubscription",
        "journeys.change_webhookdelivery",
        "journeys.add_journeytemplate",
        "journeys.change_journeytemplate",
        "journeys.delete_journeytemplate",
        "journeys.publish_journeytemplate",
        "journeys.add_templatereview",
        "journeys.view_service",
        "journeys.add_service",
        "journeys.change_service",
        "journeys.delete_service",
    ],
}
