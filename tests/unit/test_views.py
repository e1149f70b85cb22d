"""What LFS's subscription table shows for a Limio record: the current offer, the latest and next charge
(cancelled entries are not charges), the add-ons, and the "Active (OUT OF TERM)" flag."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from limio_sync.catalog import OfferType
from limio_sync.sync_rules import LimioOffer, LimioStatus, LimioSubscription, ScheduleEntry, ScheduleStatus
from limio_sync.views import current_offer, latest_and_next_charge, subscription_view

TODAY = dt.date(2026, 11, 25)


def offer(path: str, *, start: str | None, end: str | None = None, kind: OfferType = OfferType.OFFER, quantity: str | None = None) -> LimioOffer:
    return LimioOffer(
        offerPath=path,
        type=kind,
        productName="Digital Pack",
        ratePlanName=path.rsplit("/", 1)[-1],
        productRatePlanId="prp-" + path.rsplit("/", 1)[-1],
        start=start,
        end=end,
        quantity=Decimal(quantity) if quantity is not None else None,
    )


def entry(date: str, amount: str, *, status: ScheduleStatus = ScheduleStatus.PENDING, description: str = "Digital Seats") -> ScheduleEntry:
    return ScheduleEntry(id=f"schedule-{date}-{amount}", date=date, amount=Decimal(amount), currency="GBP", description=description, status=status)


def record(**changes) -> LimioSubscription:
    fields = {
        "subscriptionNumber": "A-S00012345",
        "id": "sub-" + "a" * 32,
        "name": "A-S00012345",
        "customerId": "cus-" + "b" * 32,
        "owner": "id-" + "c" * 32,
        "status": LimioStatus.ACTIVE,
        "zuoraStatus": "Active",
        "subscriptionStartDate": "2025-03-01",
        "termStartDate": "2026-03-01",
        "termEndDate": "2027-03-01",
        "autoRenew": True,
        "currency": "GBP",
        "customerName": "Eleanor Whitfield",
        "zuoraAccountNumber": "A00001234",
        "zuoraSubscriptionId": "8ad0" + "0" * 28,
        "zuoraVersion": 3,
        "lastSyncedAt": "2026-11-25T10:00:00.000Z",
    }
    return LimioSubscription(**{**fields, **changes})


# Current offer


def test_the_current_offer_is_the_base_offer_in_effect_today():
    offers = (
        offer("/offers/digital/monthly", start="2025-03-01", end="2026-03-01"),
        offer("/offers/digital/annual", start="2026-03-01", end="2027-03-01"),
        offer("/offers/add-ons/archive", start="2026-06-01", kind=OfferType.ADDON),
    )

    assert current_offer(record(offers=offers), TODAY).offerPath == "/offers/digital/annual"


def test_an_offer_ending_today_is_no_longer_current_and_one_starting_today_is():
    offers = (
        offer("/offers/digital/monthly", start="2025-11-25", end=TODAY.isoformat()),
        offer("/offers/digital/annual", start=TODAY.isoformat(), end="2027-11-25"),
    )

    assert current_offer(record(offers=offers), TODAY).offerPath == "/offers/digital/annual"


def test_an_open_ended_offer_is_current():
    offers = (offer("/offers/digital/old", start="2024-01-01", end="2025-01-01"), offer("/offers/digital/evergreen", start="2025-01-01", end=None))

    assert current_offer(record(offers=offers), TODAY).offerPath == "/offers/digital/evergreen"


def test_with_no_offer_in_effect_the_latest_to_start_is_shown():
    offers = (
        offer("/offers/digital/past", start="2024-01-01", end="2025-01-01"),
        offer("/offers/digital/upcoming", start="2026-12-15", end="2027-12-15"),
    )

    assert current_offer(record(offers=offers), TODAY).offerPath == "/offers/digital/upcoming"


def test_add_ons_are_never_the_current_offer():
    offers = (offer("/offers/add-ons/archive", start="2026-01-01", kind=OfferType.ADDON),)

    assert current_offer(record(offers=offers), TODAY) is None
    assert subscription_view(record(offers=offers), TODAY).currentOffer is None


# Latest and next charge


def test_latest_charge_is_the_last_one_dated_today_or_earlier_and_next_is_the_first_after_today():
    schedule = (entry("2026-10-01", "50.00"), entry("2026-11-25", "50.00"), entry("2026-12-01", "62.50"), entry("2027-01-01", "62.50"))

    latest, upcoming = latest_and_next_charge(record(schedule=schedule), TODAY)

    assert (latest.date, upcoming.date) == ("2026-11-25", "2026-12-01")


def test_cancelled_entries_are_skipped_for_both_latest_and_next_charge():
    schedule = (
        entry("2026-10-01", "50.00"),
        entry("2026-11-01", "50.00", status=ScheduleStatus.CANCELLED),
        entry("2026-12-01", "50.00", status=ScheduleStatus.CANCELLED),
        entry("2026-12-01", "62.50"),
    )

    view = subscription_view(record(schedule=schedule), TODAY)

    assert view.latestCharge.model_dump() == {"date": "2026-10-01", "amount": "50.00", "currency": "GBP", "description": "Digital Seats"}
    assert view.nextCharge.model_dump() == {"date": "2026-12-01", "amount": "62.50", "currency": "GBP", "description": "Digital Seats"}


def test_a_fully_cancelled_schedule_has_no_latest_or_next_charge():
    schedule = (entry("2026-11-01", "50.00", status=ScheduleStatus.CANCELLED), entry("2026-12-01", "50.00", status=ScheduleStatus.CANCELLED))

    view = subscription_view(record(schedule=schedule), TODAY)

    assert (view.latestCharge, view.nextCharge) == (None, None)


def test_charge_amounts_are_shown_with_two_decimals():
    schedule = (entry("2026-12-01", "45"),)

    assert subscription_view(record(schedule=schedule), TODAY).nextCharge.amount == "45.00"


# Add-ons


def test_add_ons_are_listed_with_their_quantity_in_plain_notation():
    offers = (
        offer("/offers/digital/annual", start="2026-03-01", end="2027-03-01", quantity="5"),
        offer("/offers/add-ons/archive", start="2026-03-01", end="2027-03-01", kind=OfferType.ADDON, quantity="1.0"),
        offer("/offers/discounts/loyalty-10", start="2026-06-01", end="2027-03-01", kind=OfferType.ADDON),
    )

    view = subscription_view(record(offers=offers), TODAY)

    current = view.currentOffer.model_dump()
    assert current == {"offerPath": "/offers/digital/annual", "productName": "Digital Pack", "ratePlanName": "annual", "quantity": "5"}
    assert [(a.offerPath, a.quantity) for a in view.addOns] == [("/offers/add-ons/archive", "1"), ("/offers/discounts/loyalty-10", None)]


def test_an_add_on_removed_before_today_is_not_listed_but_one_ending_later_or_starting_later_is():
    offers = (
        offer("/offers/digital/annual", start="2026-03-01", end="2027-03-01"),
        offer("/offers/add-ons/archive", start="2026-03-01", end="2026-09-01", kind=OfferType.ADDON),
        offer("/offers/add-ons/extra-copies", start="2026-03-01", end="2026-12-01", kind=OfferType.ADDON),
        offer("/offers/add-ons/team-setup", start="2027-01-15", end="2027-01-16", kind=OfferType.ADDON),
    )

    view = subscription_view(record(offers=offers), TODAY)

    assert [a.offerPath for a in view.addOns] == ["/offers/add-ons/extra-copies", "/offers/add-ons/team-setup"]


# Out of term


def test_an_active_subscription_synced_past_its_term_end_is_flagged_out_of_term():
    view = subscription_view(record(termEndDate="2026-10-01", outOfTerm=True), TODAY)

    assert (view.status, view.outOfTerm, view.termEndDate) == ("active", True, "2026-10-01")


def test_an_active_subscription_whose_term_ended_after_its_last_sync_is_shown_out_of_term():
    synced_in_term = record(termEndDate="2026-11-20", outOfTerm=False, lastSyncedAt="2026-11-10T09:00:00.000Z")

    assert subscription_view(synced_in_term, TODAY).outOfTerm is True


def test_subscriptions_within_their_term_evergreen_or_not_active_are_not_out_of_term():
    assert subscription_view(record(termEndDate="2027-03-01"), TODAY).outOfTerm is False
    assert subscription_view(record(termEndDate=None), TODAY).outOfTerm is False
    cancelled = record(status=LimioStatus.CANCELLED, zuoraStatus="Cancelled", termEndDate="2026-10-01", subscriptionEndDate="2026-10-01")
    assert subscription_view(cancelled, TODAY).outOfTerm is False


def test_the_view_carries_what_the_lfs_table_shows():
    view = subscription_view(record(offers=(offer("/offers/digital/annual", start="2026-03-01", end="2027-03-01"),)), TODAY)

    shown = view.model_dump(exclude={"currentOffer", "addOns", "latestCharge", "nextCharge"})
    assert shown == {
        "id": "sub-" + "a" * 32,
        "name": "A-S00012345",
        "status": "active",
        "outOfTerm": False,
        "zuoraStatus": "Active",
        "startDate": "2025-03-01",
        "termStartDate": "2026-03-01",
        "termEndDate": "2027-03-01",
        "autoRenew": True,
        "customerName": "Eleanor Whitfield",
        "zuoraAccountNumber": "A00001234",
        "zuoraVersion": 3,
        "lastSyncedAt": "2026-11-25T10:00:00.000Z",
    }
