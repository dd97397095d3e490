"""Serializers of the journeys API, one module per entity (as the views are)."""
