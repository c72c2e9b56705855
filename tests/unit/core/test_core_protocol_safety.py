"""CR/LF never reaches Asterisk: AMI headers and AGI arguments are refused or quoted."""

from __future__ import annotations

import pytest

from core.agi import quote_arg
from core.errors import UnsafeValue
from core.protocol_safety import check_line_value


@pytest.mark.parametrize("bad", ["a\r\nAction: Originate", "x\nEXEC System touch pwned", "nul\0"])
def test_line_breaks_are_refused(bad: str) -> None:
    with pytest.raises(UnsafeValue):
        check_line_value(bad)
    with pytest.raises(UnsafeValue):
        quote_arg(bad)


def test_agi_arguments_are_quoted() -> None:
    assert quote_arg('say "hi" \\ there') == '"say \\"hi\\" \\\\ there"'
    assert quote_arg("Nguyễn Văn An") == '"Nguyễn Văn An"'


def test_password_hash_round_trip() -> None:
    from core.passwords import hash_password, verify_password

    h = hash_password("mật-khẩu")
    assert verify_password("mật-khẩu", h)
    assert not verify_password("mat-khau", h)
    assert not verify_password("x", "garbage")
