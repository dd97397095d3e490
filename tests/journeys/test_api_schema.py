"""The OpenAPI schema tells the truth: what the API answers is what /api/schema/ says it answers.

The last test runs Schemathesis against a live server on every operation, as a superuser's
full-scope API key, with a bounded, derandomised number of generated requests per operation.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from journeys.models import ApiKey
from journeys.services.api_keys import api_key_create

SCHEMA = "/api/schema/"
LIST_OPERATIONS = [
    "/api/v1/events",
    "/api/v1/participants",
    "/api/v1/participants/{user_id}/records",
    "/api/v1/entity-mappings",
    "/api/v1/journeys",
    "/api/v1/user-journeys",
    "/api/v1/step-runs",
    "/api/v1/stages/journeys",
    "/api/v1/stages/journeys/{client_id}/events",
]
MAX_EXAMPLES = 6  # generated requests per operation in the fuzzing phase (the coverage phase adds its own)


@pytest.fixture
def schema(api_client) -> dict:
    return yaml.safe_load(api_client.get(SCHEMA).content)


def response_schema(schema: dict, path: str, method: str, code: str) -> dict:
    content = schema["paths"][path][method]["responses"][code]["content"]["application/json"]
    ref = content["schema"].get("$ref", "")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else content["schema"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", LIST_OPERATIONS)
def test_list_endpoints_are_documented_as_pages(schema, path):
    page = response_schema(schema, path, "get", "200")

    assert {"next", "previous", "results"} <= set(page["properties"])
    assert page["properties"]["results"]["type"] == "array"
    names = {p["name"] for p in schema["paths"][path]["get"]["parameters"]}
    assert {"cursor", "page_size"} <= names


@pytest.mark.django_db
def test_filters_are_documented_as_query_parameters(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/events"]["get"]["parameters"]}

    assert {"user_id", "type", "status", "occurred_after", "occurred_before"} <= set(parameters)
    assert parameters["status"]["schema"]["enum"] == ["failed", "pending", "processed", "processing"]
    page_size = next(
        p for p in schema["paths"]["/api/v1/user-journeys"]["get"]["parameters"] if p["name"] == "page_size"
    )
    assert (page_size["schema"]["minimum"], page_size["schema"]["maximum"]) == (1, 500)


@pytest.mark.django_db
def test_error_answers_are_documented(schema):
    publish = schema["paths"]["/api/v1/journeys/{id}/publish"]["post"]["responses"]
    detail = schema["paths"]["/api/v1/events/{id}"]["get"]["responses"]
    create = schema["paths"]["/api/v1/participants"]["post"]["responses"]

    assert {"400", "401", "403", "404", "409"} <= set(publish)
    assert {"401", "403", "404"} <= set(detail)
    assert {"400", "409", "413", "415"} <= set(create)


@pytest.mark.django_db
def test_an_unknown_query_parameter_on_a_list_is_refused_naming_the_known_ones(admin_api):
    answer = admin_api.get("/api/v1/user-journeys", {"journey_id": 1})

    assert answer.status_code == 400
    assert answer.json() == {
        "journey_id": [
            "Unknown query parameter; this list knows: cursor, journey, page_size, state, user_id."
        ]
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/journeys", {"is_active": "maybe"}),
        ("/api/v1/step-runs", {"journey": "1.5"}),
        ("/api/v1/events", {"status": "lost"}),
        ("/api/v1/journey/rules", {"active": "yes please"}),
        ("/api/v1/journey/rules", {"flags": "x"}),
    ],
)
def test_invalid_filter_values_are_refused(admin_api, url, params):
    answer = admin_api.get(url, params)

    assert answer.status_code == 400
    assert set(answer.json()) == set(params)


@pytest.mark.django_db
def test_valid_filters_still_filter(admin_api):
    call_command("bootstrap", "--no-demo", verbosity=0)

    active = admin_api.get("/api/v1/journey/rules", {"active": "true"})
    none = admin_api.get("/api/v1/journey/rules", {"flag": "no_such_flag"})

    assert active.status_code == 200 and active.json()["count"] >= 1
    assert none.json() == {"rules": [], "count": 0}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_server_error_no_schema_violation_and_no_undocumented_status(
    live_server, admin_user, tmp_path
):
    call_command("bootstrap", verbosity=0)  # defaults and the demo: operations reach real rows
    _, key = api_key_create(name="schemathesis", user=admin_user, scope=ApiKey.Scope.FULL)
    report = tmp_path / "report.xml"

    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{live_server.url}{SCHEMA}",
            "--url",
            live_server.url,
            "--header",
            f"Authorization: Api-Key {key}",
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--generation-deterministic",
            "--workers",
            "2",
            "--request-timeout",
            "30",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        cwd=tmp_path,  # its cache of crashes stays out of the repository
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    selected, total = re.search(r"Selected: (\d+)/(\d+)", result.stdout).groups()
    assert selected == total and int(total) > 70  # every operation of the schema was exercised
