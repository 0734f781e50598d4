"""Stable blocking keys and stored models (matchers): what incremental reconciliation rests on."""

from __future__ import annotations

import json
import random
from itertools import combinations, pairwise

import numpy as np
import pytest

from contactfix.pipeline.keys import key_rows
from matchers.blocking import BlockingRule
from matchers.inputs import table_from_columns
from matchers.linker import Linker, LinkSettings
from matchers.normalize import normalize_records
from matchers.stable_keys import (
    FUZZY_CUTS,
    RecordKeys,
    edit_variants,
    key_kind,
    linkable,
    pairs_sharing_keys,
    stable_keys,
)
from matchers.stored_model import (
    ModelFormatError,
    model_from_params,
    model_params,
    name_conflicts,
    score_pairs,
)

DIGITS = "0123456789"


def _one_edit(value: str, rng: random.Random) -> str:
    """``value`` with one random substitution, insertion, deletion or swap of neighbours."""
    i = rng.randrange(len(value))
    kind = rng.choice(("sub", "ins", "del", "swap"))
    if kind == "sub":
        return value[:i] + rng.choice([d for d in DIGITS if d != value[i]]) + value[i + 1 :]
    if kind == "ins":
        return value[:i] + rng.choice(DIGITS) + value[i:]
    if kind == "del":
        return value[:i] + value[i + 1 :]
    i = min(i, len(value) - 2)
    return value[:i] + value[i + 1] + value[i] + value[i + 2 :]


@pytest.mark.parametrize(("field", "length"), [("id", 18), ("phone", 11)])
def test_cut_keys_find_every_single_edit(field: str, length: int) -> None:
    rng = random.Random(7)
    cuts = FUZZY_CUTS[field]
    for _ in range(3000):
        value = "".join(rng.choice(DIGITS) for _ in range(length))
        edited = _one_edit(value, rng)
        assert set(edit_variants(value, cuts)) & set(edit_variants(edited, cuts)), (value, edited)


def test_cut_keys_rarely_join_unrelated_values() -> None:
    rng = random.Random(8)
    values = ["".join(rng.choice(DIGITS) for _ in range(18)) for _ in range(2000)]
    keys = [set(edit_variants(v, FUZZY_CUTS["id"])) for v in values]
    sharing = sum(1 for a, b in pairwise(keys) if a & b)
    assert sharing == 0


def test_deletion_neighbourhood_for_other_fields() -> None:
    assert set(edit_variants("smith@x.cn", None)) & set(edit_variants("smtih@x.cn", None))
    assert not set(edit_variants("smith@x.cn", None)) & set(edit_variants("jones@y.cn", None))


def _records(rows: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    header = ["id", "name", "id_number", "birth_date", "phone", "address"]
    columns = {h: [row.get(h, "") for row in rows] for h in header}
    return normalize_records(table_from_columns(header, columns, "T"))


PEOPLE = [
    {"id": "1", "name": "张伟", "id_number": "350103199001021235", "phone": "13800138000"},
    {"id": "2", "name": "張偉", "id_number": "350103199001021235", "phone": "13800138001"},
    {"id": "3", "name": "李娜", "birth_date": "1985-03-04", "address": "福建省福州市鼓楼区五一路1号"},
    {"id": "4", "name": "李娜", "birth_date": "1985-03-04"},
    {"id": "5", "name": "王芳"},
]


def _by_id(keys: RecordKeys, ids: list[str]) -> set[tuple[str, str, int]]:
    return {
        (ids[r], k, v)
        for r, k, v in zip(keys.rows.tolist(), keys.kinds.tolist(), keys.keys.tolist(), strict=True)
    }


def test_keys_are_stable_and_hide_the_values() -> None:
    first, second = stable_keys(_records(PEOPLE)), stable_keys(_records(list(reversed(PEOPLE))))
    # The same record gives the same keys, wherever it sits in the table.
    ids = [p["id"] for p in PEOPLE]
    assert _by_id(first, ids) == _by_id(second, list(reversed(ids)))
    assert all(len(h) == 16 and "350103" not in h for h in first.hex_keys())
    assert all(len(kind) <= 20 for kind in first.kinds.tolist())


def test_records_sharing_a_key_pair_up_and_a_name_alone_does_not_link() -> None:
    records = _records(PEOPLE)
    assert linkable(records).tolist() == [True, True, True, True, False]
    keys = stable_keys(records)
    keys = keys.take(linkable(records)[keys.rows])
    left, right, skipped = pairs_sharing_keys(keys, max_block_size=50)
    assert set(zip(left.tolist(), right.tolist(), strict=True)) == {(0, 1), (2, 3)}
    assert skipped == 0
    # With blocks of at most one record nothing pairs, and every shared key is reported as skipped.
    none = pairs_sharing_keys(keys, max_block_size=1)
    assert len(none[0]) == 0 and none[2] > 0


def test_pairs_sharing_keys_matches_a_brute_force_join() -> None:
    rng = random.Random(3)
    people = [
        {
            "id": str(k),
            "name": rng.choice(["张伟", "王芳", "李娜", "刘洋"]),
            "phone": f"1380013{rng.randrange(40):04d}",
        }
        for k in range(120)
    ]
    records = _records(people)
    keys = stable_keys(records)
    left, right, _ = pairs_sharing_keys(keys, max_block_size=6)
    groups: dict[tuple[str, int], set[int]] = {}
    for row, kind, key in zip(keys.rows.tolist(), keys.kinds.tolist(), keys.keys.tolist(), strict=True):
        groups.setdefault((kind, key), set()).add(row)
    expected = {pair for rows in groups.values() if len(rows) <= 6 for pair in combinations(sorted(rows), 2)}
    assert set(zip(left.tolist(), right.tolist(), strict=True)) == expected


def test_key_kind_is_short_and_distinct() -> None:
    long = BlockingRule(("family_pinyin", "birth_date"), swap=(("family_pinyin", "given_pinyin"),))
    other = BlockingRule(("family_pinyin", "postcode"), swap=(("family_pinyin", "given_pinyin"),))
    assert len(key_kind(long)) <= 20 and key_kind(long) != key_kind(other)
    assert key_kind(BlockingRule(("id",))) == "id"


def test_a_stored_model_scores_as_the_fitted_one() -> None:
    rng = random.Random(5)
    people = []
    for k in range(400):
        birth = f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}"
        name = rng.choice("张王李刘陈杨") + rng.choice("伟芳娜敏静丽强磊军洋")
        phone = f"139{rng.randrange(10**8):08d}"
        people.append({"id": f"a{k}", "name": name, "birth_date": birth, "phone": phone})
        if k % 2:
            people.append({"id": f"b{k}", "name": name, "birth_date": birth, "phone": phone[:-1] + "0"})
    header = ["id", "name", "birth_date", "phone"]
    table = table_from_columns(header, {h: [p.get(h, "") for p in people] for h in header}, "T")
    result = Linker(LinkSettings(chain_pairs=False)).link_tables(table, None)
    stored = model_from_params(json.loads(json.dumps(model_params(result))))
    pairs = result.pairs_table
    scored = score_pairs(stored, result.records, pairs.left, pairs.right)
    assert len(pairs) > 100
    np.testing.assert_allclose(scored.probability, pairs.probability, rtol=0, atol=1e-12)
    np.testing.assert_allclose(scored.weights, pairs.weights, rtol=0, atol=1e-6)
    # Scored on another table (a few records normalised alone), the same pairs score the same.
    subset = [p for p in people if p["id"] in ("a1", "b1")]
    small = normalize_records(table_from_columns(header, {h: [p[h] for p in subset] for h in header}, "S"))
    alone = score_pairs(stored, small, np.array([0]), np.array([1]))
    row = int(
        np.flatnonzero((result.records.ids[pairs.left] == "a1") & (result.records.ids[pairs.right] == "b1"))[
            0
        ]
    )
    assert alone.probability[0] == pytest.approx(pairs.probability[row], abs=1e-12)


def test_unreadable_model_params_are_refused() -> None:
    with pytest.raises(ModelFormatError, match="format"):
        model_from_params({"format": 99})
    with pytest.raises(ModelFormatError, match="incomplete"):
        model_from_params({"format": 1, "comparators": []})


def test_same_id_with_another_name_is_a_conflict_but_a_slip_is_not() -> None:
    same = "350103199001021235"
    records = _records(
        [
            {"id": "1", "name": "张欣玲", "id_number": same},
            {"id": "2", "name": "张欣琳", "id_number": same},  # one character: a slip
            {"id": "3", "name": "欧阳锋", "id_number": same},  # another family name
            {"id": "4", "name": "张强", "id_number": same},  # same family, given names share nothing
            {"id": "5", "name": "李四", "id_number": "350103199001021251"},  # another ID: no conflict
        ]
    )
    left, right = np.array([0, 0, 0, 0]), np.array([1, 2, 3, 4])
    assert name_conflicts(records, left, right).tolist() == [False, True, True, False]


def test_key_rows_in_index_order_are_the_same_rows_sorted_by_kind_and_key() -> None:
    rng = np.random.default_rng(5)
    count = 2_000
    keys = RecordKeys(
        rng.integers(0, 40, count),
        np.array(["phone", "name_birth", "id", "name_birth"] * (count // 4), dtype=object),
        rng.integers(0, 2**63, count, dtype=np.int64).astype(np.uint64) * np.uint64(2),
    )
    ids = list(range(1_000, 1_040))
    plain = list(key_rows(keys, ids))
    ordered = list(key_rows(keys, ids, in_index_order=True))
    assert sorted(ordered) == sorted(plain)
    assert ordered == sorted(plain, key=lambda row: (row[1], row[2]))
    assert ordered != plain
    assert list(key_rows(RecordKeys.empty(), [], in_index_order=True)) == []
