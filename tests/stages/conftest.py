import pytest

from journeys.models import Event


@pytest.fixture
def events():
    """The types of the events the stages app emitted, oldest first."""

    def types(client_id: str | None = None) -> list[str]:
        rows = Event.objects.filter(source="stages").order_by("id")
        if client_id:
            rows = rows.filter(participant__user_id=client_id)
        return list(rows.values_list("type", flat=True))

    return types
