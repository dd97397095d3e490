"""Staff roles: the README's matrix of roles and operations is what the API does, operation by
operation; role tables are data that every app adds to, and loading them is idempotent."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured

import journeys.roles
from journeys.services.roles import STAFF_ROLES, staff_role_permissions, staff_roles_load
from rules.models import Rule
from tests.journeys.api_sweep import call, jwt_client, staff_operations, world

__all__ = ["world"]

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
HEADER = re.compile(r"^\| operation \|(?P<roles>( \w+ \|)+)$")
ROW = re.compile(r"^\| `(?P<operation>(GET|POST|PUT|PATCH|DELETE) /api/\S+)` \|(?P<cells>( [✓—] \|)+)$")


def readme_matrix() -> dict[str, dict[str, bool]]:
    """``{"GET /api/v1/journeys": {"analyst": True, …}, …}`` from the README's table."""
    roles: list[str] = []
    matrix: dict[str, dict[str, bool]] = {}
    for line in README.read_text().splitlines():
        if header := HEADER.match(line):
            roles = [cell.strip() for cell in header["roles"].strip(" |").split("|")]
        elif (row := ROW.match(line)) and roles:
            cells = [cell.strip() for cell in row["cells"].strip(" |").split("|")]
            assert row["operation"] not in matrix, f"{row['operation']} is in the README matrix twice"
            matrix[row["operation"]] = {role: cell == "✓" for role, cell in zip(roles, cells, strict=True)}
    return matrix


def as_role(make_user, role: str):
    staff_roles_load()
    user = make_user(f"a-{role}")
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name=role))
    return user


# ----------------------------------------------------------------------------------------------
# The matrix, against the live API
# ----------------------------------------------------------------------------------------------
def test_the_readme_matrix_names_every_operation_of_the_schema_and_every_role():
    matrix = readme_matrix()
    documented = set(matrix)
    operations = {str(op) for op in staff_operations()}
    assert sorted(operations - documented) == [], "operations missing from the README role matrix"
    assert sorted(documented - operations) == [], "README role matrix rows that are not operations"
    assert {role for row in matrix.values() for role in row} == set(STAFF_ROLES)


@pytest.mark.parametrize("role", list(STAFF_ROLES))
def test_each_role_gets_exactly_what_the_readme_matrix_says(role, world, make_user):
    client = jwt_client(as_role(make_user, role))
    matrix = readme_matrix()
    wrong = []
    for operation in staff_operations():
        if str(operation) not in matrix:
            wrong.append(f"{operation}: not in the README matrix (add a row under 'Who may do what')")
            continue
        allowed = matrix[str(operation)][role]
        status = call(client, operation, world).status_code
        if allowed:
            ok = status == 200 if operation.method == "GET" else status not in (401, 403) and status < 500
        else:
            ok = status == 403
        if not ok:
            wrong.append(
                f"{operation}: {'allowed' if allowed else 'refused'} in the README, answered {status}"
            )
    assert wrong == []


def test_an_analyst_reads_rules_flags_milestones_and_staged_journeys(world, make_user):
    analyst = jwt_client(as_role(make_user, "analyst"))
    user_id, client_id = world["{user_id}"], world["{client_id}"]
    for path in [
        "/api/v1/journey/rules",
        f"/api/v1/journey/rules/{world['{rule_id}']}",
        f"/api/v1/journey/flags/{user_id}",
        f"/api/v1/journey/flags/{user_id}/history",
        f"/api/v1/journey/milestones/{user_id}",
        "/api/v1/stages/journeys",
        f"/api/v1/stages/journeys/{client_id}",
        f"/api/v1/stages/journeys/{client_id}/units-of-work",
        f"/api/v1/stages/journeys/{client_id}/events",
    ]:
        assert analyst.get(path).status_code == 200, path
    assert analyst.get(f"/api/v1/journey/rules/{world['{rule_id}']}").json()["rule_id"] == world["{rule_id}"]
    assert analyst.delete(f"/api/v1/journey/rules/{world['{rule_id}']}").status_code == 403


def test_an_operator_moves_a_staged_journey_and_records_evidence_but_edits_no_rule(world, make_user):
    operator = jwt_client(as_role(make_user, "operator"))
    base = f"/api/v1/stages/journeys/{world['{client_id}']}"
    measured = operator.post(f"{base}/measurements", {"values": {"search_quality": 0.9}}, format="json")
    assert measured.status_code == 201, measured.json()
    approved = operator.post(f"{base}/approvals", {"key": "demo_approved", "by": "lead"}, format="json")
    assert approved.status_code == 201, approved.json()
    assert operator.post(f"{base}/cancel", {"reason": "client left"}, format="json").status_code == 200
    assert operator.post("/api/v1/journey/rules", {"rule_id": "x"}, format="json").status_code == 403


# ----------------------------------------------------------------------------------------------
# Role tables
# ----------------------------------------------------------------------------------------------
def test_operators_and_designers_include_everything_analysts_have():
    table = staff_role_permissions()
    assert {"rules.view_rule", "stages.view_stagedjourney", "journeys.view_journey"} <= set(table["analyst"])
    assert set(table["analyst"]) <= set(table["operator"])
    assert set(table["analyst"]) <= set(table["designer"])
    assert "journeys.operate_userjourney" not in table["designer"]
    assert "rules.change_rule" not in table["operator"]


def test_loading_the_roles_twice_adds_nothing_and_keeps_grants_made_by_hand():
    staff_roles_load()
    analyst = Group.objects.get(name="analyst")
    by_hand = Permission.objects.get(content_type__app_label="journeys", codename="view_apikey")
    analyst.permissions.add(by_hand)
    before = set(analyst.permissions.values_list("pk", flat=True))

    assert staff_roles_load().endswith(": 0 permissions added")
    assert set(analyst.permissions.values_list("pk", flat=True)) == before


def test_a_group_missing_a_permission_of_its_table_gets_it_back():
    staff_roles_load()
    analyst = Group.objects.get(name="analyst")
    analyst.permissions.remove(Permission.objects.get(content_type__app_label="rules", codename="view_rule"))

    assert staff_roles_load().endswith(": 1 permissions added")
    assert analyst.permissions.filter(codename="view_rule").exists()


def test_a_table_naming_a_permission_that_does_not_exist_is_refused(monkeypatch):
    table = {**journeys.roles.ROLE_PERMISSIONS, "analyst": ["journeys.view_nothing"]}
    monkeypatch.setattr(journeys.roles, "ROLE_PERMISSIONS", table)
    with pytest.raises(ImproperlyConfigured, match=r"journeys\.view_nothing"):
        staff_roles_load()
    assert not Group.objects.exists()


def test_a_table_naming_an_unknown_role_is_refused(monkeypatch):
    monkeypatch.setattr(journeys.roles, "ROLE_PERMISSIONS", {"auditor": ["journeys.view_event"]})
    with pytest.raises(ImproperlyConfigured, match="unknown role 'auditor'"):
        staff_role_permissions()


# ----------------------------------------------------------------------------------------------
# The admin honours the same roles
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changelist",
    [
        "/admin/journeys/journey/",
        "/admin/journeys/userjourney/",
        "/admin/rules/rule/",
        "/admin/rules/flag/",
        "/admin/stages/pipeline/",
        "/admin/stages/stagedjourney/",
        "/admin/stages/unitofwork/",
    ],
)
def test_an_analyst_browses_every_app_in_the_admin(changelist, client, make_user, world):
    client.force_login(as_role(make_user, "analyst"))
    response = client.get(changelist)
    assert response.status_code == 200
    assert 'class="addlink"' not in response.content.decode()  # reading, not adding


def test_an_analyst_sees_a_rule_but_cannot_save_it(client, make_user, world):
    client.force_login(as_role(make_user, "analyst"))
    rule = Rule.objects.get(rule_id=world["{rule_id}"])
    page = client.get(f"/admin/rules/rule/{rule.pk}/change/")
    assert page.status_code == 200 and rule.rule_id in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert client.post(f"/admin/rules/rule/{rule.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Rule.objects.filter(pk=rule.pk).exists()
