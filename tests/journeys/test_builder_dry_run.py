"""The dry run ("test with this participant"): the path and every condition with its actual value,
without side effects — no rows, no emails, no webhooks."""

import pytest
from django.apps import apps
from django.core import mail
from django.urls import reverse

from journeys.models import Participant, StepRun
from journeys.services.dry_run import EventWaits, journey_dry_run
from journeys.services.enrolment import user_journey_enrol
from tests.journeys.factories import ParticipantFactory, action, make_journey, tag_step

pytestmark = pytest.mark.django_db

ROUTED = [
    tag_step("start", "started", order=0),
    {
        "key": "route",
        "name": "Route",
        "kind": "branch",
        "order": 1,
        "next_steps": [
            {"step": "pro", "condition": {"field": "payload.plan", "op": "eq", "value": "pro"}},
            {"step": "vip", "condition": {"field": "attributes.vip", "op": "eq", "value": True}},
            "free",
        ],
    },
    tag_step("pro", "pro", order=2, next_steps=["check"]),
    tag_step("vip", "vip", order=3, next_steps=["check"]),
    tag_step("free", "free", order=4, next_steps=["check"]),
    tag_step("check", "checked", order=5, condition={"field": "attributes.vip", "op": "exists"}),
    tag_step(
        "skipped", "never", order=6, condition={"field": "attributes.country", "op": "eq", "value": "NO"}
    ),
    {
        "key": "ab",
        "name": "A/B",
        "kind": "split",
        "order": 7,
        "config": {
            "variants": [
                {"name": "a", "weight": 1, "step": "reward"},
                {"name": "b", "weight": 1, "step": "end"},
            ]
        },
    },
    action("reward", "grant_reward", {"reward": "bonus", "amount": 5}, order=8),
    {"key": "end", "name": "End", "kind": "end", "order": 9},
]


def path_of(result) -> list[tuple[str, str]]:
    return [(s.key, s.outcome) for s in result.steps]


def test_the_path_shows_each_decision_with_the_values_it_read():
    ParticipantFactory(user_id="ada", attributes={"vip": True, "country": "SE"})
    journey = make_journey(ROUTED)

    result = journey_dry_run(journey=journey, user_id="ada", payload={"plan": "free"})

    assert path_of(result)[:5] == [
        ("start", "would run"),
        ("route", "would run"),
        ("vip", "would run"),
        ("check", "would run"),
        ("skipped", "skipped"),
    ]
    route = result.steps[1].trace["next"]
    assert route["chosen"] == "vip"
    assert route["considered"][0]["condition"] == {
        "field": "payload.plan",
        "op": "eq",
        "value": "pro",
        "actual": "free",
        "result": False,
    }
    assert route["considered"][1]["condition"]["actual"] is True
    assert result.steps[3].trace["condition"]["actual"] is True
    assert result.steps[4].trace["condition"] == {
        "field": "attributes.country",
        "op": "eq",
        "value": "NO",
        "actual": "SE",
        "result": False,
    }
    assert result.steps[5].trace["split"]["variant"] in {"a", "b"}
    assert result.source == "draft"
    live = journey_dry_run(
        journey=journey, user_id="ada", payload={"plan": "free"}, version=journey.live_version
    )
    assert live.source == "version 1" and path_of(live) == path_of(result)
    assert result.entry["allowed"] is True


@pytest.mark.parametrize("user_id", ["ada", "bob", "cy", "dee", "eve"])
def test_the_dry_run_predicts_the_path_the_engine_takes(user_id, django_capture_on_commit_callbacks):
    ParticipantFactory(user_id=user_id, attributes={"vip": user_id in {"bob", "dee"}})
    journey = make_journey(ROUTED)
    payload = {"plan": "pro" if user_id == "cy" else "free"}

    predicted = journey_dry_run(journey=journey, user_id=user_id, payload=payload)
    with django_capture_on_commit_callbacks(execute=True):
        run = user_journey_enrol(journey=journey, user_id=user_id, context=payload)

    actual = list(StepRun.objects.filter(user_journey=run).order_by("seq").values_list("step_key", "status"))
    assert [(s.key, s.status) for s in predicted.steps] == actual
    run.refresh_from_db()
    assert predicted.steps[-1].key in {"reward", "end"} and run.state == "completed"


def test_a_dry_run_writes_nothing_sends_nothing_and_calls_nothing(
    client, admin_user, webhook_sink, django_capture_on_commit_callbacks
):
    ParticipantFactory(user_id="ada", attributes={"email": "ada@example.com"}, tags=["old"])
    journey = make_journey(
        [
            action("mail", "send_email", {"subject": "Hi {{ attributes.email }}", "body": "Welcome"}),
            action(
                "hook",
                "trigger_webhook",
                {"url": f"{webhook_sink.url}/hook", "payload": {"p": "{{ payload.plan }}"}},
            ),
            tag_step("tag", "new"),
            action("reward", "grant_reward", {"reward": "bonus", "amount": 5}),
            action("emit", "emit_event", {"type": "onboarded"}),
        ]
    )
    models = [m for m in apps.get_app_config("journeys").get_models()]
    before = {m.__name__: m.objects.count() for m in models}
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.get(
            reverse("admin:journeys_journey_dry_run", args=[journey.pk]),
            {
                "user_id": "ada",
                "payload": '{"plan": "pro"}',
                "version": journey.live_version_id,
                "event_waits": "arrive",
            },
        )
        client.get(
            reverse("admin:journeys_journey_dry_run", args=[journey.pk]),
            {"user_id": "nobody-yet", "version": "draft", "event_waits": "arrive"},
        )

    assert response.status_code == 200
    page = response.content.decode()
    assert [row["step"].key for row in response.context["rows"]] == ["mail", "hook", "tag", "reward", "emit"]
    assert "Hi ada@example.com" in page  # the rendered preview of the email
    assert "whsec_" not in page  # the webhook's secret is never shown
    assert callbacks == []
    assert mail.outbox == []
    assert webhook_sink.requests == []
    assert {m.__name__: m.objects.count() for m in models} == before
    assert Participant.objects.get(user_id="ada").tags == ["old"]
    assert not Participant.objects.filter(user_id="nobody-yet").exists()


def test_waits_follow_the_assumptions_chosen():
    journey = make_journey(
        [
            {
                "key": "wait",
                "name": "Wait",
                "kind": "wait_for_event",
                "order": 0,
                "config": {"event": "paid", "timeout": "3 days", "timeout_step": "dun"},
                "next_steps": ["review"],
            },
            tag_step("dun", "dunned", order=1, next_steps=["review"]),
            {
                "key": "review",
                "name": "Review",
                "kind": "manual",
                "order": 2,
                "next_steps": [
                    {"step": "ok", "condition": {"field": "steps.review.score", "op": "gte", "value": 7}},
                    "ko",
                ],
            },
            tag_step("ok", "ok", order=3, completion=True),
            tag_step("ko", "ko", order=4),
        ]
    )
    arrives = journey_dry_run(journey=journey, user_id="u", step_results={"review": {"score": 9}})
    assert path_of(arrives) == [("wait", "waits"), ("review", "waits"), ("ok", "would run")]
    assert arrives.end == "completed by 'ok' (a completion step)"

    times_out = journey_dry_run(journey=journey, user_id="u", event_waits=EventWaits.TIMEOUT)
    assert [s.key for s in times_out.steps] == ["wait", "dun", "review", "ko"]
    assert times_out.steps[2].trace["next"]["considered"][0]["condition"]["missing"] is True
    assert (times_out.steps[1].at - times_out.now).days == 3


def test_the_trigger_and_the_re_entry_policy_are_checked_too(client, admin_user):
    journey = make_journey(
        [tag_step("a", "a"), {"key": "m", "name": "M", "kind": "manual"}],
        trigger_conditions={"field": "payload.plan", "op": "eq", "value": "pro"},
        re_entry="after_end",
    )
    user_journey_enrol(journey=journey, user_id="ada")

    result = journey_dry_run(journey=journey, user_id="ada", payload={"plan": "free"})

    assert result.trigger["holds"] is False
    assert result.trigger["trace"]["actual"] == "free"
    assert result.entry == {
        "allowed": False,
        "reason": "A run of this journey is still live; it must end first.",
    }
    client.force_login(admin_user)
    page = client.get(
        reverse("admin:journeys_journey_dry_run", args=[journey.pk]),
        {"user_id": "ada", "payload": '{"plan": "free"}', "version": "draft", "event_waits": "arrive"},
    )
    assert "its conditions do not hold for this payload" in page.content.decode()
    assert "A run of this journey is still live" in page.content.decode()


def test_a_draft_with_problems_is_not_walked_and_the_problems_are_listed(client, admin_user):
    journey = make_journey(
        [tag_step("a", "a", next_steps=["c"]), tag_step("b", "b"), tag_step("c", "c")], publish=False
    )
    client.force_login(admin_user)
    response = client.get(
        reverse("admin:journeys_journey_dry_run", args=[journey.pk]),
        {"user_id": "u", "version": "draft", "event_waits": "arrive"},
    )
    assert response.status_code == 200
    assert response.context["result"] is None
    assert response.context["problems"] == [
        "Step \"b\" > key: Step 'b' cannot be reached from the first step."
    ]


def test_bad_input_is_a_form_error_and_outsiders_are_refused(client, admin_user, make_user):
    journey = make_journey([tag_step("a", "a")])
    client.force_login(admin_user)
    response = client.get(
        reverse("admin:journeys_journey_dry_run", args=[journey.pk]),
        {"user_id": "u", "payload": "[1, 2]", "version": "draft", "event_waits": "arrive"},
    )
    assert response.context["form"].errors == {"payload": ['A JSON object, e.g. {"plan": "premium"}.']}

    outsider = make_user("outsider")
    outsider.is_staff = True
    outsider.save()
    client.force_login(outsider)
    assert client.get(reverse("admin:journeys_journey_dry_run", args=[journey.pk])).status_code == 403


TAG_THEN_CHECK = [
    tag_step("start", "started"),
    tag_step("check", "checked", condition={"field": "tags", "op": "contains", "value": "started"}),
]


def test_a_tag_applied_earlier_is_seen_by_a_later_condition_in_the_dry_run():
    journey = make_journey(TAG_THEN_CHECK)
    result = journey_dry_run(journey=journey, user_id="ada")
    assert path_of(result) == [("start", "would run"), ("check", "would run")]
    assert result.steps[1].trace["condition"]["actual"] == ["started"]


def test_the_engine_agrees_a_tag_applied_earlier_is_seen_in_the_same_walk(django_capture_on_commit_callbacks):
    journey = make_journey(TAG_THEN_CHECK)
    predicted = journey_dry_run(journey=journey, user_id="ada")
    with django_capture_on_commit_callbacks(execute=True):
        run = user_journey_enrol(journey=journey, user_id="ada")
    actual = list(StepRun.objects.filter(user_journey=run).order_by("seq").values_list("step_key", "status"))
    assert [(s.key, s.status) for s in predicted.steps] == actual
