"""Comparators that read several fields of a person at once: names (with swaps) and where they live.

Fields that move together must be compared together: an address, its city and its postcode agree or
disagree as one (relatives share all three; someone who moved changes all three), so counting them as
three independent pieces of evidence would triple-count one fact. Given and family name are compared
as a pair so that a swapped name is recognised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from matchers.columns import CodedColumn
from matchers.compare import Comparison, Levels, field_codes, graded_levels
from matchers.normalize import PersonRecords
from matchers.similarity import similarity

__all__ = ["LocationComparator", "NameComparator"]

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class NameComparator:
    """Family and given names, aware of swaps (given written as family) and of homophones (张/章).

    For each pair the straight reading (family↔family, given↔given) and the crossed one are scored with
    Jaro–Winkler and the clearly better one is graded: exact, same pinyin (a homophone: never enough on
    its own, it only weighs as much as EM finds it worth), close (≥ ``thresholds[0]``), near
    (≥ ``thresholds[1]``), different. The name fields must share one vocabulary (see normalisation).
    """

    thresholds: tuple[float, float] = (0.92, 0.8)

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """Two comparisons, ``family_name`` and ``given_name``, each with term-frequency adjustment."""
        close, near = (f"jaro_winkler≥{t:g}" for t in self.thresholds)
        labels = ("exact", "same pinyin", close, near, "different")
        return (Comparison("family_name", labels, "family"), Comparison("given_name", labels, "given"))

    @property
    def fields(self) -> tuple[str, ...]:
        """Family, given and their pinyin keys."""
        return ("family", "given", "family_pinyin", "given_pinyin")

    def usable(self, records: PersonRecords) -> bool:
        """True when family or given names have values on both sides."""
        return records.usable("family") or records.usable("given")

    def compare(self, records: PersonRecords, left: IntArray, right: IntArray) -> list[Levels]:
        """Levels of family and given name per pair, from the straight or the crossed reading."""
        fam, giv = records.fields["family"], records.fields["given"]
        fl, fr, gl, gr = fam.codes[left], fam.codes[right], giv.codes[left], giv.codes[right]
        sim_family, sim_given = _jaro_winkler(fam, fl, fr), _jaro_winkler(fam, gl, gr)
        # A swap can only win where a crossed initial agrees; comparing the crossed reading only there
        # saves most of its cost on the (mostly unrelated) random pairs.
        il, ir = records.fields["family_initial"].codes, records.fields["given_initial"].codes
        maybe = np.flatnonzero(((il[left] == ir[right]) | (ir[left] == il[right])) & (il[left] >= 0))
        cross_family = _jaro_winkler(fam, fl[maybe], gr[maybe])
        cross_given = _jaro_winkler(fam, gl[maybe], fr[maybe])
        # The better reading wins; u comes from random pairs compared the same way, so it prices this in.
        better = cross_family + cross_given > sim_family[maybe] + sim_given[maybe]
        swapped = maybe[better]
        sim_family[swapped], sim_given[swapped] = cross_family[better], cross_given[better]
        fr, gr = fr.copy(), gr.copy()
        fr[swapped], gr[swapped] = giv.codes[right[swapped]], fam.codes[right[swapped]]
        pinyin = records.fields["family_pinyin"].codes, records.fields["given_pinyin"].codes
        pfr, pgr = pinyin[0][right].copy(), pinyin[1][right].copy()
        pfr[swapped], pgr[swapped] = pinyin[1][right[swapped]], pinyin[0][right[swapped]]
        return [
            self._levels(fl, fr, sim_family, pinyin[0][left], pfr),
            self._levels(gl, gr, sim_given, pinyin[1][left], pgr),
        ]

    def _levels(
        self,
        cl: NDArray[np.int32],
        cr: NDArray[np.int32],
        sim: NDArray[np.float32],
        pl: NDArray[np.int32],
        pr: NDArray[np.int32],
    ) -> Levels:
        """1 exact, 2 same pinyin, 3 close, 4 near, 5 different, 0 missing."""
        close, near = self.thresholds
        levels = np.full(len(cl), 5, dtype=np.uint8)
        levels[sim >= near] = 4
        levels[sim >= close] = 3
        levels[(pl >= 0) & (pl == pr) & (levels > 2)] = 2
        levels[cl == cr] = 1
        levels[(cl < 0) | (cr < 0)] = 0
        return levels


def _jaro_winkler(column: CodedColumn, cl: NDArray[np.int32], cr: NDArray[np.int32]) -> NDArray[np.float32]:
    """Jaro–Winkler per pair, 1 for equal codes, 0 where either side is missing."""
    out = np.zeros(len(cl), dtype=np.float32)
    present = (cl >= 0) & (cr >= 0)
    out[present & (cl == cr)] = 1.0
    rest = np.flatnonzero(present & (cl != cr))
    # Below 0.7 the exact similarity does not matter (the lowest level starts at 0.8): let it stop early.
    out[rest] = similarity(column, cl[rest], cr[rest], "jaro_winkler", cutoff=0.7)
    return out


@dataclass(frozen=True)
class LocationComparator:
    """Address, city, postcode and region as one comparison, levels from strongest to weakest:

    same address with city and postcode agreeing; same address; close address (``metric`` ≥ ``close``)
    agreeing on city and postcode; close address; similar address (≥ ``similar``); city and postcode
    agree; city or postcode agrees; only the region agrees; different. "Agreeing" ignores fields
    missing on either side; a city agrees when Jaro–Winkler ≥ 0.92 (typos).
    """

    close: float = 0.9
    similar: float = 0.7
    metric: str = "indel"

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """One comparison, ``location``."""
        return (
            Comparison(
                "location",
                (
                    "same address, city and postcode",
                    "same address",
                    f"address {self.metric}≥{self.close:g}, same city and postcode",
                    f"address {self.metric}≥{self.close:g}",
                    f"address {self.metric}≥{self.similar:g}",
                    "same city and postcode",
                    "same city or postcode",
                    "same region only",
                    "different",
                ),
            ),
        )

    @property
    def fields(self) -> tuple[str, ...]:
        """Needs at least one of the place fields; the others are used when they have values."""
        return ()

    def usable(self, records: PersonRecords) -> bool:
        """True when any of address, city, postcode, region has values on both sides."""
        return any(records.usable(name) for name in ("address", "city", "postcode", "region"))

    def compare(self, records: PersonRecords, left: IntArray, right: IntArray) -> list[Levels]:
        """One level per pair (0 when no place field is present on both sides)."""
        n = len(left)
        address = self._field(records, "address", left, right, self.metric, (self.close, self.similar))
        city = self._field(records, "city", left, right, "jaro_winkler", (0.92,))
        postcode = self._field(records, "postcode", left, right, "osa", ())
        region = self._field(records, "region", left, right, "jaro_winkler", ())
        # Agreement of city and postcode: 1 agrees, 0 disagrees, -1 not comparable (missing).
        agree = [
            np.where(city == 0, -1, (city == 1) | (city == 2)).astype(np.int8),
            np.where(postcode == 0, -1, postcode == 1).astype(np.int8),
        ]
        all_agree = (agree[0] != 0) & (agree[1] != 0)
        any_agree = (agree[0] == 1) | (agree[1] == 1)
        both_agree = (agree[0] == 1) & (agree[1] == 1)
        levels = np.zeros(n, dtype=np.uint8)
        comparable = (address > 0) | (city > 0) | (postcode > 0) | (region > 0)
        levels[comparable] = 9
        levels[(region == 1) & (levels == 9)] = 8
        levels[any_agree] = 7
        levels[both_agree] = 6
        levels[address == 3] = 5
        levels[address == 2] = np.where(all_agree[address == 2], 3, 4)
        levels[address == 1] = np.where(all_agree[address == 1], 1, 2)
        return [levels]

    @staticmethod
    def _field(
        records: PersonRecords,
        name: str,
        left: IntArray,
        right: IntArray,
        metric: str,
        thresholds: tuple[float, ...],
    ) -> Levels:
        if name not in records.fields or not records.usable(name):
            return np.zeros(len(left), dtype=np.uint8)
        column, cl, cr = field_codes(records, name, left, right)
        return graded_levels(column, cl, cr, metric, thresholds)
