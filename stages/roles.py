"""What the staff roles may do in staged lifecycles (the loader is ``journeys.services.roles``)."""

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Reads pipelines, staged journeys with their history, snapshots, measurements, units of work.
    "analyst": [
        "stages.view_pipeline",
        "stages.view_pipelinestage",
        "stages.view_exitcriterion",
        "stages.view_tasktemplate",
        "stages.view_stagedjourney",
        "stages.view_stagetransition",
        "stages.view_snapshot",
        "stages.view_measurement",
        "stages.view_unitofwork",
        "stages.view_worktask",
    ],
    # Moves clients through the stages, records evidence, operates units of work.
    "operator": [
        "stages.add_stagedjourney",
        "stages.change_stagedjourney",
        "stages.promote_stagedjourney",
        "stages.rollback_stagedjourney",
        "stages.cancel_stagedjourney",
        "stages.add_measurement",
        "stages.record_approval",
        "stages.change_unitofwork",
        "stages.change_worktask",
    ],
    # Builds pipelines: stages, exit criteria, task templates and the agents tasks call.
    "designer": [
        "stages.add_pipeline",
        "stages.change_pipeline",
        "stages.delete_pipeline",
        "stages.add_pipelinestage",
        "stages.change_pipelinestage",
        "stages.delete_pipelinestage",
        "stages.add_exitcriterion",
        "stages.change_exitcriterion",
        "stages.delete_exitcriterion",
        "stages.add_tasktemplate",
        "stages.change_tasktemplate",
        "stages.delete_tasktemplate",
        "stages.view_agent",
        "stages.add_agent",
        "stages.change_agent",
        "stages.delete_agent",
    ],
}
