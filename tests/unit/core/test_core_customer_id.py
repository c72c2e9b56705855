"""The one customer-ID rule: pattern, canonical form, keypad digits → IDs, and its config checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.customer_id import CustomerIdFormat, InvalidCustomerId, KeypadPrefix
from crm_bridge.config import CrmConfig

TWO = CustomerIdFormat(keypad=(KeypadPrefix("KH", 10), KeypadPrefix("DN", 8)))


def test_default_pattern_accepts_every_imported_shape() -> None:
    f = CustomerIdFormat()
    for good in ("KH0000000001", "dn12345678", " VNPT123456789012 "):
        assert f.is_valid(good), good
    for bad in ("", "KH", "K1234567", "KH12345", "KH1234567890123", "12345678", "KH 0000000001"):
        assert not f.is_valid(bad), bad
    assert f.parse(" dn12345678 ") == "DN12345678"


def test_parse_refuses_with_an_example_of_the_format() -> None:
    with pytest.raises(InvalidCustomerId, match="is not like KH0000001234") as err:
        CustomerIdFormat().parse("X1")
    assert err.value.error_id == "crm.invalid_customer_id"


def test_keypad_digits_become_each_prefix_in_order() -> None:
    assert TWO.from_keys("12345678") == ["KH0012345678", "DN12345678"]
    assert TWO.from_keys("1") == ["KH0000000001", "DN00000001"]
    assert TWO.from_keys("123456789") == ["KH0123456789"]  # too long for DN's 8 digits
    assert TWO.from_keys("12345678901") == []
    assert TWO.from_keys("12#") == [] and TWO.from_keys("") == []


def test_config_rejects_a_keypad_prefix_the_pattern_refuses() -> None:
    with pytest.raises(ValidationError, match="which the pattern"):
        CrmConfig.model_validate(
            {"customer_id": {"pattern": r"KH\d{10}", "keypad": [{"prefix": "DN", "digits": 8}]}}
        )
    with pytest.raises(ValidationError, match="not a regular expression"):
        CrmConfig.model_validate({"customer_id": {"pattern": "KH(\\d"}})
    with pytest.raises(ValidationError):
        CrmConfig.model_validate({"customer_id": {"keypad": [{"prefix": "kh", "digits": 10}]}})
    cfg = CrmConfig.model_validate({"customer_id": {"keypad": [{"prefix": "DN", "digits": 8}]}})
    assert cfg.customer_id.format().from_keys("5") == ["DN00000005"]
