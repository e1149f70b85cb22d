"""The tenants the contract suite serves: the demo tenant, and tenants built with the builders the other suites use
(so their Zuora shapes are held to Zuora's schema too), covering what the demo lacks."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from local.zuora_emulator import DEMO_TENANT_PATH
from tests import scenario_fixtures as sf
from tests import zuora_fixtures as z

TODAY = dt.date.today()
_PERIOD = sf.first_of_month(TODAY)


def _month(offset: int) -> dt.date:
    return sf.add_months(_PERIOD, offset)


def demo() -> dict[str, Any]:
    return json.loads(DEMO_TENANT_PATH.read_text())


def scenario_builders() -> dict[str, Any]:
    """tests/scenario_fixtures shapes: seats, add-ons, a one-time fee, a discount, a removed plan, other currencies,
    an evergreen and a cancelled subscription, a second account without a Salesforce id; errors as HTTP statuses."""
    bill_to = sf.contact("Ada", "Lovelace", work_email="ada@example.com", mobile="+44 7700 900123")
    sold_to = sf.contact("Charles", "Babbage", work_email=None, personal_email="cb@example.com", address2=None)
    main = sf.account("A00009001", z.salesforce_id("contract-main"), name="Analytical Engines", bill_to=bill_to, sold_to=sold_to)
    other = sf.account("A00009002", None, name="Difference Engines", bill_to=sold_to, currency="EUR")
    term_start, term_end, billed = _month(-4), _month(8), _month(1)
    subscriptions = [
        sf.subscription(
            "A-S00009001",
            "A00009001",
            term_start=term_start,
            term_end=term_end,
            version=3,
            rate_plans=[
                sf.rate_plan(sf.DIGITAL, [sf.monthly_seats("C-00009001", start=term_start, end=term_end, charged_through=billed)]),
                sf.rate_plan(
                    sf.ARCHIVE,
                    [sf.monthly_flat_fee("Archive", "C-00009002", price=4.5, start=term_start, end=term_end, charged_through=billed)],
                    last_change_type="Add",
                ),
                sf.rate_plan(sf.SETUP, [sf.one_time_fee("Team Setup", "C-00009003", price=99.0, on=_month(1))]),
                sf.rate_plan(
                    sf.LOYALTY,
                    [sf.percentage_discount("Loyalty", "C-00009004", percentage=10.0, start=term_start, end=term_end, charged_through=billed)],
                ),
                sf.rate_plan(
                    sf.UNMAPPED,
                    [sf.monthly_flat_fee("Legacy", "C-00009005", price=7.0, start=term_start, end=_month(-1), charged_through=_month(-1))],
                    last_change_type="Remove",
                ),
            ],
        ),
        sf.subscription(
            "A-S00009002",
            "A00009001",
            term_start=_month(-2),
            term_end=None,
            currency="EUR",
            rate_plans=[
                sf.rate_plan(
                    sf.PRINT_ANNUAL,
                    [
                        sf.charge(
                            "C-00009006",
                            "Print",
                            start=_month(-2),
                            end=None,
                            charged_through=_month(10),
                            model="FlatFee",
                            price=120.0,
                            billing_period="Annual",
                            billing_timing="IN_ARREARS",
                            currency="EUR",
                        )
                    ],
                )
            ],
        ),
        sf.subscription("A-S00009003", "A00009002", term_start=_month(-12), term_end=_month(-1), status="Cancelled", auto_renew=False, rate_plans=[]),
    ]
    return z.tenant([main, other], subscriptions, defaultApiVersion="2025-08-12")


def legacy_fixtures() -> dict[str, Any]:
    """tests/zuora_fixtures shapes under the legacy default API version (errors as HTTP 200 with success:false),
    including the corrupted record the sync must report."""
    crm_id = z.salesforce_id("contract-legacy")
    accounts = [z.account("A00009101", crm_id), z.account("A00009102", crm_id, name="Northwind Media (2)")]
    subscriptions = [
        z.subscription("A-S00009101", "A00009101"),
        z.subscription("A-S00009102", "A00009101", term_end=None, version=2),
        z.subscription("A-S00009103", "A00009102", broken=True),
    ]
    return z.tenant(accounts, subscriptions)


TENANTS = {"demo": demo, "scenario-builders": scenario_builders, "legacy-fixtures": legacy_fixtures}
