from django.db import models

from journeys.models.loading import LoadedQuickly


class Participant(LoadedQuickly, models.Model):
    """A person or client who goes through journeys, known by the caller's own ``user_id``.

    Created on the first event that names it. ``attributes`` are free-form (``email``,
    ``timezone``, ``language``…) and are read by conditions; ``tags`` is a list of strings that
    journey actions apply and remove.
    """

    user_id = models.CharField(max_length=255, unique=True)
    attributes = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.user_id
