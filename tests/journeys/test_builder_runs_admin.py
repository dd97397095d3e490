"""What operators see and do in the admin: a user journey's timeline with traces, pause / resume /
cancel, dead letters (retry, skip) and overdue runs with their lateness."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from journeys.models import StepRun, UserJourney
from journeys.services.enrolment import user_journey_enrol
from tests.journeys.builder_helpers import messages_of
from tests.journeys.factories import ParticipantFactory, action, make_journey, tag_step

pytestmark = pytest.mark.django_db

BRANCHING = [
    tag_step("start", "started"),
    {
        "key": "route",
        "name": "Route",
        "kind": "branch",
        "next_steps": [
            {"step": "pro", "condition": {"field": "payload.plan", "op": "eq", "value": "pro"}},
            "wait",
        ],
    },
    tag_step("pro", "pro", next_steps=["wait"]),
    {"key": "wait", "name": "Wait a day", "kind": "wait", "config": {"duration": "1 day"}},
    tag_step("late", "late", condition={"field": "attributes.country", "op": "eq", "value": "NO"}),
]


@pytest.fixture
def operator(client, make_user):
    user = make_user(
        "operator",
        "journeys.view_userjourney",
        "journeys.operate_userjourney",
        "journeys.view_steprun",
        "journeys.retry_steprun",
    )
    user.is_staff = True
    user.save()
    client.force_login(user)
    return client


@pytest.fixture
def run(django_capture_on_commit_callbacks) -> UserJourney:
    ParticipantFactory(user_id="ada", attributes={"country": "SE"})
    journey = make_journey(BRANCHING, name="Branching")
    with django_capture_on_commit_callbacks(execute=True):
        return user_journey_enrol(journey=journey, user_id="ada", context={"plan": "free"})


def page_of(client, user_journey: UserJourney) -> str:
    response = client.get(reverse("admin:journeys_userjourney_change", args=[user_journey.pk]))
    assert response.status_code == 200
    return response.content.decode()


def operate(client, user_journey: UserJourney, operation: str):
    return client.post(
        reverse("admin:journeys_userjourney_operate", args=[user_journey.pk, operation]), follow=True
    )


def test_the_timeline_shows_each_step_run_and_why_it_went_where_it_went(operator, run):
    page = page_of(operator, run)

    assert 'data-step="start" data-status="succeeded"' in page
    assert 'data-step="route" data-status="succeeded"' in page
    assert 'data-step="wait" data-status="scheduled"' in page
    assert 'data-step="pro"' not in page.split('id="timeline"')[1]  # not taken
    # Why the branch went to "wait": the condition, the value it read, the verdict.
    assert (
        '<code>payload.plan = &quot;pro&quot;</code> — actual <code class="actual">&quot;free&quot;</code>'
        in page
    )
    assert "went to <strong>wait</strong>" in page
    # The graph of the version, with the path coloured.
    assert 'class="step kind-action status-succeeded" data-step="start"' in page
    assert 'class="step kind-wait status-scheduled" data-step="wait"' in page
    assert "0% — 0 of" not in page  # progress is shown and counts done steps


def test_a_skipped_step_shows_the_condition_that_was_false(operator, run, dispatch):
    dispatch(later=timedelta(days=1, minutes=1))
    page = page_of(operator, run)
    assert 'data-step="late" data-status="skipped"' in page
    assert (
        '<code>attributes.country = &quot;NO&quot;</code> — actual <code class="actual">&quot;SE&quot;</code>'
        in page
    )


def test_pause_resume_and_cancel_go_through_the_services(operator, run):
    assert f'formaction="/admin/journeys/userjourney/{run.pk}/operate/pause/"' in page_of(operator, run)

    response = operate(operator, run, "pause")
    assert "Paused." in messages_of(response)
    run.refresh_from_db()
    assert run.state == UserJourney.State.PAUSED
    assert "paused" in run.log.values_list("action", flat=True)

    response = operate(operator, run, "pause")  # not allowed twice: a message, not an error page
    assert response.status_code == 200
    assert "Cannot pause: not allowed while the journey is paused." in messages_of(response)

    operate(operator, run, "resume")
    run.refresh_from_db()
    assert run.state == UserJourney.State.ACTIVE

    operate(operator, run, "cancel")
    run.refresh_from_db()
    assert run.state == UserJourney.State.CANCELLED
    assert StepRun.objects.get(user_journey=run, step_key="wait").status == StepRun.Status.CANCELLED
    assert "formaction" not in page_of(operator, run).split('id="timeline"')[1]  # nothing left to do


def test_bulk_actions_report_the_journeys_they_could_not_change(
    operator, run, django_capture_on_commit_callbacks
):
    other = UserJourney.objects.get(pk=run.pk)
    with django_capture_on_commit_callbacks(execute=True):
        second = user_journey_enrol(journey=run.journey, user_id="bob")
    operate(operator, other, "pause")

    response = operator.post(
        reverse("admin:journeys_userjourney_changelist"),
        {"action": "pause", "_selected_action": [run.pk, second.pk]},
        follow=True,
    )

    shown = messages_of(response)
    assert "Paused: 1 user journey(s)." in shown
    assert f"Not paused: #{run.pk}: not allowed while the journey is paused" in shown
    assert UserJourney.objects.get(pk=second.pk).state == UserJourney.State.PAUSED


def test_without_the_operate_permission_there_are_no_buttons_and_no_way_round(client, make_user, run):
    viewer = make_user("analyst", "journeys.view_userjourney")
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    assert "/operate/" not in page_of(client, run)
    assert operate(client, run, "cancel").status_code == 403
    assert UserJourney.objects.get(pk=run.pk).state == UserJourney.State.ACTIVE


def test_the_list_filters_by_journey_and_state(operator, run, django_capture_on_commit_callbacks):
    other_journey = make_journey([tag_step("a", "a")], name="Other")
    with django_capture_on_commit_callbacks(execute=True):
        finished = user_journey_enrol(journey=other_journey, user_id="bob")
    url = reverse("admin:journeys_userjourney_changelist")

    by_journey = operator.get(url, {"journey__id__exact": run.journey_id})
    assert [uj.pk for uj in by_journey.context["cl"].result_list] == [run.pk]
    by_state = operator.get(url, {"state__exact": "completed"})
    assert [uj.pk for uj in by_state.context["cl"].result_list] == [finished.pk]


# ------------------------------------------------------------------------------------------------
# Dead letters and overdue runs
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def dead_letter(webhook_sink, django_capture_on_commit_callbacks) -> StepRun:
    webhook_sink.status = 500
    journey = make_journey(
        [
            action("hook", "trigger_webhook", {"url": f"{webhook_sink.url}/hook"}, max_attempts=1),
            tag_step("after", "after"),
        ],
        name="Webhook",
    )
    with django_capture_on_commit_callbacks(execute=True):
        user_journey = user_journey_enrol(journey=journey, user_id="ada")
    run = StepRun.objects.get(user_journey=user_journey, step_key="hook")
    assert run.status == StepRun.Status.FAILED and run.dead_lettered_at is not None
    return run


def test_dead_letters_are_listed_and_retried_from_the_timeline(
    operator, dead_letter, webhook_sink, django_capture_on_commit_callbacks
):
    listing = operator.get(reverse("admin:journeys_steprun_changelist"), {"queue": "dead"})
    assert [r.pk for r in listing.context["cl"].result_list] == [dead_letter.pk]
    assert "Dead letters" in listing.content.decode()
    page = page_of(operator, dead_letter.user_journey)
    assert f'formaction="/admin/journeys/steprun/{dead_letter.pk}/dead-letter/retry/"' in page

    webhook_sink.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            reverse("admin:journeys_steprun_operate", args=[dead_letter.pk, "retry"]),
            {"next": reverse("admin:journeys_userjourney_change", args=[dead_letter.user_journey_id])},
            follow=True,
        )

    assert "Retried 1 step run(s)." in messages_of(response)
    dead_letter.refresh_from_db()
    assert dead_letter.status == StepRun.Status.SUCCEEDED
    assert len(webhook_sink.requests) == 2  # the failed try and the retry
    user_journey = UserJourney.objects.get(pk=dead_letter.user_journey_id)
    assert user_journey.state == UserJourney.State.COMPLETED
    assert (
        not operator.get(reverse("admin:journeys_steprun_changelist"), {"queue": "dead"})
        .context["cl"]
        .result_list
    )


def test_a_dead_letter_skipped_from_the_list_lets_the_journey_go_on(
    operator, dead_letter, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            reverse("admin:journeys_steprun_changelist"),
            {"action": "skip", "_selected_action": [dead_letter.pk]},
            follow=True,
        )
    assert "Skipped 1 step run(s)." in messages_of(response)
    dead_letter.refresh_from_db()
    assert dead_letter.status == StepRun.Status.SKIPPED
    user_journey = UserJourney.objects.get(pk=dead_letter.user_journey_id)
    assert user_journey.state == UserJourney.State.COMPLETED
    assert user_journey.participant.tags == ["after"]

    # Skipping it again is refused with the reason, not an error page.
    response = operator.post(
        reverse("admin:journeys_steprun_changelist"),
        {"action": "skip", "_selected_action": [dead_letter.pk]},
        follow=True,
    )
    assert any(m.startswith(f"Not skipped: #{dead_letter.pk} (hook):") for m in messages_of(response))


def test_retrying_needs_the_permission(client, make_user, dead_letter):
    viewer = make_user("analyst", "journeys.view_steprun", "journeys.view_userjourney")
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    response = client.post(reverse("admin:journeys_steprun_operate", args=[dead_letter.pk, "retry"]))
    assert response.status_code == 403
    assert "dead-letter/retry" not in page_of(client, dead_letter.user_journey)
    assert StepRun.objects.get(pk=dead_letter.pk).status == StepRun.Status.FAILED


def test_overdue_runs_are_listed_with_their_lateness(operator, run):
    waiting = StepRun.objects.get(user_journey=run, step_key="wait")
    url = reverse("admin:journeys_steprun_changelist")
    assert not operator.get(url, {"queue": "overdue"}).context["cl"].result_list  # due tomorrow

    StepRun.objects.filter(pk=waiting.pk).update(due_at=timezone.now() - timedelta(minutes=3))
    response = operator.get(url, {"queue": "overdue"})

    assert [r.pk for r in response.context["cl"].result_list] == [waiting.pk]
    assert "3 min overdue" in response.content.decode()
    assert "Overdue step runs" in response.content.decode()
    assert "3 min overdue" in page_of(operator, run)  # on the timeline too

    # A paused journey's due runs wait on purpose: they are not overdue.
    operate(operator, run, "pause")
    assert not operator.get(url, {"queue": "overdue"}).context["cl"].result_list


def test_step_runs_are_read_only(operator, run):
    step_run = StepRun.objects.filter(user_journey=run).first()
    page = operator.get(reverse("admin:journeys_steprun_change", args=[step_run.pk]))
    assert page.status_code == 200
    assert operator.post(reverse("admin:journeys_steprun_change", args=[step_run.pk]), {}).status_code == 403
    assert operator.get(reverse("admin:journeys_steprun_add")).status_code == 403
