"""A phone's spelling kept without its digits: it gives back exactly what was written, and no digit of
the number; anything it cannot keep so is sealed."""

from __future__ import annotations

import re
import secrets

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from contactfix.privacy import DataKey, Keyring, using_keyring
from contactfix.privacy.respelling import is_respelling, respelling, spelt, stored_original
from contactfix.privacy.rotation import seal_in_place
from contactfix.privacy.sealing import field_cipher, is_sealed


def _seal(text: str) -> str:
    return f"sealed({text})"


@pytest.mark.parametrize(
    ("value", "original", "kept"),
    [
        ("+8613800138000", "13800138000", "r1.###########"),
        ("+8613800138000", "138 0013 8000", "r1.### #### ####"),
        ("+8613800138000", "+86 138-0013-8000", "r1.+## ###-####-####"),
        ("+8613800138000", "0086 13800138000", "r1.00## ###########"),
        ("+8659187654321", "0591-87654321", "r1.0###-########"),
        ("+8659187654321", "(0591)8765 4321", "r1.(0###)#### ####"),
        ("+8659187654321", "87654321", "r1.########"),  # a local number: the area came from elsewhere
    ],
)
def test_a_phone_spelt_with_separators_keeps_no_digit_of_the_number(
    value: str, original: str, kept: str
) -> None:
    assert respelling(value, original) == kept
    assert spelt(value, kept) == original
    assert stored_original("phone", value, original, _seal) == kept


@pytest.mark.parametrize(
    ("value", "original"),
    [
        ("+8613800138000", "１３８００１３８０００"),  # full-width digits: not ours to rewrite
        ("+8613800138000", "张三 13800138000"),  # words beside the number
        ("+8613800138000", "13800138000转123"),  # an extension
        ("+8613800138000", "13800138001"),  # digits that are not the value's
        ("+8613800138000", "13900139000/13800138000"),  # another number before it
        ("+8613800138000", "#13800138000"),  # the mark itself
        ("+8612345", "12345"),  # too short for a phone
    ],
)
def test_a_spelling_that_is_not_the_value_respelt_is_sealed(value: str, original: str) -> None:
    assert respelling(value, original) is None
    assert stored_original("phone", value, original, _seal) == _seal(original)


def test_a_spelling_equal_to_the_value_is_null_and_an_address_is_never_respelt() -> None:
    assert stored_original("phone", "+8613800138000", "+8613800138000", _seal) is None
    assert stored_original("address", "福州市台江区", "福州市台江区", _seal) is None
    address = "福州市台江区 1380013800号"  # digits that would match: still an address, sealed
    assert stored_original("address", "福州市台江区1380013800号", address, _seal) == _seal(address)
    assert not is_respelling(_seal("x")) and is_respelling("r1.###########")
    # Only our own form: text stored in clear before encryption that starts alike is not one.
    assert not any(map(is_respelling, ["r1. 客户说13800138000", "r1.13800138000", "r1.###", "r1.123456###"]))


_SEPARATOR = st.sampled_from([" ", "-", "", "　", "（", "）", "(", ")", "．", "－"])


@settings(max_examples=300, deadline=None)
@given(
    national=st.from_regex(r"1[3-9][0-9]{9}|0[1-9][0-9]{9,10}", fullmatch=True),
    prefix=st.sampled_from(["", "+86", "86", "0086", "+86 "]),
    cuts=st.lists(st.tuples(st.integers(1, 10), _SEPARATOR), max_size=4),
)
def test_any_bank_spelling_round_trips_and_hides_the_number(
    national: str, prefix: str, cuts: list[tuple[int, str]]
) -> None:
    value = "+86" + national.removeprefix("0")
    written = list(national)
    for at, separator in sorted(cuts, reverse=True):
        written.insert(min(at, len(written)), separator)
    original = prefix + "".join(written)
    kept = respelling(value, original)
    assert kept is not None and is_respelling(kept)
    assert spelt(value, kept) == original
    # What stays in clear is a prefix ("0086", a trunk 0) at most: no run of the number's digits.
    assert len(re.sub(r"\D", "", kept.removeprefix("r1."))) <= 5


@settings(max_examples=300, deadline=None)
@given(value=st.from_regex(r"\+86[0-9]{10,11}", fullmatch=True), original=st.text(max_size=24))
def test_any_text_is_respelt_exactly_or_not_at_all(value: str, original: str) -> None:
    kept = respelling(value, original)
    if kept is not None:
        assert is_respelling(kept) and spelt(value, kept) == original
        assert len([ch for ch in kept.removeprefix("r1.") if ch.isdigit()]) <= 5


def test_sealing_in_place_keeps_respellings_and_seals_text_that_only_starts_like_one() -> None:
    engine = sa.create_engine("sqlite://")
    stored = ["r1.### #### ####", "r1. 客户说13800138000", "13800138000"]
    ring = Keyring(DataKey(secrets.token_bytes(32)), source="test")
    with using_keyring(ring), engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, value TEXT)")
        connection.execute(sa.text("INSERT INTO notes (value) VALUES (:v)"), [{"v": v} for v in stored])
        report = seal_in_place(connection, {"notes": ["value"]}, ring)
        after = connection.exec_driver_sql("SELECT value FROM notes ORDER BY id").scalars().all()
    assert report.rewritten == {"notes": 2}
    assert after[0] == stored[0] and all(is_sealed(v) for v in after[1:])
    assert [field_cipher(ring).open(v) for v in after] == stored
