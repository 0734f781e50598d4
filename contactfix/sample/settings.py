"""How real the sample is: the knobs that make it look like exports we did not generate.

The first generator gave every court filing exactly the number its party used that day, filed
filings over the last six years up to today, and let the newest sighting be the current number.
Repair fitted on that repaired 0 of 3,000 debtors of independently produced data. Each knob below
puts back one thing real exports have; its default is the value we argue is realistic, in the
comment beside it. :data:`PROFILES` names whole settings so benchmarks can hold some out.

Years are converted to days as ``round(years * 365)``; ranges are (low, high), both included, and
drawn uniformly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

Range = tuple[float, float]


@dataclass(frozen=True, slots=True)
class SampleSettings:
    """The realism knobs of ``contactfix sample`` (defaults: the ``realistic`` profile)."""

    # How many years before the export the court filings are dated. Court exports banks buy are of
    # published judgments and enforcement cases: a case is published months to a year after it is
    # filed, and banks buy the last five or six years, so nothing is newer than a year and the oldest
    # are six. (legacy: 0-6, filings up to the export day.)
    filing_age_years: Range = (1.0, 6.0)
    # How many years before the export a lost debtor last changed number (None: anywhere in the
    # phone's life, as before). Banks lose debtors because the number changed after the loan, and a
    # batch holds debtors lost over the last several years; drawn independently of the filings, so
    # filings fall before and after the change in any order, and some debtors changed number after
    # every filing (no filing knows the current number: "not found" is the right answer). Every lost
    # debtor changed number at least once, so the batch's number is never the live one. (legacy: 8% of
    # debtors had one mobile all along, the bank's.)
    change_age_years: Range | None = (0.5, 6.0)
    # How long before the filing the number on it was taken down. A complaint is drafted from the
    # plaintiff's records and the party's earlier statements, weeks to a year before the filing is
    # registered, so a filing made just after a change still carries the old number: the change
    # happened at a time the filing does not tell. (legacy: 0, the number of the filing's day.)
    recorded_lag_years: Range = (0.0, 1.0)
    # Of the filings that name a defendant (被告, 被执行人), the share whose phone the plaintiff copied
    # from its own loan file. Most defendants in consumer-debt cases are sued by a lender, which
    # writes the number it holds: for our debtors, the very number our bank lost them on; for others,
    # the number they had when they borrowed. Lender suits are most of consumer-debt filings, and
    # about a third of their complaints carry the file's number rather than a fresh one.
    copied_bank_number: float = 0.3
    # Of all filings of a person (not a company), the share whose phone is a third party's: a
    # relative's or the employer's, given as an emergency contact or found by the clerk. The same
    # relative and employer recur across a person's filings, so the number is corroborated and wrong.
    third_party_number: float = 0.1
    # Of those third-party numbers, the share that are the employer's (a switchboard or the boss's
    # mobile); the rest are a relative's mobile.
    employer_share: float = 0.4
    # Share of people with a second live mobile (a work phone, a second SIM): about one adult in six
    # in China carries two numbers. The second opens after the first and stays live; filings made
    # while both are live carry either.
    two_live_numbers: float = 0.15
    # Share of bank rows whose ``lost_on`` column gives the date the bank lost contact (a month to a
    # year after the number stopped working, when collection calls started failing). Banks fill it
    # for accounts their collection system tracks, about two thirds. 0: no ``lost_on`` column.
    lost_on: float = 0.65

    def __post_init__(self) -> None:
        for name in ("filing_age_years", "recorded_lag_years", "change_age_years"):
            value = getattr(self, name)
            if value is None and name == "change_age_years":
                continue
            low, high = value
            if not 0 <= low <= high <= 30:
                raise ValueError(
                    f"{name} must be a range LOW-HIGH with 0 <= LOW <= HIGH <= 30, not {low}-{high}"
                )
        if self.filing_age_years[1] * 365 < 1:
            raise ValueError("filing_age_years must reach back at least a day")
        for name in (
            "copied_bank_number",
            "third_party_number",
            "employer_share",
            "two_live_numbers",
            "lost_on",
        ):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1, not {value}")
        if self.copied_bank_number + self.third_party_number > 1:
            raise ValueError("copied_bank_number and third_party_number together must not exceed 1")

    def replace(self, **changes: Any) -> SampleSettings:
        """These settings with ``changes`` (None values ignored), validated."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def replace_change_age(self, years: Range | None) -> SampleSettings:
        """These settings with ``change_age_years`` set (None included: anywhere in the phone's life)."""
        return dataclasses.replace(self, change_age_years=years)

    def as_dict(self) -> dict[str, Any]:
        """The knobs as plain values (ranges as lists), for settings.json."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SampleSettings:
        """Settings from :meth:`as_dict`'s form (unknown keys, such as ``profile``, ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        given: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in known
        }
        return cls(**given)


REALISTIC = SampleSettings()

PROFILES: dict[str, SampleSettings] = {
    # Exactly the generator before these knobs: the same seed writes the same bank.csv and court.csv.
    "legacy": SampleSettings(
        filing_age_years=(0.0, 6.0),
        change_age_years=None,
        recorded_lag_years=(0.0, 0.0),
        copied_bank_number=0.0,
        third_party_number=0.0,
        employer_share=0.0,
        two_live_numbers=0.0,
        lost_on=0.0,
    ),
    "realistic": REALISTIC,
    # The realistic timing, but every number on a filing is the party's own and taken down that day.
    "clean": REALISTIC.replace(
        recorded_lag_years=(0.0, 0.0), copied_bank_number=0.0, third_party_number=0.0, lost_on=1.0
    ),
    # Worse than most exports: recent changes (most filings predate them), long lags, more copying,
    # more third parties, more second numbers, fewer lost_on dates.
    "harsh": REALISTIC.replace(
        change_age_years=(0.25, 3.0),
        recorded_lag_years=(0.0, 2.0),
        copied_bank_number=0.5,
        third_party_number=0.2,
        employer_share=0.5,
        two_live_numbers=0.25,
        lost_on=0.3,
    ),
}
DEFAULT_PROFILE = "realistic"


def profile_name(settings: SampleSettings) -> str:
    """The name of the profile ``settings`` equal, or ``custom``."""
    return next((name for name, known in PROFILES.items() if known == settings), "custom")


def parse_range(text: str) -> Range:
    """``"1-6"`` or ``"2"`` (years) as a (low, high) range; ValueError with a clear message if not."""
    low, sep, high = text.strip().partition("-")
    try:
        values = (float(low), float(high if sep else low))
    except ValueError:
        raise ValueError(f"expected a range of years like 1-6, not {text!r}") from None
    if not 0 <= values[0] <= values[1]:
        raise ValueError(f"expected LOW-HIGH with 0 <= LOW <= HIGH, not {text!r}")
    return values
