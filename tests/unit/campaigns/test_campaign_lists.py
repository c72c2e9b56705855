"""CSV contact lists: numbers to E.164, duplicates merged, every bad row named, all or nothing."""

from __future__ import annotations

import pytest

from campaigns.lists import ListRejected, parse_list


def test_numbers_are_normalised_and_duplicates_merged_keeping_the_higher_priority() -> None:
    text = (
        "\ufeffNumber,priority,name\n"
        "0912 345 678,5,Nguyễn Văn An\n"
        "+84 88 123 4567,,\n"
        "\n"
        "84912345678,9,\n"  # the first number again, in another form
    )
    entries = parse_list(text, max_rows=10)
    assert [(e.number, e.priority, e.name, e.rows) for e in entries] == [
        ("+84912345678", 9, "Nguyễn Văn An", (2, 5)),
        ("+84881234567", 0, "", (3,)),
    ]


def test_every_bad_row_is_reported_with_its_row_number_and_nothing_is_kept() -> None:
    text = (
        "number,priority,customer_id\n0912345678,1,KH1\n12ab,2,\n0912345679,high,\n0912345680,1,x y\n0912\n"
    )
    with pytest.raises(ListRejected) as err:
        parse_list(text, max_rows=10)
    errors = err.value.errors
    assert [e.split(":")[0] for e in errors] == ["row 3", "row 4", "row 5", "row 6"]
    assert "priority" in errors[1] and "customer_id" in errors[2] and "field(s)" in errors[3]
    assert err.value.error_id == "campaign.list_rejected" and "nothing imported" in str(err.value)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("", "header is missing"),
        ("phone,priority\n0912345678,1\n", "header must name number"),
        ("number,number\n0912345678,0912345678\n", "header must name number"),
        ("number\n\n", "no rows"),
        ("number\n0912345678\n0912345679\n0912345670\n", "at most 2 rows"),
    ],
)
def test_a_list_without_a_usable_header_or_rows_is_refused(text: str, want: str) -> None:
    with pytest.raises(ListRejected, match=want):
        parse_list(text, max_rows=2)
