"""Cell values: the short path for plain amounts gives what the general path gives."""

from __future__ import annotations

import pytest

from contactfix.intake.values import BadValue, parse_amount

PLAIN = ["0", "7", "12345.6", "12,345.60", "1,2,3", "007.50", "0.004", "0.005", "99999999999999.99", "5,"]


@pytest.mark.parametrize("text", [*PLAIN, "99999999999999.995", "100000000000000", "1" * 40])
def test_a_plain_amount_reads_as_the_general_path_reads_it(text: str) -> None:
    general = f"{text} "  # the space keeps it off the short path; the general path strips it
    try:
        expected: object = parse_amount(general)
    except BadValue as exc:
        with pytest.raises(BadValue, match=str(exc)):
            parse_amount(text)
    else:
        assert parse_amount(text) == expected
