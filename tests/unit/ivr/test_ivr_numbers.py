"""Number read-backs: Vietnamese and English words, and the sound tokens they map to."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from ivr import numbers
from ivr.numbers import WORDS, vi_slug

VI_CASES = [
    (0, "không"),
    (1, "một"),
    (4, "bốn"),
    (5, "năm"),
    (10, "mười"),
    (11, "mười một"),
    (14, "mười bốn"),
    (15, "mười lăm"),
    (19, "mười chín"),
    (20, "hai mươi"),
    (21, "hai mươi mốt"),
    (24, "hai mươi tư"),
    (25, "hai mươi lăm"),
    (31, "ba mươi mốt"),
    (55, "năm mươi lăm"),
    (99, "chín mươi chín"),
    (100, "một trăm"),
    (101, "một trăm lẻ một"),
    (104, "một trăm lẻ bốn"),
    (105, "một trăm lẻ năm"),
    (110, "một trăm mười"),
    (115, "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt"),
    (205, "hai trăm lẻ năm"),
    (999, "chín trăm chín mươi chín"),
    (1000, "một nghìn"),
    (1001, "một nghìn không trăm lẻ một"),
    (1005, "một nghìn không trăm lẻ năm"),
    (1010, "một nghìn không trăm mười"),
    (1050, "một nghìn không trăm năm mươi"),
    (1250, "một nghìn hai trăm năm mươi"),
    (2026, "hai nghìn không trăm hai mươi sáu"),
    (10_000, "mười nghìn"),
    (15_000, "mười lăm nghìn"),
    (21_000, "hai mươi mốt nghìn"),
    (100_000, "một trăm nghìn"),
    (105_000, "một trăm lẻ năm nghìn"),
    (1_000_000, "một triệu"),
    (1_250_000, "một triệu hai trăm năm mươi nghìn"),
    (1_000_005, "một triệu không trăm lẻ năm"),
    (2_500_000, "hai triệu năm trăm nghìn"),
    (10_000_000, "mười triệu"),
    (1_000_000_000, "một tỷ"),
    (15_000_000_000, "mười lăm tỷ"),
    (1_000_000_000_000, "một nghìn tỷ"),
]

EN_CASES = [
    (0, "zero"),
    (7, "seven"),
    (13, "thirteen"),
    (21, "twenty-one"),
    (40, "forty"),
    (99, "ninety-nine"),
    (100, "one hundred"),
    (105, "one hundred five"),
    (1005, "one thousand five"),
    (1250, "one thousand two hundred fifty"),
    (1_000_000, "one million"),
    (1_250_000, "one million two hundred fifty thousand"),
    (3_000_000_021, "three billion twenty-one"),
]


@pytest.mark.parametrize(("n", "text"), VI_CASES)
def test_vietnamese_cardinals(n: int, text: str) -> None:
    assert numbers.number(n, "vi").text == text


@pytest.mark.parametrize(("n", "text"), EN_CASES)
def test_english_cardinals(n: int, text: str) -> None:
    assert numbers.number(n, "en").text == text


def test_2_000_000_500_reads_the_hundreds_group_in_full() -> None:
    # Group 000 000 500 after tỷ: "không trăm" would be wrong here; 500 is "năm trăm".
    assert numbers.number(2_000_000_500, "vi").text == "hai tỷ năm trăm"


def test_tokens_name_one_sound_file_per_word() -> None:
    spoken = numbers.number(21, "vi")
    assert spoken.tokens == ("vi/num/hai", "vi/num/muoi", "vi/num/mot1")
    assert numbers.number(11, "vi").tokens == ("vi/num/muoi2", "vi/num/mot5")
    assert numbers.number(21, "en").tokens == ("en/num/twenty", "en/num/one")


def test_vietnamese_slugs_keep_tones_apart() -> None:
    # một/mốt and mười/mươi differ only by tone: their files must differ too.
    assert vi_slug("một") != vi_slug("mốt")
    assert vi_slug("mười") != vi_slug("mươi")
    assert vi_slug("đồng") == "dong2"
    assert len(set(WORDS["vi"])) == len(WORDS["vi"]) == len(set(WORDS["vi"].values()))
    assert all(s.isascii() and s.isalnum() for s in WORDS["vi"])


def test_amounts_in_dong() -> None:
    vi = numbers.amount_vnd(1_250_000, "vi")
    assert vi.text == "một triệu hai trăm năm mươi nghìn đồng"
    assert vi.tokens[-1] == "vi/num/dong2"
    assert numbers.amount_vnd(0, "vi").text == "không đồng"
    assert numbers.amount_vnd(350_000, "en").text == "three hundred fifty thousand dong"


def test_points() -> None:
    assert numbers.points(1500, "vi").text == "một nghìn năm trăm điểm"
    assert numbers.points(1, "en").text == "one point"
    assert numbers.points(2, "en").text == "two points"


def test_dates() -> None:
    assert numbers.date(dt.date(2026, 3, 5), "vi").text == (
        "ngày năm tháng ba năm hai nghìn không trăm hai mươi sáu"
    )
    assert numbers.date(dt.date(2026, 4, 24), "vi").text == (
        "ngày hai mươi tư tháng tư năm hai nghìn không trăm hai mươi sáu"
    )
    assert numbers.date(dt.date(2026, 3, 5), "en").text == "March fifth twenty twenty-six"
    assert numbers.date(dt.date(2027, 12, 31), "en").text == "December thirty-first twenty twenty-seven"
    assert numbers.date(dt.date(2000, 1, 20), "en").text == "January twentieth two thousand"
    assert numbers.date(dt.date(2007, 2, 22), "en").text == "February twenty-second two thousand seven"
    assert numbers.date(dt.date(1905, 6, 1), "en").text == "June first nineteen oh five"
    assert (
        numbers.month_year(dt.date(2026, 2, 1), "vi").text
        == "tháng hai năm hai nghìn không trăm hai mươi sáu"
    )
    assert numbers.month_year(dt.date(2026, 2, 1), "en").text == "February twenty twenty-six"


def test_digits_one_by_one() -> None:
    assert numbers.digits("0912", "vi").text == "không chín một hai"
    assert numbers.digits("45", "en").text == "four five"
    with pytest.raises(ValueError):
        numbers.digits("12a", "vi")


@pytest.mark.parametrize("bad", [-1, 10**15])
def test_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises(ValueError):
        numbers.number(bad, "vi")


def test_non_int_is_refused() -> None:
    with pytest.raises(TypeError):
        numbers.number(True, "vi")
    with pytest.raises(TypeError):
        numbers.number(1.5, "vi")  # type: ignore[arg-type]


def test_every_word_of_every_read_back_has_a_sound() -> None:
    rng = random.Random(4)
    samples = list(range(0, 2100)) + [rng.randrange(0, 10**13) for _ in range(3000)]
    for lang in ("vi", "en"):
        for n in samples:
            for spoken in (numbers.number(n, lang), numbers.amount_vnd(n, lang), numbers.points(n, lang)):
                for token in spoken.tokens:  # raises KeyError if a word has no file
                    assert token.split("/")[2] in WORDS[lang]
        day = dt.date(2026, 1, 1)
        for _ in range(800):
            assert numbers.date(day, lang).tokens
            day += dt.timedelta(days=1)


def test_mixing_languages_is_an_error() -> None:
    with pytest.raises(ValueError):
        numbers.number(1, "vi") + numbers.number(1, "en")
