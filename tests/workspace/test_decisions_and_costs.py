"""Decisions keep their history; money is decimals in the journey's currency, compared per category."""

from decimal import Decimal

from workspace.models import Decision


def test_revisiting_keeps_the_history_and_rolling_back_restores_the_previous_choice(
    client_as, owner, base_url
):
    client = client_as(owner)
    first = client.post(
        f"{base_url}/decisions",
        {
            "question": "Countertop material",
            "chosen": "Granite",
            "step_key": "design",
            "alternatives": [{"option": "Quartz", "pros": ["no sealing"], "cons": ["price"]}],
            "reasoning": "Classic look",
        },
    ).json()
    second = client.post(
        f"{base_url}/decisions/{first['id']}/revisit", {"chosen": "Quartz", "reasoning": "Easier to keep"}
    )
    assert second.status_code == 201
    second = second.json()
    assert (second["question"], second["supersedes"], second["current"]) == (
        "Countertop material",
        first["id"],
        True,
    )
    assert second["alternatives"] == first["alternatives"]  # kept unless given again

    current = client.get(f"{base_url}/decisions").json()["results"]
    assert [d["chosen"] for d in current] == ["Quartz"]
    history = client.get(f"{base_url}/decisions/{first['id']}/history").json()
    assert [(d["chosen"], d["current"]) for d in history] == [("Quartz", True), ("Granite", False)]
    again = client.post(f"{base_url}/decisions/{first['id']}/revisit", {"chosen": "Marble"})
    assert again.status_code == 409  # only the current decision can be revisited

    rolled = client.post(f"{base_url}/decisions/{second['id']}/rollback")
    assert rolled.status_code == 200 and rolled.json()["chosen"] == "Granite"
    assert [d["chosen"] for d in client.get(f"{base_url}/decisions").json()["results"]] == ["Granite"]
    assert Decision.objects.get(pk=second["id"]).rolled_back is True
    assert client.post(f"{base_url}/decisions/{first['id']}/rollback").status_code == 409  # nothing before it


def test_a_decision_shows_its_impact(client_as, owner, base_url):
    client = client_as(owner)
    decision = client.post(
        f"{base_url}/decisions", {"question": "Cabinets", "chosen": "Oak", "step_key": "design"}
    )
    decision_id = decision.json()["id"]
    quote = client.post(
        f"{base_url}/quotes",
        {
            "category": "cabinets",
            "vendor": "Nordic",
            "amount": "8700.00",
            "currency": "EUR",
            "decision": decision_id,
        },
    )
    task = client.post(f"{base_url}/tasks", {"title": "Order oak doors", "decision": decision_id})
    assert quote.status_code == task.status_code == 201

    impact = client.get(f"{base_url}/decisions/{decision_id}").json()["impact"]
    assert impact == {
        "quotes": [quote.json()["id"]],
        "expenses": [],
        "tasks": [task.json()["id"]],
        "steps": ["design"],
    }


def test_budget_versus_actual_flags_overruns(client_as, owner, base_url):
    client = client_as(owner)
    assert client.put(f"{base_url}/budget", {"amount": "20000.00", "currency": "EUR"}).status_code == 200
    client.put(f"{base_url}/budget", {"category": "cabinets", "amount": "8000.00", "currency": "EUR"})
    client.put(f"{base_url}/budget", {"category": "paint", "amount": "500.00", "currency": "EUR"})
    for vendor, amount in [("Nordic", "8700.00"), ("IKEA", "6100.50"), ("Local", "9900.00")]:
        client.post(
            f"{base_url}/quotes",
            {"category": "cabinets", "vendor": vendor, "amount": amount, "currency": "EUR"},
        )
    for description, amount in [("Cabinets deposit", "5000.00"), ("Cabinets rest", "3200.10")]:
        response = client.post(
            f"{base_url}/costs",
            {"category": "cabinets", "description": description, "amount": amount, "currency": "EUR",
             "spent_on": "2026-04-01"},
        )  # fmt: skip
        assert response.status_code == 201
    client.post(
        f"{base_url}/costs",
        {
            "category": "paint",
            "description": "White",
            "amount": "120.00",
            "currency": "EUR",
            "spent_on": "2026-04-02",
        },
    )

    report = client.get(f"{base_url}/budget").json()
    assert report["total_budget"] == "20000.00" and report["total_spent"] == "8320.10"
    assert report["remaining"] == "11679.90" and report["over_budget"] is False
    cabinets, paint = report["categories"]
    assert cabinets == {
        "category": "cabinets",
        "budget": "8000.00",
        "spent": "8200.10",
        "quoted_low": "6100.50",
        "remaining": "-200.10",
        "over_budget": True,
    }
    assert (paint["remaining"], paint["over_budget"]) == ("380.00", False)

    compared = client.get(f"{base_url}/quotes", {"category": "cabinets"}).json()
    assert [(q["vendor"], q["amount"]) for q in compared] == [
        ("IKEA", "6100.50"),
        ("Nordic", "8700.00"),
        ("Local", "9900.00"),
    ]
    accepted = client.post(f"{base_url}/quotes/{compared[1]['id']}/accept").json()
    assert accepted["accepted"] is True
    assert [q["accepted"] for q in client.get(f"{base_url}/quotes").json()] == [False, True, False]


def test_money_is_validated(client_as, owner, base_url):
    client = client_as(owner)
    wrong_currency = client.post(
        f"{base_url}/costs",
        {"category": "c", "description": "d", "amount": "10.00", "currency": "USD", "spent_on": "2026-04-01"},
    )
    assert wrong_currency.status_code == 400 and "EUR" in wrong_currency.json()["currency"][0]
    for amount in ["-1", "1.234", "abc", "1e999"]:
        response = client.post(
            f"{base_url}/quotes", {"category": "c", "vendor": "v", "amount": amount, "currency": "EUR"}
        )
        assert response.status_code == 400 and "amount" in response.json(), amount
    lowercase = client.post(
        f"{base_url}/quotes", {"category": "c", "vendor": "v", "amount": "1", "currency": "eur"}
    )
    assert lowercase.status_code == 400 and "currency" in lowercase.json()
    assert Decimal("0") == sum(
        (Decimal(q["amount"]) for q in client.get(f"{base_url}/quotes").json()), Decimal("0")
    )
