"""Templates as files: export, import and export again gives the same bytes (YAML and JSON),
through the API and the management commands; refused files say what is wrong, field by field."""

import io
from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from journeys.models import JourneyTemplate, TemplateVersion
from journeys.services.template_files import BUNDLED_DIR, template_document, template_dumps
from journeys.services.templates import template_create, template_publish, template_update
from tests.journeys.template_helpers import WELCOME, staff_member, template_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(make_user):
    return staff_member(make_user, "designer", "alice")


@pytest.fixture
def welcome(alice):
    """A template with two published versions and a draft ahead of them."""
    template = template_create(data=template_body(description="Ünïcode — and a 'quote'"), actor=alice)
    template_publish(template=template, changelog="First", actor=alice)
    template_update(template=template, data={"definition": {**WELCOME, "priority": 3}})
    template_publish(template=template, changelog="Second:\n  two lines", actor=alice)
    template_update(template=template, data={"definition": {**WELCOME, "priority": 4}})
    return JourneyTemplate.objects.get(pk=template.pk)


def move_aside(template: JourneyTemplate) -> None:
    """Free the key for the import, as on another installation (hard delete; no journeys)."""
    TemplateVersion.objects.filter(template=template).delete()
    template.delete()


@pytest.mark.parametrize("file_format", ["yaml", "json"])
def test_export_import_export_through_the_api_is_byte_for_byte(client_for, alice, welcome, file_format):
    api = client_for(alice)
    exported = api.get(f"/api/v1/templates/welcome/export?file_format={file_format}")
    assert exported.status_code == 200
    assert exported["Content-Disposition"] == f'attachment; filename="welcome.{file_format}"'
    move_aside(welcome)

    upload = SimpleUploadedFile(f"welcome.{file_format}", exported.content)
    imported = api.post("/api/v1/templates/import", {"file": upload}, format="multipart")

    assert imported.status_code == 201, imported.json()
    assert (imported.json()["latest_version"], imported.json()["visibility"]) == (2, "private")
    again = api.get(f"/api/v1/templates/welcome/export?file_format={file_format}")
    assert again.content == exported.content


def test_the_file_holds_the_draft_and_every_version_with_its_changelog(welcome):
    document = yaml.safe_load(template_dumps(template_document(template=welcome)))
    assert document["definition"]["priority"] == 4
    assert [(v["number"], v["changelog"], v["definition"]["priority"]) for v in document["versions"]] == [
        (1, "First", 7),
        (2, "Second:\n  two lines", 3),
    ]
    assert "visibility" not in document and "author" not in document


def test_a_file_that_cannot_be_imported_is_refused_whole_with_every_problem(client_for, alice, welcome):
    document = template_document(template=welcome)
    document["versions"][1]["number"] = 5
    document["definition"]["steps"][0]["next_steps"] = ["nowhere"]
    document["definition"]["colour"] = "red"
    upload = SimpleUploadedFile("welcome.json", template_dumps(document, file_format="json").encode())

    response = client_for(alice).post("/api/v1/templates/import", {"file": upload}, format="multipart")

    assert response.status_code == 400
    assert {"key", "versions.1.number", "definition.colour"} <= set(response.json())
    assert any(f.startswith("definition.steps.0") for f in response.json())
    assert JourneyTemplate.objects.count() == 1


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"key: [unclosed", "file"),
        (b"- just\n- a list\n", "file"),
        (
            b"format: journey-template/1\nkey: inf\nname: x\ndefinition: {priority: .inf}\n",
            "definition.priority",
        ),
        (b"\xff\xfe", "file"),
    ],
)
def test_files_that_do_not_parse_are_a_file_error(client_for, alice, content, field):
    upload = SimpleUploadedFile("t.yaml", content)
    response = client_for(alice).post("/api/v1/templates/import", {"file": upload}, format="multipart")
    assert response.status_code == 400 and field in response.json(), response.json()


def test_an_import_without_a_file_says_so(client_for, alice):
    response = client_for(alice).post("/api/v1/templates/import", {}, format="json")
    assert response.status_code == 400 and "file" in response.json()


def test_the_commands_round_trip_a_whole_library_with_progress(tmp_path: Path, welcome, template_library):
    out = io.StringIO()
    call_command("templates_export", "--output-dir", str(tmp_path), stderr=out)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [
        f"{k}.yaml"
        for k in ("content_migration", "onboarding", "payment_recovery", "re_engagement", "welcome")
    ]
    assert "[5/5] welcome" in out.getvalue() and "(2 published version(s))" in out.getvalue()
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    for template in JourneyTemplate.objects.all():
        move_aside(template)

    progress = io.StringIO()
    call_command("templates_import", *sorted(str(p) for p in tmp_path.iterdir()), stdout=progress)
    assert "[5/5]" in progress.getvalue() and "5 template(s) imported" in progress.getvalue()
    for path in tmp_path.iterdir():
        path.unlink()
    call_command("templates_export", "--output-dir", str(tmp_path), stderr=io.StringIO())
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before


def test_export_to_standard_output_in_json(welcome):
    out = io.StringIO()
    call_command(
        "templates_export",
        "welcome",
        "--format",
        "json",
        "--output-dir",
        "-",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert out.getvalue() == template_dumps(template_document(template=welcome), file_format="json")


def test_the_import_command_lists_what_is_wrong_and_fails_after_importing_the_rest(tmp_path: Path, alice):
    good = tmp_path / "good.yaml"
    good.write_text((BUNDLED_DIR / "onboarding.yaml").read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: journey-template/1\nkey: bad\nname: Bad\njourney_type: nonsense\n")
    errors = io.StringIO()

    with pytest.raises(CommandError, match="2 of 3 file"):
        call_command(
            "templates_import", str(good), str(bad), str(tmp_path / "missing.yaml"),
            "--author", "alice", "--visibility", "private", stdout=io.StringIO(), stderr=errors,
        )  # fmt: skip

    assert "journey_type:" in errors.getvalue() and "cannot read" in errors.getvalue()
    assert list(JourneyTemplate.objects.values_list("key", "visibility", "author__username")) == [
        ("onboarding", "private", "alice")
    ]


def test_the_commands_refuse_unknown_keys_users_and_directories(tmp_path: Path):
    with pytest.raises(CommandError, match="nope"):
        call_command("templates_export", "nope", "--output-dir", str(tmp_path))
    with pytest.raises(CommandError, match="not a directory"):
        call_command("templates_export", "--output-dir", str(tmp_path / "absent"))
    with pytest.raises(CommandError, match="No user"):
        call_command("templates_import", "x.yaml", "--author", "ghost")


def test_the_bundled_files_are_valid_template_files():
    for path in sorted(BUNDLED_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        assert document["format"] == "journey-template/1" and path.stem == document["key"]


def test_a_key_that_is_no_slug_or_a_name_too_long_is_refused_by_field(client_for, alice):
    text = f"format: journey-template/1\nkey: not a slug\nname: {'n' * 201}\n"
    upload = SimpleUploadedFile("t.yaml", text.encode())
    response = client_for(alice).post("/api/v1/templates/import", {"file": upload}, format="multipart")
    assert response.status_code == 400 and {"key", "name"} <= set(response.json())
