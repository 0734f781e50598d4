"""Ranking as pure functions: each evidence moves a contact the way the design says, and only that way."""

from __future__ import annotations

import datetime as dt
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from contactfix.pipeline.confidence import (
    FEATURE_NAMES,
    KNOWN_FAILED_CAP,
    MAX_NO_ANSWER,
    MAX_SUPERSEDED,
    MAX_YEARS,
    PHONE_PRIOR,
    REACHED_BONUS,
    SHARED_CONFIDENCE_CAP,
)
from contactfix.pipeline.ranking import (
    Observation,
    RankedContact,
    SourceTrust,
    contact_key,
    rank_contacts,
    repairing_contact,
)

AS_OF = dt.date(2026, 6, 30)
OLD, NEW, BANK_SENT = "+8613800000001", "+8613900000002", dt.date(2026, 6, 1)
_ids = iter(range(1, 10**6))


def court(value: str, on: dt.date, case: str = "（2024）闽0103民初1234号", **kw: object) -> Observation:
    """A contact in a court filing of ``case`` on ``on``."""
    fields: dict[str, object] = {
        "record_id": next(_ids), "trust": SourceTrust.COURT_FILING, "source": "court",
        "source_key": f"court:{case}", "reference": case, "observed_on": on, "channel": "phone",
        "value": value, "line_type": "mobile",
    }  # fmt: skip
    fields.update(kw)
    return Observation(**fields)  # type: ignore[arg-type]


def own_bank(value: str, **kw: object) -> Observation:
    """The submitting bank's own record: the number it lost, dated the day it sent the batch."""
    fields: dict[str, object] = {
        "record_id": 1_000_000, "trust": SourceTrust.OWN_BANK, "source": "bank", "source_key": "bank:1",
        "reference": "CF0000001", "observed_on": BANK_SENT, "channel": "phone", "value": value,
        "line_type": "mobile",
    }  # fmt: skip
    fields.update(kw)
    return Observation(**fields)  # type: ignore[arg-type]


def by_value(ranked: list[RankedContact]) -> dict[str, RankedContact]:
    return {contact.value: contact for contact in ranked}


def phones(ranked: list[RankedContact]) -> list[str]:
    return [c.value for c in sorted(ranked, key=lambda c: c.rank) if c.channel == "phone"]


def other_bank(value: str, on: dt.date = BANK_SENT, **kw: object) -> Observation:
    """Another bank's lost-debtor record of the same person."""
    return court(value, on, trust=SourceTrust.OTHER_BANK, source="bank", source_key="bank:2", **kw)


def mediator(value: str, on: dt.date, status: str = "reached") -> Observation:
    """A mediator's report on ``value`` (an outcome), dated ``on``."""
    return court(
        value, on, trust=SourceTrust.MEDIATOR, source="mediator", source_key="mediator:m", status=status
    )


def repairing(ranked: list[RankedContact], link_probability: float = 0.9) -> RankedContact | None:
    return repairing_contact(ranked, link_probability=link_probability, min_confidence=0.1)


def test_the_newest_number_beats_the_one_the_bank_lost() -> None:
    ranked = rank_contacts(
        [own_bank(OLD), court(OLD, dt.date(2021, 3, 1), "A"), court(NEW, dt.date(2025, 9, 1), "B")],
        as_of=AS_OF,
    )
    assert phones(ranked) == [NEW, OLD]
    new, old = by_value(ranked)[NEW], by_value(ranked)[OLD]
    assert new.features.newest and not new.features.own_bank and not new.features.known_failed
    assert {"bank_had", "known_failed"} <= set(old.flags) and "bank_had" not in new.flags
    assert new.confidence > 0.5 and old.confidence <= KNOWN_FAILED_CAP
    assert repairing(ranked) is new


def test_a_number_only_the_bank_had_never_repairs() -> None:
    ranked = rank_contacts([own_bank(OLD)], as_of=AS_OF)
    (only,) = ranked
    assert only.rank == 1 and only.features.own_bank_only and only.features.known_failed
    assert repairing_contact(ranked, link_probability=0.0) is None


def test_a_court_filing_repeating_the_banks_number_is_no_evidence_for_it() -> None:
    # Plaintiffs copy the bank's number into their filings, before or after the bank lost the debtor.
    for filed in (dt.date(2024, 1, 5), dt.date(2026, 6, 20)):
        copied = [own_bank(OLD), court(OLD, filed, "A"), court(OLD, filed, "B")]
        ranked = rank_contacts([*copied, court(NEW, dt.date(2021, 1, 1), "C")], as_of=AS_OF)
        old = by_value(ranked)[OLD]
        assert phones(ranked) == [NEW, OLD]  # a five-year-old number not known to fail goes first
        assert old.features.sources == 0 and old.confidence <= KNOWN_FAILED_CAP
        # ...and it does not make the other number look superseded.
        assert by_value(ranked)[NEW].features.superseded == 0
        assert repairing(ranked) is by_value(ranked)[NEW]
        assert repairing(rank_contacts(copied, as_of=AS_OF)) is None


def test_another_banks_lost_number_is_known_failed_too() -> None:
    ranked = rank_contacts(
        [other_bank(NEW, dt.date(2025, 1, 1)), court(OLD, dt.date(2022, 1, 1))], as_of=AS_OF
    )
    assert phones(ranked) == [OLD, NEW] and by_value(ranked)[NEW].features.known_failed
    assert repairing(ranked) is by_value(ranked)[OLD]


def test_only_a_later_reached_or_carrier_confirmation_revives_a_failed_number() -> None:
    before, after = BANK_SENT - dt.timedelta(days=30), BANK_SENT + dt.timedelta(days=10)
    rival = court(NEW, dt.date(2025, 1, 1), "R")
    stale = rank_contacts([own_bank(OLD), mediator(OLD, before), rival], as_of=AS_OF)
    assert phones(stale) == [NEW, OLD] and not by_value(stale)[OLD].features.rescued
    for proof in (mediator(OLD, after), court(OLD, after, trust=SourceTrust.CARRIER, source="carrier")):
        ranked = rank_contacts([own_bank(OLD), proof, rival], as_of=AS_OF)
        old = by_value(ranked)[OLD]
        assert old.features.rescued and "known_failed" not in old.flags and old.rank == 1
        assert old.confidence > 0.5 and repairing(ranked) is old


def test_a_slip_of_the_pen_is_the_same_number() -> None:
    typed, swapped, far = "+8613800000007", "+8613800000010", "+8613800000099"
    # One digit from the number the bank lost: that number, mistyped by the filer; it never repairs.
    ranked = rank_contacts([own_bank(OLD), court(typed, dt.date(2025, 1, 1))], as_of=AS_OF)
    assert by_value(ranked)[typed].features.known_failed and repairing(ranked) is None
    assert not by_value(rank_contacts([own_bank(OLD), court(far, dt.date(2025, 1, 1))], as_of=AS_OF))[
        far
    ].features.known_failed  # two digits apart: another number
    # Two neighbours swapped, next to a better-attested number: the misspelling ranks last.
    attested = [court(NEW, dt.date(2024, 1, 1), "A"), court(NEW, dt.date(2023, 1, 1), "B")]
    slip = "+8613900000020"
    ranked = rank_contacts([*attested, court(slip, dt.date(2026, 1, 1), "C")], as_of=AS_OF)
    assert phones(ranked) == [NEW, slip] and "slip" in by_value(ranked)[slip].flags
    assert by_value(ranked)[NEW].features.superseded == 0 and repairing(ranked) is by_value(ranked)[NEW]
    # Equally attested: no telling which is right, both stay.
    tie = rank_contacts(
        [court(NEW, dt.date(2024, 1, 1), "A"), court(slip, dt.date(2026, 1, 1), "C")], as_of=AS_OF
    )
    assert not any(c.features.slip for c in tie)
    assert swapped != typed


def test_a_bank_number_misspelt_by_a_digit_too_few_or_many_fails_the_well_typed_one() -> None:
    # The batch wrote 1380000001 (a digit dropped); the court, copying the bank's file correctly,
    # 13800000001: that is the number the bank lost the debtor on.
    for misspelt in ("+861380000001", "+86138000000011", "+86113800000001"):
        ranked = rank_contacts(
            [
                own_bank(misspelt, line_type="mistyped"),
                court(OLD, dt.date(2025, 1, 1)),
                court(NEW, dt.date(2022, 1, 1)),
            ],
            as_of=AS_OF,
        )
        old, typed = by_value(ranked)[OLD], by_value(ranked)[misspelt]
        assert old.features.known_failed and not typed.features.valid and "invalid" in typed.flags
        assert repairing(ranked) is by_value(ranked)[NEW] and phones(ranked)[-1] == misspelt
    # Two digits off, or a digit off between two valid numbers of different lengths: no slip.
    far = rank_contacts(
        [own_bank("+86138000000", line_type="mistyped"), court(OLD, dt.date(2025, 1, 1))], as_of=AS_OF
    )
    assert not by_value(far)[OLD].features.known_failed


def test_of_two_numbers_alike_in_all_else_the_one_written_first_ranks_first() -> None:
    day = dt.date(2025, 3, 1)
    for first, second in ((OLD, NEW), (NEW, OLD)):
        ranked = rank_contacts([court(second, day, position=1), court(first, day, position=0)], as_of=AS_OF)
        assert phones(ranked) == [first, second]
        assert ranked[0].confidence == ranked[1].confidence


def test_a_number_the_bank_holds_as_someone_elses_never_repairs() -> None:
    # The bank's emergency-contact column (紧急联系人电话) names a relative's number; a filing that
    # carries it as the debtor's does not make it theirs.
    relative = own_bank(NEW, line_type="third_party")
    ranked = rank_contacts(
        [relative, court(NEW, dt.date(2026, 3, 1)), court(OLD, dt.date(2022, 1, 1))], as_of=AS_OF
    )
    new, old = by_value(ranked)[NEW], by_value(ranked)[OLD]
    assert new.features.third_party and "third_party" in new.flags and not new.features.known_failed
    assert phones(ranked) == [OLD, NEW] and old.features.superseded == 0
    assert repairing(ranked) is old


def test_recency_raises_confidence_and_independent_sources_break_ties() -> None:
    old = rank_contacts([court(NEW, dt.date(2020, 1, 1))], as_of=AS_OF)[0]
    recent = rank_contacts([court(NEW, dt.date(2026, 1, 1))], as_of=AS_OF)[0]
    assert old.confidence < recent.confidence
    same_day = dt.date(2026, 1, 1)
    ranked = rank_contacts(
        [court(OLD, same_day, "A"), court(NEW, same_day, "B"), court(NEW, dt.date(2025, 1, 1), "C")],
        as_of=AS_OF,
    )
    assert by_value(ranked)[NEW].features.sources == 2 and by_value(ranked)[OLD].features.sources == 1
    assert phones(ranked) == [NEW, OLD]  # seen as lately, by two courts rather than one
    same_case_twice = rank_contacts(
        [court(NEW, dt.date(2026, 1, 1), "A"), court(NEW, dt.date(2025, 1, 1), "A")], as_of=AS_OF
    )[0]
    assert same_case_twice.features.sources == 1


def test_an_old_uncontested_number_still_repairs() -> None:
    # Court filings are one to six years old: age lowers confidence, it does not rule a number out.
    ranked = rank_contacts([own_bank(OLD), court(NEW, dt.date(2020, 7, 1))], as_of=AS_OF)
    best = repairing(ranked)
    assert best is by_value(ranked)[NEW] and 0.2 < best.confidence < 0.5


def test_source_trust_orders_equal_evidence() -> None:
    day = dt.date(2025, 1, 1)
    confidences = {}
    for trust in (SourceTrust.CARRIER, SourceTrust.COURT_FILING, SourceTrust.OTHER_BANK):
        confidences[trust] = rank_contacts([court(NEW, day, trust=trust)], as_of=AS_OF)[0].confidence
    assert confidences[SourceTrust.CARRIER] > confidences[SourceTrust.COURT_FILING]
    assert confidences[SourceTrust.COURT_FILING] > confidences[SourceTrust.OTHER_BANK]


def test_no_single_feature_swings_from_certain_to_impossible() -> None:
    bounds = {"years_since_seen": MAX_YEARS, "superseded": MAX_SUPERSEDED, "extra_sources": math.log1p(5),
              "fixed_line": 1.0, "carrier": 1.0, "no_answer": MAX_NO_ANSWER, "unseen": 1.0}  # fmt: skip
    for name in FEATURE_NAMES:
        assert abs(getattr(PHONE_PRIOR, name)) * bounds[name] <= 2.5, name
    assert REACHED_BONUS <= 3.0


def test_a_wrong_number_is_excluded_for_good() -> None:
    reports = [court(NEW, dt.date(2026, 5, 1), "A"), mediator(NEW, dt.date(2026, 5, 2), "wrong_number")]
    ranked = rank_contacts([*reports, court(OLD, dt.date(2019, 1, 1), "C")], as_of=AS_OF)
    wrong = by_value(ranked)[NEW]
    assert wrong.confidence == 0.0 and "wrong_number" in wrong.flags and wrong.excluded
    assert phones(ranked) == [OLD, NEW]
    # The wrong number no longer supersedes the older one either.
    assert by_value(ranked)[OLD].features.superseded == 0
    assert repairing(ranked) is by_value(ranked)[OLD]
    # A later "reached" overrides the earlier "wrong number".
    revived = rank_contacts([*reports, mediator(NEW, dt.date(2026, 6, 1))], as_of=AS_OF)
    assert not revived[0].features.wrong_number and revived[0].confidence > 0.9


def odds(probability: float) -> float:
    return probability / (1 - probability)


def test_reached_promotes_and_no_answer_demotes() -> None:
    day, rival = dt.date(2020, 1, 1), court(NEW, dt.date(2024, 1, 1), "R")
    called = dt.date(2026, 6, 1)
    plain = rank_contacts([court(OLD, day)], as_of=AS_OF)[0]
    reached = rank_contacts([court(OLD, day), mediator(OLD, called)], as_of=AS_OF)[0]
    no_answer = rank_contacts([court(OLD, day), mediator(OLD, called, "no_answer")], as_of=AS_OF)[0]
    assert 0.2 < plain.confidence < 0.95
    assert odds(reached.confidence) > 10 * odds(plain.confidence) and "reached" in reached.flags
    assert 0.5 < odds(no_answer.confidence) / odds(plain.confidence) < 0.9
    assert "no_answer" in no_answer.flags
    # An unanswered call is no sighting: it does not make the number look recent.
    assert no_answer.features.years_since_seen == plain.features.years_since_seen
    # Reached outranks a newer number nobody has tried; no answer does not.
    assert phones(rank_contacts([court(OLD, day), mediator(OLD, called), rival], as_of=AS_OF)) == [OLD, NEW]
    assert phones(
        rank_contacts([court(OLD, day), mediator(OLD, called, "no_answer"), rival], as_of=AS_OF)
    ) == [
        NEW,
        OLD,
    ]


def test_an_objection_keeps_the_contact_but_blocks_it() -> None:
    ranked = rank_contacts([court(NEW, dt.date(2026, 1, 1), status="objected")], as_of=AS_OF)
    (contact,) = ranked
    assert "do_not_contact" in contact.flags and contact.excluded and contact.confidence > 0.5
    assert repairing(ranked) is None


def test_a_shared_phone_is_capped_never_top_and_never_repairs() -> None:
    switchboard = "+8659187654321"
    observations = [
        court(switchboard, dt.date(2026, 6, 1), "A", line_type="mobile"),
        court(switchboard, dt.date(2026, 5, 1), "B", line_type="mobile"),
        court(OLD, dt.date(2019, 1, 1), "C"),
    ]
    ranked = rank_contacts(observations, as_of=AS_OF, shared={switchboard: 12})
    shared = by_value(ranked)[switchboard]
    assert shared.confidence <= SHARED_CONFIDENCE_CAP and shared.flags == ("shared",) and shared.rank == 2
    # It did not push the real number down as "superseded".
    assert by_value(ranked)[OLD].features.superseded == 0 and by_value(ranked)[OLD].rank == 1
    alone = rank_contacts(observations[:2], as_of=AS_OF, shared={switchboard: 12})
    assert repairing_contact(alone, link_probability=0.0) is None


def test_a_weak_link_lowers_confidence_and_two_records_combine() -> None:
    day = dt.date(2025, 1, 1)
    strong = rank_contacts([court(NEW, day)], as_of=AS_OF)[0]
    weak = rank_contacts([court(NEW, day, membership=0.5)], as_of=AS_OF)[0]
    assert weak.features.membership == 0.5
    assert abs(weak.confidence - strong.confidence / 2) < 1e-3
    both = rank_contacts(
        [court(NEW, day, "A", membership=0.5), court(NEW, day, "B", membership=0.6)], as_of=AS_OF
    )
    assert abs(both[0].features.membership - 0.8) < 1e-9
    # Repaired needs a record linked with high probability, whatever the confidence.
    assert repairing(rank_contacts([court(NEW, day, membership=0.85)], as_of=AS_OF)) is None
    assert repairing(rank_contacts([court(NEW, day, membership=0.95)], as_of=AS_OF)) is not None


def test_a_landline_does_not_supersede_a_mobile_and_ranks_below_it() -> None:
    landline = "+8659122345678"
    ranked = rank_contacts(
        [
            court(NEW, dt.date(2024, 1, 1), "A"),
            court(landline, dt.date(2026, 1, 1), "B", line_type="fixed_line"),
        ],
        as_of=AS_OF,
    )
    assert phones(ranked) == [NEW, landline]
    assert by_value(ranked)[NEW].features.superseded == 0 and by_value(ranked)[NEW].features.mobile
    assert not by_value(ranked)[landline].features.mobile
    only_landline = rank_contacts([court(landline, dt.date(2026, 1, 1), line_type="fixed_line")], as_of=AS_OF)
    assert repairing(only_landline) is None


def test_an_invalid_number_is_never_pushed() -> None:
    ranked = rank_contacts([court("+861234", dt.date(2026, 1, 1), line_type=None)], as_of=AS_OF)
    assert ranked[0].confidence == 0.0 and "invalid" in ranked[0].flags and ranked[0].excluded


def test_addresses_group_full_and_short_forms_and_rank_apart_from_phones() -> None:
    full, short = "福建省福州市鼓楼区五四路10号3单元101室", "鼓楼区五四路10号3单元101室"
    assert contact_key("address", full) == contact_key("address", short)
    ranked = rank_contacts(
        [
            court(full, dt.date(2023, 1, 1), "A", channel="address", line_type=None),
            court(short, dt.date(2025, 1, 1), "B", channel="address", line_type=None),
            court(NEW, dt.date(2025, 1, 1), "B"),
        ],
        as_of=AS_OF,
    )
    address = next(c for c in ranked if c.channel == "address")
    assert address.value == full and address.rank == 1 and address.features.sources == 2
    assert [c.rank for c in ranked] == [1, 1]
    assert repairing_contact(ranked, link_probability=0.9, channels=("address",)) is address
    assert repairing(ranked)  # a phone, by default


def test_provenance_lists_each_record_newest_first() -> None:
    first, second = court(NEW, dt.date(2023, 1, 1), "A"), court(NEW, dt.date(2025, 2, 3), "B")
    (contact,) = rank_contacts([first, second], as_of=AS_OF)
    assert contact.sources() == [
        {"record_id": second.record_id, "source": "court", "reference": "B", "observed_on": "2025-02-03"},
        {"record_id": first.record_id, "source": "court", "reference": "A", "observed_on": "2023-01-01"},
    ]
    assert contact.last_seen == dt.date(2025, 2, 3)


_NUMBERS = [f"+86139000000{i:02d}" for i in range(6)]
observation_lists = st.lists(
    st.builds(
        lambda value, days, trust, status, membership, case: court(
            value, AS_OF - dt.timedelta(days=days), case, trust=trust, status=status, membership=membership
        ),
        st.sampled_from(_NUMBERS),
        st.integers(0, 4000),
        st.sampled_from(list(SourceTrust)),
        st.sampled_from(["unverified", "reached", "no_answer", "wrong_number", "objected"]),
        st.floats(0.0, 1.0),
        st.sampled_from("ABCD"),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(observation_lists, st.randoms(use_true_random=False), st.sets(st.sampled_from(_NUMBERS)))
def test_confidence_is_a_probability_and_order_does_not_matter(
    observations: list[Observation], rng: random.Random, shared: set[str]
) -> None:
    shared_counts = {value: 5 for value in shared}
    ranked = rank_contacts(observations, as_of=AS_OF, shared=shared_counts)
    shuffled = list(observations)
    rng.shuffle(shuffled)
    again = rank_contacts(shuffled, as_of=AS_OF, shared=shared_counts)
    assert [(c.value, c.rank, c.confidence) for c in ranked] == [
        (c.value, c.rank, c.confidence) for c in again
    ]
    assert sorted(c.rank for c in ranked) == list(range(1, len(ranked) + 1))
    for contact in ranked:
        assert 0.0 <= contact.confidence <= 1.0
        if contact.value in shared:
            assert contact.confidence <= SHARED_CONFIDENCE_CAP
    usable = [c for c in ranked if not c.features.shared and not c.features.wrong_number]
    if usable:  # shared and wrong numbers come after every other contact
        assert max(c.rank for c in usable) == len(usable)
    best = repairing(ranked)
    assert best is None or (not best.excluded and best.features.membership >= 0.9 and best.confidence >= 0.1)
    assert best is None or not (best.features.known_failed and not best.features.rescued)
    failed = [c for c in ranked if c.features.known_failed and not c.features.rescued]
    fine = [
        c for c in usable if not (c.features.known_failed and not c.features.rescued) and not c.features.slip
    ]
    if failed and fine:  # a known-failed contact never ranks above one not known to have failed
        assert min(c.rank for c in failed) > max(c.rank for c in fine)
