"""Richer Zuora-shaped builders for scenario tests: accounts with bill-to and sold-to contacts, subscriptions
whose rate plans and charges carry everything the emulator's billing preview needs (effective dates,
chargedThroughDate, billing period and timing, model, price, quantity), and the catalog mapping for them.

Dates are built relative to a `today` the caller passes, so scenarios stay valid on any day. Shapes follow
GET /v1/accounts/{key} and GET /v1/subscriptions/{key}, including Zuora's mix of "" and null for unset text.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from tests import zuora_fixtures as z


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months later, clamped to the month's last day (as Zuora's billing periods are)."""
    year, month_index = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, month_index + 1, min(day.day, calendar.monthrange(year, month_index + 1)[1]))


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


@dataclass(frozen=True)
class Product:
    """A Zuora product rate plan, and the Limio offer or add-on it maps to (None: deliberately unmapped)."""

    product_rate_plan_id: str
    product_name: str
    rate_plan_name: str
    offer_path: str | None
    offer_type: str = "offer"


DIGITAL = Product(z.zuora_id("prp", "digital-monthly"), "Digital Pack", "Digital Pack - Monthly", "/offers/digital-pack/monthly")
PRINT_ANNUAL = Product(z.zuora_id("prp", "print-annual"), "Print Edition", "Print Edition - Annual", "/offers/print/annual")
ARCHIVE = Product(z.zuora_id("prp", "archive"), "Digital Pack", "Archive Access", "/offers/add-ons/archive-access", "addon")
SETUP = Product(z.zuora_id("prp", "setup"), "Digital Pack", "Team Setup", "/offers/add-ons/team-setup", "addon")
LOYALTY = Product(z.zuora_id("prp", "loyalty-10"), "Discounts", "Loyalty Discount 10%", "/offers/discounts/loyalty-10", "addon")
UNMAPPED = Product(z.zuora_id("prp", "legacy-bundle"), "Legacy Bundle", "Legacy Bundle - Quarterly", None)

PRODUCTS = (DIGITAL, PRINT_ANNUAL, ARCHIVE, SETUP, LOYALTY, UNMAPPED)

# The deployment's catalog mapping for these products (LocalSyncService(catalog=...)): every one but UNMAPPED.
CATALOG = {
    "ratePlans": {
        product.product_rate_plan_id: {"offerPath": product.offer_path, "type": product.offer_type} for product in PRODUCTS if product.offer_path
    }
}


def contact(
    first: str,
    last: str,
    *,
    work_email: str | None,
    personal_email: str | None = "",
    mobile: str | None = None,
    work_phone: str | None = "",
    other_phone: str | None = "",
    address1: str = "14 Carlisle Lane",
    address2: str | None = "",
    city: str = "London",
    state: str | None = None,
    county: str | None = "",
    zip_code: str = "SE1 7LG",
    country: str = "United Kingdom",
) -> dict[str, Any]:
    """A Zuora contact; unset text defaults to Zuora's usual mix of "" and null."""
    return {
        "id": z.zuora_id("contact", first, last, address1),
        "firstName": first,
        "lastName": last,
        "nickname": "",
        "workEmail": work_email,
        "personalEmail": personal_email,
        "workPhone": work_phone,
        "homePhone": "",
        "mobilePhone": mobile,
        "otherPhone": other_phone,
        "otherPhoneType": None,
        "fax": None,
        "address1": address1,
        "address2": address2,
        "city": city,
        "state": state,
        "county": county,
        "zipCode": zip_code,
        "country": country,
        "taxRegion": None,
        "Department__c": "",
    }


def account(
    number: str,
    crm_id: str | None,
    *,
    name: str,
    bill_to: dict[str, Any],
    sold_to: dict[str, Any] | None = None,
    currency: str = "GBP",
) -> dict[str, Any]:
    """GET /v1/accounts/{key} without `success`; the sold-to contact defaults to the bill-to one."""
    return {
        "basicInfo": {
            "id": z.zuora_id("account", number),
            "name": name,
            "accountNumber": number,
            "notes": "",
            "status": "Active",
            "crmId": crm_id or "",
            "salesRep": "",
            "Region__c": "UK",
        },
        "billingAndPayment": {"billCycleDay": 1, "currency": currency, "paymentTerm": "Net 30", "autoPay": True},
        "metrics": {"balance": 0.0, "totalInvoiceBalance": 0.0, "creditBalance": 0.0},
        "billToContact": bill_to,
        "soldToContact": sold_to if sold_to is not None else bill_to,
        "taxInfo": None,
    }


def charge(
    number: str,
    name: str,
    *,
    start: dt.date,
    end: dt.date | None,
    charged_through: dt.date | None,
    charge_type: str = "Recurring",
    model: str = "PerUnit",
    price: float | None = None,
    quantity: float | None = 1,
    billing_period: str | None = "Month",
    billing_timing: str = "IN_ADVANCE",
    trigger_date: dt.date | None = None,
    discount_percentage: float | None = None,
    apply_discount_to: str | None = None,
    currency: str = "GBP",
) -> dict[str, Any]:
    """One rate plan charge (its last segment, as GET /v1/subscriptions returns by default)."""
    one_time = charge_type == "OneTime"
    discount = model.startswith("Discount")
    return {
        "id": z.zuora_id("charge", number, iso(start) or "", str(price), str(quantity)),
        "originalChargeId": z.zuora_id("original-charge", number),
        "productRatePlanChargeId": z.zuora_id("prpc", number),
        "number": number,
        "name": name,
        "description": "",
        "type": charge_type,
        "model": model,
        "uom": None if model in ("FlatFee", "DiscountPercentage") else "Seat",
        "version": 1,
        "segment": 1,
        "isLastSegment": True,
        "currency": currency,
        "price": price,
        "quantity": quantity,
        "tiers": None,
        "discountAmount": None,
        "discountPercentage": discount_percentage,
        "discountLevel": "subscription" if discount else None,
        "applyDiscountTo": apply_discount_to,
        "billingDay": "DefaultFromCustomer",
        "billingPeriod": None if one_time else billing_period,
        "specificBillingPeriod": None,
        "billingTiming": billing_timing,
        "billingPeriodAlignment": "AlignToCharge",
        "listPriceBase": None if one_time else "Per_Billing_Period",
        "priceChangeOption": "NoChange",
        "triggerEvent": "SpecificDate" if trigger_date else "ContractEffective",
        "triggerDate": iso(trigger_date),
        "endDateCondition": "One_Time" if one_time else "Subscription_End",
        "upToPeriods": None,
        "effectiveStartDate": iso(start),
        "effectiveEndDate": iso(end),
        "processedThroughDate": iso(charged_through),
        "chargedThroughDate": iso(charged_through),
        "done": False,
    }


def rate_plan(product: Product, charges: list[dict[str, Any]], *, last_change_type: str | None = None) -> dict[str, Any]:
    return {
        "id": z.zuora_id("rate-plan", product.product_rate_plan_id, *(c["number"] for c in charges)),
        "subscriptionRatePlanNumber": "SRP-" + z.zuora_id("srp", product.product_rate_plan_id)[:8].upper(),
        "productId": z.zuora_id("product", product.product_name),
        "productName": product.product_name,
        "productSku": "SKU-" + z.zuora_id("sku", product.product_name)[:8].upper(),
        "productRatePlanId": product.product_rate_plan_id,
        "ratePlanName": product.rate_plan_name,
        "lastChangeType": last_change_type,
        "externallyManagedPlanId": None,
        "isFromExternalCatalog": False,
        "ratePlanCharges": charges,
    }


def subscription(
    number: str,
    account_number: str,
    *,
    rate_plans: list[dict[str, Any]],
    term_start: dt.date,
    term_end: dt.date | None,
    subscription_start: dt.date | None = None,
    status: str = "Active",
    version: int = 1,
    auto_renew: bool = True,
    currency: str = "GBP",
    account_name: str = "Northwind Media",
) -> dict[str, Any]:
    """GET /v1/subscriptions/{key} without `success`: TERMED with a term end, EVERGREEN without one."""
    started = subscription_start or term_start
    record = z.subscription(
        number,
        account_number,
        status=status,
        version=version,
        term_start=term_start.isoformat(),
        term_end=iso(term_end),
        auto_renew=auto_renew,
    )
    record.update(
        accountName=account_name,
        invoiceOwnerAccountId=record["accountId"],
        invoiceOwnerAccountName=account_name,
        contractEffectiveDate=started.isoformat(),
        serviceActivationDate=started.isoformat(),
        customerAcceptanceDate=started.isoformat(),
        subscriptionStartDate=started.isoformat(),
        renewalSetting="RENEW_WITH_SPECIFIC_TERM",
        currency=currency,
        notes="",
        cancelReason=None,
        statusHistory=[{"startDate": started.isoformat(), "endDate": None, "status": status}],
        OpportunityName__QT=None,
        ratePlans=rate_plans,
    )
    return record


def monthly_seats(
    number: str,
    *,
    start: dt.date,
    end: dt.date | None,
    charged_through: dt.date | None,
    seats: int = 5,
    price: float = 10.0,
) -> dict[str, Any]:
    """The Digital Pack's base charge: `seats` × `price` a month, billed in advance."""
    return charge(number, "Digital Seats", start=start, end=end, charged_through=charged_through, model="PerUnit", price=price, quantity=seats)


def monthly_flat_fee(name: str, number: str, *, price: float, start: dt.date, end: dt.date | None, charged_through: dt.date | None) -> dict[str, Any]:
    return charge(number, name, start=start, end=end, charged_through=charged_through, model="FlatFee", price=price, quantity=1)


def one_time_fee(name: str, number: str, *, price: float, on: dt.date, charged_through: dt.date | None = None) -> dict[str, Any]:
    """A one-time charge billed on `on`; once Zuora has billed it, its chargedThroughDate is set."""
    return charge(
        number,
        name,
        charge_type="OneTime",
        model="FlatFee",
        price=price,
        quantity=1,
        start=on,
        end=on + dt.timedelta(days=1),
        charged_through=charged_through,
        trigger_date=on,
    )


def percentage_discount(
    name: str, number: str, *, percentage: float, start: dt.date, end: dt.date | None, charged_through: dt.date | None
) -> dict[str, Any]:
    """A DiscountPercentage charge on the subscription's recurring charges."""
    return charge(
        number,
        name,
        model="DiscountPercentage",
        price=None,
        quantity=None,
        discount_percentage=percentage,
        apply_discount_to="RECURRING",
        start=start,
        end=end,
        charged_through=charged_through,
    )
