"""What the staff roles may do in the rules engine (the loader is ``journeys.services.roles``)."""

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Reads rules, flags with their history, milestones.
    "analyst": ["rules.view_rule", "rules.view_flag", "rules.view_flaghistory", "rules.view_milestone"],
    # Re-evaluates a participant's rules and records a milestone by hand.
    "operator": ["rules.evaluate_rule", "rules.add_milestone"],
    # Writes rules, and previews and backtests them while doing so.
    "designer": ["rules.add_rule", "rules.change_rule", "rules.delete_rule", "rules.evaluate_rule"],
}
