"""Stage 2 — blocking: exact joins, swapped names, typo-tolerant keys, sorted neighbourhoods, caps."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from matchers.blocking import BlockingRule, BlockLimits, block
from matchers.blocking_keys import deletion_hashes
from matchers.columns import factorize
from matchers.inputs import table_from_columns
from matchers.normalize import PersonRecords, normalize_records

RNG = random.Random(7)


def _records(left: dict[str, list[str]], right: dict[str, list[str]] | None = None) -> PersonRecords:
    return normalize_records(
        table_from_columns(list(left), left, "L"),
        table_from_columns(list(right), right, "R") if right else None,
    )


def _pairs(
    records: PersonRecords, rules: list[BlockingRule], limits: BlockLimits | None = None
) -> set[tuple[str, str]]:
    candidates = block(records, rules, limits)
    ids = records.ids
    return {
        (str(ids[a]), str(ids[b]))
        for a, b in zip(candidates.left.tolist(), candidates.right.tolist(), strict=True)
    }


def _brute_force(keys_left: list[str | None], keys_right: list[str | None]) -> set[tuple[int, int]]:
    return {
        (i, j)
        for (i, a), (j, b) in itertools.product(enumerate(keys_left), enumerate(keys_right))
        if a and a == b
    }


def test_exact_join_equals_brute_force_for_a_link() -> None:
    left = [RNG.choice(["13912345678", "13800000000", "13700000001", ""]) for _ in range(60)]
    right = [RNG.choice(["13912345678", "13800000000", "13600000002", ""]) for _ in range(50)]
    records = _records(
        {"id": [f"l{i}" for i in range(60)], "phone": left},
        {"id": [f"r{i}" for i in range(50)], "phone": right},
    )
    expected = {(f"l{i}", f"r{j}") for i, j in _brute_force(left, right)}
    assert _pairs(records, [BlockingRule(("phone",))], BlockLimits(10_000, 1e9)) == expected


def test_deduplication_pairs_each_pair_once_and_never_a_row_with_itself() -> None:
    phones = [RNG.choice(["13912345678", "13800000000", ""]) for _ in range(40)]
    records = _records({"id": [f"r{i}" for i in range(40)], "phone": phones})
    got = _pairs(records, [BlockingRule(("phone",))], BlockLimits(10_000, 1e9))
    expected = {(f"r{i}", f"r{j}") for i, j in _brute_force(phones, phones) if i < j}
    assert got == expected


def test_swapped_given_and_family_names_still_meet() -> None:
    records = _records(
        {"id": ["a"], "given_name": ["mary"], "family_name": ["jones"], "birth_date": ["19800101"]},
        {"id": ["b"], "given_name": ["jones"], "family_name": ["mary"], "birth_date": ["19800101"]},
    )
    straight = BlockingRule(("family_pinyin", "birth_date"))
    either = BlockingRule(("family_pinyin", "birth_date"), swap=(("family_pinyin", "given_pinyin"),))
    assert _pairs(records, [straight]) == set()
    assert _pairs(records, [either]) == {("a", "b")}


@pytest.mark.parametrize("typo", ["13912345670", "1391234567", "139123456789", "13921345678"])
def test_typo_tolerant_keys_find_one_edit_apart(typo: str) -> None:
    records = _records(
        {"id": ["a"], "phone": ["13912345678"]}, {"id": ["b", "c"], "phone": [typo, "13887654321"]}
    )
    assert _pairs(records, [BlockingRule((), fuzzy="phone")]) == {("a", "b")}


def test_deletion_hashes_match_for_strings_one_deletion_apart() -> None:
    column = factorize(["smith", "smth", "jones"])
    hashes, valid = deletion_hashes(column.values)
    members = [set(hashes[k][valid[k]].tolist()) for k in range(3)]
    assert members[0] & members[1]
    assert not members[0] & members[2]


def test_sorted_neighbourhood_pairs_near_keys_only() -> None:
    addresses = ["1 abbey road", "1 abbey raod", "5 middle lane", "99 zulu street"]
    records = _records({"id": ["a", "b", "m", "c"], "address": addresses})
    got = _pairs(records, [BlockingRule(("address",), window=2)])
    assert ("a", "b") in got and ("a", "c") not in got


def test_oversized_blocks_are_skipped_and_reported() -> None:
    n = 300
    records = _records(
        {
            "id": [str(i) for i in range(n)],
            "name": ["王伟"] * n,
            "phone": [f"1391234{i:04d}" for i in range(n)],
        }
    )
    candidates = block(
        records, [BlockingRule(("name",)), BlockingRule(("phone",))], BlockLimits(max_block_size=50)
    )
    name_report = candidates.report[0]
    assert name_report.capped_blocks == 1 and name_report.largest_block == n and name_report.pairs == 0
    assert len(candidates) == 0


def test_pair_budget_caps_the_largest_blocks_first() -> None:
    families = ["common"] * 40 + [f"rare{i}" for i in range(20) for _ in range(2)]
    records = _records({"id": [str(i) for i in range(len(families))], "family_name": families})
    rule = BlockingRule(("family_pinyin",))
    capped = block(records, [rule], BlockLimits(max_block_size=1000, pairs_per_record=0.5))
    assert capped.report[0].capped_blocks == 1  # the 40-record block goes, the 20 small ones stay
    assert len(capped) == 20


def test_rules_without_values_are_skipped_with_a_reason_and_counts_add_up() -> None:
    records = _records({"id": ["1", "2"], "phone": ["13912345678", "13912345678"]})
    candidates = block(
        records, [BlockingRule(("email",)), BlockingRule(("phone",)), BlockingRule((), fuzzy="phone")]
    )
    email, phone, fuzzy = candidates.report
    assert email.skipped and "email" in email.skipped
    assert (phone.pairs, phone.new_pairs, fuzzy.pairs, fuzzy.new_pairs) == (1, 1, 1, 0)
    assert np.all(candidates.left < candidates.right)
