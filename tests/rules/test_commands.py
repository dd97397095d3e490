"""YAML/JSON rule files: load (idempotent upsert), export, round trip, bootstrap defaults."""

import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from journeys import bootstrap
from rules.models import Rule
from rules.services.rules import DEFAULTS_DIR, rule_definition

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_load_rules_upserts_by_rule_id_and_is_idempotent(mappings, tmp_path):
    shutil.copytree(FIXTURES, tmp_path, dirs_exist_ok=True)
    assert "2 created, 0 updated, 0 unchanged" in run("load_rules", str(tmp_path))
    assert "0 created, 0 updated, 2 unchanged" in run("load_rules", str(tmp_path))
    assert Rule.objects.get(rule_id="custom_rule_001").version == 1

    edited = (tmp_path / "custom_rule_001.yaml").read_text().replace("count_value: 5", "count_value: 6")
    (tmp_path / "custom_rule_001.yaml").write_text(edited)
    assert "0 created, 1 updated, 1 unchanged" in run("load_rules", str(tmp_path))
    rule = Rule.objects.get(rule_id="custom_rule_001")
    assert rule.version == 2 and rule.rule_config["conditions"][0]["count_value"] == 6


def test_export_then_load_is_a_round_trip(default_rules, tmp_path):
    run("load_rules", str(FIXTURES))
    before = {r.rule_id: rule_definition(r) for r in Rule.objects.all()}
    out = tmp_path / "export"
    run("export_rules", str(out))
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{rule_id}.yaml" for rule_id in before)

    Rule.objects.all().delete()
    run("load_rules", str(out))

    assert {r.rule_id: rule_definition(r) for r in Rule.objects.all()} == before


def test_export_to_stdout_writes_yaml_documents(default_rules):
    documents = list(yaml.safe_load_all(run("export_rules", "-")))
    assert [d["rule_id"] for d in documents] == [
        "mentor_ready_001",
        "followup_needed_001",
        "language_support_needed_001",
    ]


def test_a_folder_with_one_bad_file_loads_nothing_and_names_every_problem(mappings, tmp_path):
    shutil.copy(FIXTURES / "custom_rule_001.yaml", tmp_path)
    (tmp_path / "broken.json").write_text(
        json.dumps([{"id": "x", "name": "X", "flag": "x", "conditions": [], "actions": [{"type": "jump"}]}])
    )
    with pytest.raises(CommandError) as failure:
        run("load_rules", str(tmp_path))
    message = str(failure.value)
    assert "broken.json: conditions" in message and "broken.json: actions.0.type" in message
    assert not Rule.objects.exists()


def test_a_rule_id_defined_twice_is_refused(mappings, tmp_path):
    shutil.copy(FIXTURES / "custom_rule_001.yaml", tmp_path / "a.yaml")
    shutil.copy(FIXTURES / "custom_rule_001.yaml", tmp_path / "b.yaml")
    with pytest.raises(CommandError, match=r"also defined in a\.yaml"):
        run("load_rules", str(tmp_path))


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        run("load_rules", str(tmp_path / "nope"))


def test_bootstrap_loads_the_three_defaults_once_and_keeps_staff_changes(mappings):
    [step] = [s for s in bootstrap.steps() if s.name == "default rules"]
    assert step.load() == "3 created, 0 updated, 0 unchanged"
    assert sorted(Rule.objects.values_list("rule_id", flat=True)) == [
        "followup_needed_001",
        "language_support_needed_001",
        "mentor_ready_001",
    ]
    Rule.objects.filter(rule_id="mentor_ready_001").update(priority=99)
    assert step.load() == "0 created, 0 updated, 3 unchanged"
    assert Rule.objects.get(rule_id="mentor_ready_001").priority == 99


def test_the_default_files_are_what_ships():
    assert sorted(p.name for p in DEFAULTS_DIR.iterdir()) == [
        "followup_needed_001.yaml",
        "language_support_needed_001.yaml",
        "mentor_ready_001.yaml",
    ]
