"""Write-side use cases of the rules engine (rules, evaluation, flags and milestones)."""
