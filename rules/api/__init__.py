"""The rules engine HTTP API under /api/v1/journey/ (paths as the seed document gives them)."""
