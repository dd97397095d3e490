"""The bus sends a worker only the events some subscriber can do something with: the product's
own announcements that nobody listens to are stored processed at once."""

import pytest

from journeys.models import Event, Participant, UserJourney, WebhookSubscription
from journeys.services.events import EventInput, events_ingest
from rules.models import Flag
from tests.journeys.factories import make_journey, tag_step
from tests.rules.factories import RuleFactory, definition

pytestmark = pytest.mark.django_db


def announce(type: str = "journey.milestone.completed", user_id: str = "ada", key: str = "1:1") -> Event:
    """A ``journey.*`` event as the engine publishes it, its commit callbacks run."""
    [result] = events_ingest(
        events=[EventInput(type=type, user_id=user_id, source="journeys", idempotency_key=f"{type}:{key}")]
    )
    return Event.objects.get(pk=result.id)


def test_an_announcement_nobody_listens_to_is_stored_processed_without_a_worker_message(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        event = announce()
    assert event.status == Event.Status.PROCESSED
    assert event.processed_at is not None
    assert callbacks == []  # no dispatch after commit


def test_an_event_from_outside_always_goes_to_a_worker(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        [result] = events_ingest(events=[EventInput(type="nobody.cares", user_id="ada")])
    assert Event.objects.get(pk=result.id).status == Event.Status.PENDING
    assert len(callbacks) == 1


def test_an_announcement_a_webhook_subscription_matches_is_sent_to_a_worker(
    django_capture_on_commit_callbacks,
):
    WebhookSubscription.objects.create(
        name="crm", url="https://crm.example.com/hooks", event_types=["journey.*"]
    )
    with django_capture_on_commit_callbacks() as callbacks:
        event = announce()
    assert event.status == Event.Status.PENDING
    assert callbacks


def test_an_announcement_a_journey_is_triggered_by_enters_it(django_capture_on_commit_callbacks):
    make_journey([tag_step("t", "followed-up")], trigger_type="journey.completed")
    with django_capture_on_commit_callbacks(execute=True):
        event = announce("journey.completed", user_id="bo")
    event.refresh_from_db()
    assert event.status == Event.Status.PROCESSED
    assert UserJourney.objects.filter(participant__user_id="bo").exists()


def test_announcements_do_not_evaluate_rules_that_read_only_records():
    RuleFactory()  # counts records: a journey's step cannot change its outcome
    assert announce().status == Event.Status.PROCESSED


def test_announcements_evaluate_rules_that_read_tags(django_capture_on_commit_callbacks):
    vip = definition(
        rule_id="vip_001",
        flag="vip",
        conditions=[{"type": "attribute", "field": "tags", "operator": "contains", "value": "vip"}],
        actions=[{"type": "set_flag", "flag": "vip", "value": True}],
    )
    RuleFactory(rule_id="vip_001", flag="vip", rule_config=vip)
    Participant.objects.create(user_id="ada", tags=["vip"])  # as a tag step leaves it
    with django_capture_on_commit_callbacks(execute=True):
        event = announce()
    event.refresh_from_db()
    assert event.status == Event.Status.PROCESSED
    assert event.subscriber_results["rules.evaluate"]["status"] == "ok"
    assert Flag.objects.get(participant__user_id="ada", flag="vip").value is True


def test_a_batch_of_announcements_is_judged_once_per_type_and_source():
    from journeys import bus

    asked: list[tuple[str, str]] = []

    def interest():
        def predicate(event) -> bool:
            asked.append((event.type, event.source))
            return event.type == "journey.completed"

        return predicate

    bus.subscribe("journey.*", lambda event: None, name="tests.counting", interest=interest)
    try:
        kinds = ["journey.milestone.completed", "journey.completed"]
        stored = events_ingest(
            events=[
                EventInput(type=kinds[i % 2], user_id=f"p{i}", source="journeys", idempotency_key=f"k{i}")
                for i in range(40)
            ]
        )
    finally:
        bus.unsubscribe("tests.counting")

    assert sorted(asked) == [("journey.completed", "journeys"), ("journey.milestone.completed", "journeys")]
    statuses = dict(
        Event.objects.filter(pk__in=[r.id for r in stored]).values_list("type", "status").distinct()
    )
    assert statuses == {"journey.completed": Event.Status.PENDING, "journey.milestone.completed": "processed"}
