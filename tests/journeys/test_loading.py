"""Rows the engine reads in bulk are built without ``Model.__init__``, and are the same rows."""

import pytest
from django.db.models.signals import post_init

from journeys.models import Participant, StepRun, UserJourney
from journeys.services.enrolment import Enrolment, user_journeys_enrol
from tests.journeys.factories import make_journey, tag_step

pytestmark = pytest.mark.django_db


def fields(row) -> dict:
    return {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields}


def enrolled() -> UserJourney:
    journey = make_journey([tag_step("a", "a", delay_minutes=5)])
    participant = Participant.objects.create(user_id="loaded", attributes={"plan": "pro"})
    [user_journey] = user_journeys_enrol(enrolments=[Enrolment(journey=journey, participant=participant)])
    return user_journey


def test_a_row_read_whole_is_the_row_django_would_build():
    user_journey = enrolled()

    for model, pk in (
        (UserJourney, user_journey.pk),
        (StepRun, user_journey.step_runs.get().pk),
        (Participant, user_journey.participant_id),
    ):
        quick = model.objects.get(pk=pk)
        plain = model(*fields(quick).values())  # Django's own __init__, positionally
        assert fields(quick) == fields(plain)
        assert not quick._state.adding and quick._state.db == "default"
        assert model.objects.filter(pk=pk).only("pk").get().pk == pk  # deferred: Django's loader


def test_a_row_read_quickly_keeps_its_state_machine_protected_and_can_be_saved():
    user_journey = UserJourney.objects.get(pk=enrolled().pk)

    with pytest.raises(AttributeError):
        user_journey.state = UserJourney.State.COMPLETED  # only a transition may change it
    user_journey.current_step = "moved"
    user_journey.save(update_fields=["current_step"])
    user_journey.refresh_from_db()
    assert user_journey.current_step == "moved"
    assert user_journey.participant.attributes == {"plan": "pro"}


def test_a_model_with_init_receivers_is_loaded_by_its_init():
    pk = enrolled().participant_id
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Participant)
    try:
        participant = Participant.objects.get(pk=pk)
    finally:
        post_init.disconnect(receiver, sender=Participant)
    assert seen == [participant]
