"""The journey builder in the admin: journey and step editing, the step graph, dry runs, and the
screens operators watch runs with (timelines, dead letters, overdue runs)."""
