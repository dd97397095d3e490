"""Pipelines through the API, as a designer builds them, an analyst reads them and an operator
runs journeys on them; validated as the admin validates them."""

import copy
import re

import pytest
from django.contrib.auth.models import Group

from journeys.services.roles import staff_roles_load
from stages.models import ExitCriterion, Pipeline, TaskTemplate
from tests.seed_docs import seed_text
from tests.stages.factories import agent, criteria_pipeline, start, task

pytestmark = pytest.mark.django_db

BASE = "/api/v1/stages/pipelines"
DEFINITION = {
    "slug": "fast-track",
    "name": "Fast track",
    "stages": {
        "sandbox": {
            "auto_promote": False,
            "criteria": [
                {"key": "search_quality", "label": "Search > 80%", "kind": "metric",
                 "operator": "gt", "threshold": 0.8},
                {"key": "demo_approved", "label": "Demo approved", "kind": "approval"},
            ],
            "setup": [
                {"key": "provision", "name": "Provision", "intent": "provision_test_dataset",
                 "agent_id": "dataops-agent", "params": {"dataset": "sample"}},
                {"key": "demo", "name": "Demo", "intent": "manual", "depends_on": ["provision"]},
            ],
        }
    },
}  # fmt: skip


def as_role(make_user, client_for, role: str):
    staff_roles_load()
    user = make_user(f"a-{role}")
    user.groups.add(Group.objects.get(name=role))
    return client_for(user)


@pytest.fixture
def designer(make_user, client_for):
    agent("dataops-agent")
    return as_role(make_user, client_for, "designer")


@pytest.fixture
def analyst(make_user, client_for):
    return as_role(make_user, client_for, "analyst")


@pytest.fixture
def operator(make_user, client_for):
    return as_role(make_user, client_for, "operator")


def created(api, definition=DEFINITION) -> dict:
    response = api.post(BASE, definition, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


# --- pipelines ----------------------------------------------------------------------------------
def test_a_designer_creates_a_pipeline_and_an_operator_starts_a_journey_on_it(designer, operator):
    body = created(designer)
    sandbox = body["stages"]["sandbox"]
    assert [c["expectation"] for c in sandbox["criteria"]] == [
        "search_quality > 0.8",
        "demo_approved approved",
    ]
    assert [(t["key"], t["depends_on"]) for t in sandbox["setup"]] == [
        ("provision", []),
        ("demo", ["provision"]),
    ]
    assert sandbox["auto_promote"] is False and body["journeys_total"] == 0

    response = operator.post("/api/v1/stages/journeys", {"client_id": "client-9", "pipeline": "fast-track"})
    assert response.status_code == 201, response.json()
    assert designer.get(f"{BASE}/fast-track").json()["journeys_active"] == 1


def test_the_seed_exit_rules_become_a_pipeline_through_the_api(designer):
    """Seed 002 §8.2, read from the document: each stage's rules, as criteria of one pipeline."""
    rules = re.search(r"### 8\.2 Validation Rules\n(.*?)\n---", seed_text("002"), re.DOTALL)[1]
    stages = dict(
        zip(
            ["sandbox", "pilot", "production"],
            re.split(r"\n\d\. \*\*.*?\*\*:\n", "\n" + rules)[1:],
            strict=True,
        )
    )
    definition = {"slug": "seed-rules", "name": "Seed rules", "stages": {}}
    for stage, text in stages.items():
        labels = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- ")]
        criteria = []
        for position, label in enumerate(labels):
            key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:60] or f"rule_{position}"
            key = key if key[0].isalpha() else f"rule_{key}"
            threshold = re.search(r">\s*(\d+(?:\.\d+)?)(%?)", label)
            if threshold:
                value = float(threshold[1]) / (100 if threshold[2] else 1)
                criteria.append({"key": key, "label": label, "operator": "gt", "threshold": value})
            else:
                criteria.append({"key": key, "label": label, "kind": "approval"})
        definition["stages"][stage] = {"criteria": criteria}
    body = created(designer, definition)
    assert [c["label"] for c in body["stages"]["sandbox"]["criteria"]] == [
        "All connectors syncing",
        "Search quality >80%",
        "Security scan passed",
        "Demo approved by client",
    ]
    pilot = {c["label"]: c["expectation"] for c in body["stages"]["pilot"]["criteria"]}
    assert pilot["Search quality >85%"] == "search_quality_85 > 0.85"
    assert pilot["User satisfaction >4.0/5.0"].endswith("> 4")
    assert len(body["stages"]["production"]["criteria"]) == 3


SANDBOX = "stages.sandbox"


def _first_task(**fields):
    return lambda d: d["stages"]["sandbox"]["setup"][0].update(**fields)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda d: d["stages"]["sandbox"]["criteria"][0].pop("threshold"),
            f"{SANDBOX}.criteria.search_quality.threshold",
        ),
        (_first_task(agent_id="nobody"), f"{SANDBOX}.setup.provision.agent_id"),
        (_first_task(params={}), f"{SANDBOX}.setup.provision.params.dataset"),
        (_first_task(intent="teleport"), f"{SANDBOX}.setup.provision.intent"),
        (_first_task(depends_on=["demo"]), f"{SANDBOX}.tasks"),
    ],
)
def test_a_bad_definition_is_refused_naming_the_field_and_nothing_is_written(designer, change, field):
    definition = copy.deepcopy(DEFINITION)
    change(definition)
    response = designer.post(BASE, definition, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Pipeline.objects.filter(slug="fast-track").exists()


def test_bad_shapes_are_refused_by_field(designer):
    response = designer.post(BASE, {"slug": "x y", "name": "", "stages": {"staging": {}}}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"slug", "name", "stages"}
    created(designer)
    again = designer.post(BASE, DEFINITION, format="json")
    assert again.status_code == 400 and "slug" in again.json()


def test_making_a_pipeline_the_default_takes_over_and_a_default_cannot_just_stop(designer):
    old = criteria_pipeline(slug="old", is_default=True)
    created(designer)
    response = designer.patch(f"{BASE}/fast-track", {"is_default": True, "name": "Fast"}, format="json")
    assert response.status_code == 200 and response.json()["is_default"] is True
    old.refresh_from_db()
    assert old.is_default is False
    refused = designer.patch(f"{BASE}/fast-track", {"is_default": False}, format="json")
    assert refused.status_code == 400 and "is_default" in refused.json()
    assert [p["slug"] for p in designer.get(BASE, {"is_default": "true"}).json()["results"]] == ["fast-track"]


def test_a_pipeline_journeys_used_is_not_deleted_and_an_unused_one_is(designer):
    criteria_pipeline(slug="default", is_default=True)
    created(designer)
    start("client-1", pipeline=Pipeline.objects.get(slug="fast-track"))
    response = designer.delete(f"{BASE}/fast-track")
    assert response.status_code == 409
    assert response.json()["code"] == "pipeline_in_use" and response.json()["journeys"] == 1
    assert designer.delete(f"{BASE}/default").json()["code"] == "pipeline_is_default"

    created(designer, {**DEFINITION, "slug": "unused"})
    assert designer.delete(f"{BASE}/unused").status_code == 204
    assert designer.get(f"{BASE}/unused").status_code == 404
    assert not TaskTemplate.objects.filter(pipeline_stage__pipeline__slug="unused").exists()


def test_lists_are_paginated_and_unknown_filters_refused(designer):
    for slug in ("a", "b", "c"):
        created(designer, {**DEFINITION, "slug": slug})
    first = designer.get(BASE, {"page_size": 2}).json()
    second = designer.get(first["next"]).json()
    assert [p["slug"] for p in first["results"] + second["results"]] == ["a", "b", "c"]
    assert designer.get(BASE, {"in_use": "false"}).json()["results"][0]["slug"] == "a"
    assert designer.get(BASE, {"slug_contains": "a"}).status_code == 400


# --- stages, criteria, task templates ------------------------------------------------------------
def test_a_stage_is_added_changed_and_removed_while_no_journey_runs(designer):
    created(designer)
    pilot = {"stage": "pilot", "criteria": [{"key": "sla_met", "label": "SLA met", "kind": "approval"}]}
    response = designer.post(f"{BASE}/fast-track/stages", pilot, format="json")
    assert response.status_code == 201 and response.json()["criteria"][0]["key"] == "sla_met"
    assert designer.post(f"{BASE}/fast-track/stages", pilot, format="json").json() == {
        "stage": ["'fast-track' has a pilot stage already; change it."]
    }
    patched = designer.patch(f"{BASE}/fast-track/stages/pilot", {"auto_promote": False}, format="json")
    assert patched.status_code == 200 and patched.json()["auto_promote"] is False

    start("client-1", pipeline=Pipeline.objects.get(slug="fast-track"))
    assert designer.delete(f"{BASE}/fast-track/stages/pilot").status_code == 409
    assert designer.get(f"{BASE}/fast-track/stages/production").status_code == 404


def test_criteria_are_checked_for_their_kind_when_added_or_changed(designer):
    created(designer)
    url = f"{BASE}/fast-track/stages/sandbox/criteria"
    no_events = {"key": "no_incidents", "label": "No incidents", "kind": "no_events"}
    assert designer.post(url, no_events, format="json").json() == {
        "event_type": ["Name the event type (or glob) that must not occur."]
    }
    response = designer.post(url, {**no_events, "event_type": "incident.*"}, format="json")
    assert (
        response.status_code == 201
        and response.json()["expectation"] == "no incident.* event during the stage"
    )
    assert designer.post(url, {**no_events, "event_type": "x"}, format="json").json()["key"]

    patched = designer.patch(f"{url}/search_quality", {"threshold": 0.85}, format="json")
    assert patched.json()["expectation"] == "search_quality > 0.85"
    refused = designer.patch(f"{url}/demo_approved", {"kind": "metric"}, format="json")
    assert set(refused.json()) == {"operator", "threshold"}
    assert designer.patch(f"{url}/search_quality", {"threshold": "nan"}, format="json").status_code == 400
    assert designer.delete(f"{url}/demo_approved").status_code == 204
    kept = ExitCriterion.objects.filter(pipeline_stage__pipeline__slug="fast-track")
    assert list(kept.values_list("key", flat=True)) == ["search_quality", "no_incidents"]


def test_task_templates_keep_each_stage_a_dag(designer):
    created(designer)
    url = f"{BASE}/fast-track/stages/sandbox/tasks"
    scan = {"key": "scan", "name": "Scan", "intent": "manual", "depends_on": ["provison"]}
    assert designer.post(url, scan, format="json").json() == {
        "depends_on": ["Task 'scan' depends on an unknown task 'provison'."]
    }
    assert designer.post(url, {**scan, "depends_on": ["demo"]}, format="json").status_code == 201
    cycle = designer.patch(f"{url}/setup/provision", {"depends_on": ["scan"]}, format="json")
    assert cycle.status_code == 400
    assert cycle.json()["depends_on"] == ["The dependencies form a cycle: demo → provision → scan → demo."]
    renamed = designer.patch(f"{url}/setup/demo", {"key": "client_demo"}, format="json")
    assert renamed.status_code == 400 and "unknown task 'demo'" in renamed.json()["key"][0]

    refused = designer.delete(f"{url}/setup/provision")
    assert refused.status_code == 409 and refused.json()["dependants"] == ["demo"]
    assert designer.delete(f"{url}/setup/scan").status_code == 204
    assert designer.patch(f"{url}/setup/demo", {"max_retries": 5}, format="json").json()["max_retries"] == 5
    assert designer.get(f"{url}/rollback/demo").status_code == 404


def test_analysts_read_pipelines_and_only_designers_change_them(
    designer, analyst, operator, make_user, client_for
):
    created(designer)
    outsider = client_for(make_user("outsider"))
    for url in (BASE, f"{BASE}/fast-track", f"{BASE}/fast-track/stages/sandbox"):
        assert analyst.get(url).status_code == 200
        assert outsider.get(url).status_code == 403
    criterion = f"{BASE}/fast-track/stages/sandbox/criteria/search_quality"
    assert analyst.get(criterion).status_code == 200
    for client in (analyst, operator):
        assert client.post(BASE, {**DEFINITION, "slug": "mine"}, format="json").status_code == 403
        assert client.patch(criterion, {"threshold": 0.1}, format="json").status_code == 403
        assert client.delete(f"{BASE}/fast-track/stages/sandbox/tasks/setup/demo").status_code == 403


def test_the_admin_and_the_api_share_one_validation(designer):
    """A template that names an existing agent and intent is accepted by both ways in."""
    created(designer)
    agent("test-agent")
    response = designer.post(
        f"{BASE}/fast-track/stages/sandbox/tasks",
        {**task("deploy", depends_on=["demo"]), "purpose": "setup"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["agent_id"] == "test-agent"
