"""The picture of the step graph: server-side SVG of steps, edges and their condition labels."""

import re
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from journeys.builder.graph.edges import definition_from_steps, graph_edges
from journeys.builder.graph.svg import draft_svg, render_svg
from tests.journeys.factories import action, make_journey, tag_step

SVG = "{http://www.w3.org/2000/svg}"

BRANCHY = [
    tag_step("start", "s", order=0),
    {
        "key": "route",
        "name": "Route by plan",
        "kind": "branch",
        "order": 1,
        "next_steps": [
            {"step": "pro_mail", "condition": {"field": "payload.plan", "op": "eq", "value": "pro"}},
            "free_mail",
        ],
    },
    action("pro_mail", "send_email", {"subject": "Pro", "body": "b"}, order=2, next_steps=["wait_pay"]),
    action("free_mail", "send_email", {"subject": "Free", "body": "b"}, order=3, next_steps=["wait_pay"]),
    {
        "key": "wait_pay",
        "name": "Wait for payment",
        "kind": "wait_for_event",
        "order": 4,
        "config": {"event": "payment", "timeout": "2 days", "timeout_step": "nudge"},
        "next_steps": ["ab"],
    },
    action("nudge", "send_email", {"subject": "Nudge", "body": "b"}, order=5, next_steps=["wait_pay"]),
    {
        "key": "ab",
        "name": "A/B",
        "kind": "split",
        "order": 6,
        "config": {
            "variants": [
                {"name": "a", "weight": 3, "step": "done"},
                {"name": "b", "weight": 1, "step": "hold"},
            ]
        },
    },
    {"key": "hold", "name": "Hold", "kind": "manual", "order": 7, "next_steps": ["done"]},
    {"key": "done", "name": "Done", "kind": "end", "order": 8},
]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def steps_in(root: ET.Element) -> dict[str, str]:
    return {g.get("data-step"): g.get("class") for g in root.iter(f"{SVG}g") if g.get("data-step")}


def test_every_step_is_drawn_with_a_shape_for_its_kind():
    root = parse(draft_svg(BRANCHY))
    classes = steps_in(root)
    assert set(classes) == {s["key"] for s in BRANCHY}
    assert classes["route"] == "step kind-branch"
    assert classes["ab"] == "step kind-split"
    assert classes["wait_pay"] == "step kind-wait_for_event"
    assert classes["hold"] == "step kind-manual"
    assert classes["done"] == "step kind-end"
    group = {g.get("data-step"): g for g in root.iter(f"{SVG}g") if g.get("data-step")}
    assert group["route"].find(f"{SVG}polygon") is not None  # a diamond
    assert group["done"].find(f"{SVG}ellipse") is not None
    assert group["wait_pay"].find(f"{SVG}rect").get("stroke-dasharray")  # a dashed pill


def test_edges_carry_their_conditions_variants_and_timeouts():
    edges = {(e.source, e.target): e.label for e in graph_edges(definition_from_steps(BRANCHY))}
    assert edges[("route", "pro_mail")] == 'if payload.plan = "pro"'
    assert edges[("route", "free_mail")] == "otherwise"
    assert edges[("wait_pay", "nudge")] == "timeout 2 days"
    assert edges[("wait_pay", "ab")] == "on payment"
    assert edges[("ab", "done")] == "a 75%" and edges[("ab", "hold")] == "b 25%"
    assert edges[("start", "route")] == "next by order"  # not written down: said in words

    svg = str(draft_svg(BRANCHY))
    assert "if payload.plan = &quot;pro&quot;" in svg
    root = parse(svg)
    drawn = {(p.get("data-from"), p.get("data-to")) for p in root.iter(f"{SVG}path") if p.get("data-from")}
    assert drawn == set(edges)


def test_layers_go_down_the_graph_and_a_loop_back_is_drawn_as_a_back_edge():
    root = parse(draft_svg(BRANCHY))
    top = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("data-step"):
            shape = next(iter(g.findall(f"{SVG}*")[1:2]))
            top[g.get("data-step")] = float(
                shape.get("y") or shape.get("cy") or shape.get("points").split(",")[1].split()[0]
            )
    assert top["start"] < top["route"] < top["pro_mail"] < top["wait_pay"] < top["ab"] < top["done"]
    assert top["pro_mail"] == top["free_mail"]  # siblings share a layer
    back = [p for p in root.iter(f"{SVG}path") if "edge-back" in (p.get("class") or "")]
    assert {(p.get("data-from"), p.get("data-to")) for p in back} == {("nudge", "wait_pay")}


def test_unreachable_steps_and_missing_targets_are_marked():
    svg = str(
        draft_svg(
            [tag_step("a", "a", next_steps=["c"]), tag_step("b", "b"), tag_step("c", "c", next_steps=["zz"])]
        )
    )
    classes = steps_in(parse(svg))
    assert "unreachable" in classes["b"]
    assert "unreachable" not in classes["c"]
    assert classes["zz"] == "step missing"


def test_text_is_escaped():
    svg = str(draft_svg([tag_step("a", "a", name='<script>alert("x")</script>')]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    parse(svg)


def test_highlight_colours_the_path_and_dims_the_rest():
    root = parse(
        render_svg(definition_from_steps(BRANCHY), highlight={"start": "succeeded", "route": "failed"})
    )
    classes = steps_in(root)
    assert classes["start"] == "step kind-action status-succeeded"
    assert classes["route"] == "step kind-branch status-failed"
    assert "status" not in classes["done"]


def test_an_empty_journey_says_so():
    assert "No steps yet." in draft_svg([])


@pytest.mark.django_db
def test_the_change_page_shows_the_graph_of_the_draft(client, admin_user):
    client.force_login(admin_user)
    journey = make_journey(BRANCHY, publish=False)
    page = client.get(reverse("admin:journeys_journey_change", args=[journey.pk])).content.decode()
    svg = re.search(r"<svg[^>]*journey-graph.*?</svg>", page, re.S).group(0)
    assert set(steps_in(parse(svg))) == {s["key"] for s in BRANCHY}
    assert "/static/journeys/builder.css" in page and "/static/journeys/builder.js" in page
    # Nothing is loaded from elsewhere (random tokens such as the CSRF one are no address).
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert not [source for source in sources if "cdn" in source.lower() or source.startswith(("http", "//"))]
    assert "https://" not in re.sub(r'xmlns="[^"]+"', "", svg)
