"""What the staff roles may do in analytics (the loader is ``journeys.services.roles``).

Analytics is read by every role: its permission belongs to ``"analyst"`` (operators and
designers include analysts), e.g. ``"analyst": ["analytics.view_analytics"]`` once the app
defines that permission. Until then this table grants nothing, and the loader refuses names of
permissions that do not exist.
"""

ROLE_PERMISSIONS: dict[str, list[str]] = {}
