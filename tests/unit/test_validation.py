"""What POST /syncs accepts, and how it explains a rejection."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from limio_sync.api import StartSyncRequest
from limio_sync.http_errors import validation_error_body
from limio_sync.validation import salesforce_checksum


def rejection(body: dict) -> dict:
    with pytest.raises(ValidationError) as caught:
        StartSyncRequest.model_validate(body)
    return validation_error_body(caught.value.errors())["error"]


def test_salesforce_checksum_matches_salesforce():
    # Salesforce's documented example: 001A0000006Vm9r has the 18-character form 001A0000006Vm9rIAC.
    assert salesforce_checksum("001A0000006Vm9r") == "IAC"


@pytest.mark.parametrize("sf_id", ["001A0000006Vm9r", "001A0000006Vm9rIAC", "001A0000006Vm9riac"])
def test_15_and_18_character_ids_are_accepted_as_the_one_18_character_customer_key(sf_id):
    assert StartSyncRequest.model_validate({"salesforceAccountId": sf_id}).customer().salesforceAccountId == "001A0000006Vm9rIAC"


def test_an_18_character_id_with_a_wrong_checksum_is_rejected_with_the_expected_checksum():
    error = rejection({"salesforceAccountId": "001A0000006Vm9rAAA"})
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == "salesforceAccountId"
    assert "IAC" in error["message"]


def test_both_customer_keys_is_rejected():
    error = rejection({"salesforceAccountId": "001A0000006Vm9r", "zuoraAccountNumber": "A00001001"})
    assert "exactly one of salesforceAccountId or zuoraAccountNumber" in error["message"]


def test_neither_customer_key_is_rejected():
    assert "exactly one" in rejection({"requestedBy": "agent"})["message"]


def test_unknown_fields_are_named():
    error = rejection({"zuoraAccountNumber": "A00001001", "force": True})
    assert error["details"] == [{"field": "force", "problem": "is not a known field"}]


@pytest.mark.parametrize("bad", ["A0001' OR 1=1", "../A1", "", "x" * 80])
def test_account_numbers_that_could_change_a_query_are_rejected(bad):
    assert rejection({"zuoraAccountNumber": bad})["details"][0]["field"] == "zuoraAccountNumber"
