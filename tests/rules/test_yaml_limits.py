"""YAML rule definitions cannot cost unbounded CPU or memory, nor smuggle in what JSON refuses."""

import io

import pytest
from django.core.management import CommandError, call_command

from rules.models import Rule

pytestmark = pytest.mark.django_db

RULES = "/api/v1/journey/rules"

# "Billion laughs": each level is ten aliases of the one before, a million strings in ~500 bytes.
ALIAS_BOMB = "\n".join(
    [
        "rule_id: laughs",
        'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
        *(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 6)),
        "name: Laughs",
    ]
)


@pytest.fixture
def designer(make_user, client_for):
    return client_for(make_user("designer", "rules.add_rule", "rules.view_rule"))


def test_a_yaml_alias_bomb_is_refused_before_it_expands(designer, mappings):
    assert len(ALIAS_BOMB) < 600

    answer = designer.post(RULES, ALIAS_BOMB, content_type="application/yaml")

    assert answer.status_code == 400
    [message] = answer.json()["definition"]
    assert "aliases expand to more than 10000 nodes" in message
    assert "line 5" in message  # the first level past the bound
    assert not Rule.objects.exists()


def test_yaml_nested_beyond_the_bound_is_refused(designer, mappings):
    answer = designer.post(RULES, "rule_id: " + "[" * 200 + "]" * 200, content_type="application/yaml")

    assert answer.status_code == 400
    assert "nested deeper than 64 levels" in answer.json()["definition"][0]


def test_a_few_aliases_for_shared_values_still_load(designer, mappings):
    text = """
rule_id: shared_001
name: Shared
flag: shared
conditions:
  - &five_sessions {type: count, entity: kintell_sessions, count: ">=", count_value: 5}
  - {type: any_of, conditions: [*five_sessions]}
actions: [{type: set_flag, flag: shared, value: true}]
"""
    answer = designer.post(RULES, text, content_type="application/yaml")

    assert answer.status_code == 201, answer.json()
    assert answer.json()["conditions"][1]["conditions"][0]["count_value"] == 5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (".inf", "Numbers must be finite (not NaN, Infinity or 1e999)."),
        ('"a\\0b"', "NUL characters (\\u0000) are not allowed."),
    ],
)
def test_yaml_values_json_cannot_store_are_refused_with_their_path(designer, mappings, value, message):
    text = f"rule_id: odd_001\nname: Odd\nflag: odd\ndescription: {value}\n"

    answer = designer.post(RULES, text, content_type="application/yaml")

    assert answer.status_code == 400
    assert answer.json() == {"definition.description": [message]}


def test_load_rules_refuses_an_alias_bomb_and_loads_nothing(mappings, tmp_path):
    (tmp_path / "laughs.yaml").write_text(ALIAS_BOMB)

    with pytest.raises(CommandError, match="aliases expand to more than 10000 nodes"):
        call_command("load_rules", str(tmp_path), stdout=io.StringIO(), stderr=io.StringIO())
    assert not Rule.objects.exists()
