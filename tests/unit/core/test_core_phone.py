"""Vietnamese number normalisation to E.164."""

from __future__ import annotations

import pytest

from core.errors import TongdaiError
from core.phone import OLD_MOBILE_PREFIXES, InvalidNumber, to_e164, try_e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0912345678", "+84912345678"),
        ("+84912345678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("912345678", "+84912345678"),
        ("0084912345678", "+84912345678"),
        ("091 234 5678", "+84912345678"),
        ("091.234.5678", "+84912345678"),
        ("091-234-5678", "+84912345678"),
        ("(+84) 912-345-678", "+84912345678"),
        ("\u00a00912\u00a0345678 ", "+84912345678"),
        ("0333333333", "+84333333333"),
        ("0562223333", "+84562223333"),
        ("0702223333", "+84702223333"),
        ("0812223333", "+84812223333"),
        # a bare 9-digit NSN that starts with 84 is VinaPhone's 084, not a country code
        ("841234567", "+84841234567"),
        ("0841234567", "+84841234567"),
        ("84841234567", "+84841234567"),
        # fixed lines: Hà Nội 024, TP HCM 028, other 02xx codes
        ("024 3826 1234", "+842438261234"),
        ("02438261234", "+842438261234"),
        ("+84 24 3826 1234", "+842438261234"),
        ("842438261234", "+842438261234"),
        ("028 3829 5555", "+842838295555"),
        ("0236 3822 111", "+842363822111"),
        ("0225.3842.888", "+842253842888"),
        ("2438261234", "+842438261234"),
        # other countries stay as they are
        ("+1 415 555 2671", "+14155552671"),
        ("0044 20 7946 0958", "+442079460958"),
    ],
)
def test_normalises_to_e164(raw: str, e164: str) -> None:
    assert to_e164(raw) == e164


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("01621234567", "+84321234567"),
        ("01631234567", "+84331234567"),
        ("01641234567", "+84341234567"),
        ("01651234567", "+84351234567"),
        ("01661234567", "+84361234567"),
        ("01671234567", "+84371234567"),
        ("01681234567", "+84381234567"),
        ("01691234567", "+84391234567"),
        ("01201234567", "+84701234567"),
        ("01211234567", "+84791234567"),
        ("01221234567", "+84771234567"),
        ("01261234567", "+84761234567"),
        ("01281234567", "+84781234567"),
        ("01231234567", "+84831234567"),
        ("01241234567", "+84841234567"),
        ("01251234567", "+84851234567"),
        ("01271234567", "+84811234567"),
        ("01291234567", "+84821234567"),
        ("01861234567", "+84561234567"),
        ("01881234567", "+84581234567"),
        ("01991234567", "+84591234567"),
        ("+841681234567", "+84381234567"),
        ("841681234567", "+84381234567"),
        ("0168 123 4567", "+84381234567"),
    ],
)
def test_2018_eleven_digit_mobiles_move_to_ten(old: str, new: str) -> None:
    assert to_e164(old) == new


def test_every_old_prefix_is_mapped_to_a_ten_digit_mobile() -> None:
    assert len(OLD_MOBILE_PREFIXES) == 21
    for old, new in OLD_MOBILE_PREFIXES.items():
        e164 = to_e164(old + "1234567")
        assert e164 == "+84" + new[1:] + "1234567"
        assert len(e164) == 12  # +84 and a 9-digit mobile NSN


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "anonymous",
        "0912abc678",
        "091234567",  # one digit short
        "09123456789",  # one digit too many
        "01611234567",  # 0161 was never converted
        "0112345678",
        "0412345678",
        "+0912345678",
        "+123",
        "12345",
        "0243826123",  # fixed line one digit short
        "٠٩١٢٣٤٥٦٧٨",  # Arabic-Indic digits are not accepted digits
        "+84 91234567",
        "1900 1091",  # short codes have no E.164 form here
    ],
)
def test_rejects_garbage_with_a_clear_error(garbage: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        to_e164(garbage)
    assert info.value.error_id == "crm.invalid_number"
    assert isinstance(info.value, TongdaiError) and isinstance(info.value, ValueError)
    assert str(info.value)
    assert try_e164(garbage) is None


def test_integers_are_refused_because_the_leading_zero_is_already_lost() -> None:
    with pytest.raises(InvalidNumber, match="text"):
        to_e164(912345678)  # type: ignore[arg-type]
