"""What the staff roles may do in analytics (the loader is ``journeys.services.roles``).

Analytics is read by every role: its permission belongs to ``"analyst"``, and operators and
designers include analysts.
"""

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Metrics, funnels, recommendations, the dashboard, the overdue list, /metrics in a browser.
    "analyst": ["analytics.view_analytics"],
}
