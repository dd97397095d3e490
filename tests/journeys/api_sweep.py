"""Every operation of the OpenAPI schema, called with real ids: for sweeping the whole API with
one credential after another (see ``test_api_permissions_sweep`` and ``test_roles``).

The schema is generated in the test process, so an operation added anywhere is swept at once.
Each call runs in a savepoint that is rolled back, so a permitted DELETE or transition leaves the
rows in place for the next call.
"""

import functools
import re
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from journeys.models import Service, StepRun, UserJourney, WebhookSubscription
from journeys.services.enrolment import user_journey_enrol
from journeys.services.template_files import templates_bundled_load
from rules.models import Milestone
from stages.models import Agent, UnitOfWork, WorkTask
from tests.journeys.factories import (
    ApiKeyFactory,
    EntityMappingFactory,
    EventFactory,
    ParticipantFactory,
    make_journey,
)
from tests.rules.factories import FlagFactory, RuleFactory
from tests.stages.factories import criteria_pipeline, start, task

METHODS = ("get", "post", "put", "patch", "delete")
# Operations anyone may call: they take a username and password (or a refresh token) in the body.
PUBLIC_OPERATIONS = {"POST /api/v1/auth/token/", "POST /api/v1/auth/token/refresh/"}
INGEST_OPERATION = "POST /api/v1/events"
# Participants' operations (the workspace): decided per journey by the person's role in it, not by
# staff roles; swept role by role in tests/workspace/test_access.py.
PARTICIPANT_TAG = "workspace"
EVENT = {"type": "signup", "user_id": "sweep-1", "idempotency_key": "sweep-1"}


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    path: str  # as the schema writes it: /api/v1/journeys/{id}
    anonymous: bool = field(default=False, compare=False)  # the schema asks for no credentials
    participant: bool = field(default=False, compare=False)  # a workspace operation

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@functools.cache
def schema_operations() -> tuple[Operation, ...]:
    """Every operation of ``/api/schema/``, as the schema view generates it."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return tuple(
        Operation(
            method.upper(),
            path,
            anonymous="security" not in op or {} in op["security"],
            participant=PARTICIPANT_TAG in op.get("tags", []),
        )
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in METHODS
    )


def protected_operations() -> list[Operation]:
    return [op for op in schema_operations() if str(op) not in PUBLIC_OPERATIONS]


def staff_operations() -> list[Operation]:
    """The operations staff roles govern (everything but participants' workspaces)."""
    return [op for op in protected_operations() if not op.participant]


def outsider_refused(operation: Operation, status: int) -> bool:
    """What someone without permissions gets: 403 from staff operations; from a participant's
    workspace 404 (it is not theirs, and ids reveal nothing) or 403 (a service key is no person);
    their own (empty) list of journeys; and 400 for accepting an invitation without a token."""
    if not operation.participant:
        return status == 403
    if str(operation) == "GET /api/v1/me/journeys":
        return status in (200, 403)
    if str(operation) == "POST /api/v1/invitations/accept":
        return status in (400, 403)
    return status in (403, 404)


def url_of(operation: Operation, ids: dict[str, str]) -> str:
    """The operation's path with real ids: ``segment/{param}`` first, else ``{param}``."""

    def fill(match: re.Match) -> str:
        segment, param = match.group(1), match.group(2)
        for key in (f"{segment}/{{{param}}}", f"{{{param}}}"):
            if key in ids:
                return f"{segment}/{ids[key]}"
        raise AssertionError(
            f"{operation}: no row for path parameter {{{param}}}; add one to the world fixture "
            "in tests/journeys/api_sweep.py"
        )

    path = re.sub(r"([^/{}]+)/\{(\w+)\}", fill, operation.path)
    # A parameter right after another (``milestones/{journey_id}/{key}``) has no segment of its own.
    return re.sub(r"/\{(\w+)\}", lambda m: f"/{ids[f'{{{m.group(1)}}}']}", path)


def call(client: APIClient, operation: Operation, ids: dict[str, str], body=None):
    """Send the operation (a JSON body for writes) and roll back whatever it wrote."""
    url = url_of(operation, ids)
    send = getattr(client, operation.method.lower())
    with transaction.atomic():
        if operation.method == "GET":
            response = send(url)
        else:
            response = send(url, body if body is not None else {}, format="json")
        transaction.set_rollback(True)
    return response


def sweep(client: APIClient, ids: dict[str, str], expected) -> list[str]:
    """Call every protected operation; the ones whose status ``expected(operation, status)``
    refuses, as ``"METHOD path → status"`` lines (all of them, not just the first)."""
    wrong = []
    for operation in protected_operations():
        body = EVENT if str(operation) == INGEST_OPERATION else None
        response = call(client, operation, ids, body)
        if not expected(operation, response.status_code):
            wrong.append(f"{operation} → {response.status_code}")
    return wrong


# ----------------------------------------------------------------------------------------------
# Credentials
# ----------------------------------------------------------------------------------------------
def jwt_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def api_key_client(user, *, scope: str) -> APIClient:
    api_key = ApiKeyFactory(user=user, scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory.full_key(api_key)}")
    return client


# ----------------------------------------------------------------------------------------------
# One of every row a path can name
# ----------------------------------------------------------------------------------------------
def workspace_world(run: UserJourney) -> dict[str, str]:
    """A workspace on the run with one row of every kind its paths name."""
    from django.contrib.auth import get_user_model

    from workspace.models import (
        Attachment,
        Collaborator,
        Comment,
        Conversation,
        Decision,
        Export,
        Quote,
        ResearchItem,
        Task,
        Workspace,
    )

    workspace = Workspace.objects.create(user_journey=run)
    friend = get_user_model().objects.create(username="sweep-friend")
    rows = {
        "attachments/{id}": Attachment.objects.create(
            workspace=workspace, kind="document", filename="a.txt", content_type="text/plain", size=1,
            sha256="0" * 64, file="workspace/sweep/a.txt",
        ),
        "decisions/{id}": Decision.objects.create(workspace=workspace, question="q", chosen="c"),
        "quotes/{id}": Quote.objects.create(
            workspace=workspace, category="c", vendor="v", amount=1, currency="EUR"
        ),
        "research/{id}": ResearchItem.objects.create(workspace=workspace, title="t", url="https://example.com"),
        "collaborators/{id}": Collaborator.objects.create(workspace=workspace, user=friend, role="viewer"),
        "comments/{id}": Comment.objects.create(workspace=workspace, body="hi"),
        "tasks/{id}": Task.objects.create(workspace=workspace, title="t"),
        "exports/{id}": Export.objects.create(workspace=workspace),
    }  # fmt: skip
    conversation = Conversation.objects.create(workspace=workspace, external_id="sweep-chat")
    return {
        **{key: str(row.pk) for key, row in rows.items()},
        "{conversation_id}": conversation.external_id,
    }


@pytest.fixture
def world(db, django_capture_on_commit_callbacks) -> dict[str, str]:
    """Real rows for every path parameter of the API, keyed as ``url_of`` looks them up."""
    participant = ParticipantFactory(user_id="sweep-participant")
    event = EventFactory(participant=participant)
    mapping = EntityMappingFactory()
    subscription = WebhookSubscription.objects.create(
        name="sweep", url="https://hooks.example.com/journeys", event_types=["journey.*"]
    )
    journey = make_journey([{"key": "review", "name": "Review", "kind": "manual"}])
    with django_capture_on_commit_callbacks(execute=True):
        run = user_journey_enrol(journey=journey, user_id=participant.user_id)
    step_run = StepRun.objects.filter(user_journey=run).first()
    rule = RuleFactory()
    FlagFactory(participant=participant)
    Milestone.objects.create(
        participant=participant,
        milestone="mentor_ready",
        reached_at=timezone.now(),
        triggered_by_rule="manual",
    )
    criteria_pipeline(tasks={"sandbox": {"setup": [task("demo", intent="manual")]}})
    with django_capture_on_commit_callbacks(execute=True):
        staged = start("sweep-client")
    unit = UnitOfWork.objects.filter(journey=staged).first()
    work_task = WorkTask.objects.filter(unit=unit).first()
    assert step_run and unit and work_task and UserJourney.objects.filter(pk=run.pk).exists()
    agent = Agent.objects.create(key="sweep-agent", name="Sweep agent")
    Service.objects.create(key="review", name="A directory service named like the sweep's {key}")
    templates_bundled_load()
    return {
        **workspace_world(run),
        "journeys/{id}": str(journey.pk),
        "events/{id}": str(event.pk),
        "entity-mappings/{id}": str(mapping.pk),
        "webhook-subscriptions/{id}": str(subscription.pk),
        "user-journeys/{id}": str(run.pk),
        "step-runs/{id}": str(step_run.pk),
        "{user_journey_id}": str(run.pk),
        "{journey_id}": str(journey.pk),
        "{user_id}": participant.user_id,
        "{key}": "review",
        "{milestone}": "mentor_ready",
        "{rule_id}": rule.rule_id,
        "{name}": "onboarding",
        "templates/{key}": "onboarding",
        "versions/{number}": "1",
        "{client_id}": staged.client_id,
        "{work_id}": str(unit.work_id),
        "{task_id}": str(work_task.task_id),
        "{agent_id}": agent.agent_id,
        "{slug}": "seed",
        "{stage}": "sandbox",
        "{criterion_key}": "search_quality",
        "{purpose}": "setup",
        "{task_key}": "demo",
    }
