"""The admin home page's figures (``{% analytics_home as home %}``), for staff who read analytics."""

from django import template

from analytics.selectors.operations import home_summary

register = template.Library()


@register.simple_tag(takes_context=True)
def analytics_home(context) -> dict | None:
    request = context.get("request")
    if request is None or not request.user.has_perm("analytics.view_analytics"):
        return None
    return home_summary()
