"""Stage 1 — normalise: raw person columns → integer-coded, comparable fields plus derived keys.

The same rules run on every value; what a value *is* decides what happens to it: a string with Chinese
characters is converted to simplified script and read in pinyin, an ``id_number`` shaped like a
resident ID is parsed as one (15 → 18 digits, masked forms, birth date, gender, county), any other
identifier is compared as a plain string. Nothing is keyed to a dataset.

Each normaliser runs once per distinct raw value (see :mod:`matchers.columns`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from matchers import chinese
from matchers.columns import (
    CodedColumn,
    blank_column,
    coalesce,
    concatenate,
    derive,
    map_lists,
    map_many,
    share_vocabulary,
)
from matchers.pinyin import has_cjk, name_pinyin, pinyin_syllables, sorted_pinyin_key

__all__ = [
    "CANONICAL_COLUMNS",
    "PersonRecords",
    "RawTable",
    "clean_text",
    "normalize_birth_date",
    "normalize_gender",
    "normalize_name_part",
    "normalize_records",
]

CANONICAL_COLUMNS: tuple[str, ...] = (
    "name",
    "given_name",
    "family_name",
    "id_number",
    "birth_date",
    "gender",
    "phone",
    "address",
    "city",
    "postcode",
    "region",
    "email",
)

# Spellings of "no value" seen in bank and court exports.
_MISSING_TOKENS = frozenset(
    {"nan", "none", "null", "na", "n/a", "-", "--", "—", "无", "不详", "未知", "空", "暂无", "#n/a"}
)
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)
_NOT_CJK = re.compile("[^\u3400-\u4dbf\u4e00-\u9fff]+")
_DATE_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ t].*)?$")
_GENDERS = {
    "m": "m",
    "male": "m",
    "man": "m",
    "1": "m",
    "男": "m",
    "男性": "m",
    "f": "f",
    "female": "f",
    "woman": "f",
    "2": "f",
    "0": "f",
    "女": "f",
    "女性": "f",
}


@dataclass(frozen=True)
class RawTable:
    """One input table: record ids, and canonical columns of raw strings, coded (blank cells missing).

    Build one with :func:`matchers.inputs.table_from_columns` (lists of strings, e.g. from CSV),
    :func:`matchers.inputs.table_from_frame` (pandas) or :func:`matchers.inputs.table_from_arrow`.
    """

    ids: NDArray[np.object_]
    columns: Mapping[str, CodedColumn]

    def __len__(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class PersonRecords:
    """Normalised records of one table (deduplication) or of two stacked tables (linkage).

    Rows ``[0, n_left)`` come from the left table and rows ``[n_left, n)`` from the right one; for a
    single table ``n_left == n``. ``fields`` maps a field name (see :func:`normalize_records`) to its
    column over all rows; ``coverage[name]`` is the number of left and right rows having a value.
    """

    ids: NDArray[np.object_]
    n_left: int
    fields: Mapping[str, CodedColumn]
    coverage: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of rows over both tables."""
        return int(self.ids.shape[0])

    @property
    def is_link(self) -> bool:
        """True when two tables are linked, False when one is deduplicated."""
        return self.n_left < self.n

    def usable(self, name: str) -> bool:
        """True when the field has values on both sides (or, deduplicating, in at least two rows)."""
        left, right = self.coverage.get(name, (0, 0))
        return left > 0 and right > 0 if self.is_link else left > 1


def clean_text(raw: str) -> str | None:
    """Half-width, simplified (character by character), lowercase text with collapsed whitespace;
    ``None`` for blanks and 'n/a'."""
    text = " ".join(chinese.fold(raw).split())
    if not text or text in _MISSING_TOKENS:
        return None
    return text


def normalize_name_part(raw: str) -> str | None:
    """A name or name part as compared: Chinese without spaces or dots; Latin lowercase words only."""
    text = chinese.to_halfwidth(raw).strip()
    if not text or text.lower() in _MISSING_TOKENS:
        return None
    if has_cjk(text):
        key = chinese.person_name(text)
        return _NOT_CJK.sub("", key) or None if key else None
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("'", "")).split()) or None


def _split_name(raw: str) -> tuple[str | None, str | None]:
    """(family, given) of a full name: Chinese by known surnames, Latin 'Family, Given' or 'Given Family'.

    A Chinese company name has no family part: it is compared whole, as the given part.
    """
    if "," in raw and not has_cjk(raw):
        family, _, given = raw.partition(",")
        return normalize_name_part(family), normalize_name_part(given)
    if has_cjk(raw) and chinese.is_company(raw):
        return None, chinese.company_name(raw)
    if has_cjk(raw):
        key = chinese.person_name(raw)
        if key is None:
            return None, None
        if "·" in key:  # a transliterated name (买买提·艾力) has no family part
            return None, _NOT_CJK.sub("", key) or None
        return chinese.split_name(_NOT_CJK.sub("", key))
    text = normalize_name_part(raw)
    if text is None:
        return None, None
    words = text.split()
    if len(words) == 1:
        return None, words[0]
    return words[-1], " ".join(words[:-1])


def normalize_birth_date(raw: str) -> str | None:
    """``yyyymmdd`` from 'yyyymmdd', 'yyyy-mm-dd', 'yyyy/m/d', 'yyyy.mm.dd' or 'yyyy年m月d日' (time ignored).

    Eight digits are kept even when they are not a valid date: a typo in a real date is still evidence.
    Anything else that is not year-first is kept as its digits, so it can still agree exactly.
    """
    text = chinese.to_halfwidth(raw).strip().lower()
    if not text or text in _MISSING_TOKENS:
        return None
    found = _DATE_YMD.match(text)
    if found:
        year, month, day = found.groups()
        return f"{year}{int(month):02d}{int(day):02d}"
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits or None


def normalize_gender(raw: str) -> str | None:
    """'m' or 'f' from m/f, male/female, 男/女, 1/2; ``None`` for anything else."""
    return _GENDERS.get(chinese.to_halfwidth(raw).strip().lower())


def _normalize_email(raw: str) -> str | None:
    text = chinese.to_halfwidth(raw).strip().lower()
    return text if "@" in text else None


def _normalize_postcode(raw: str) -> str | None:
    text = chinese.to_halfwidth(raw).strip().upper()
    return "".join(ch for ch in text if ch.isalnum()) or None


def _normalize_address(raw: str) -> str | None:
    text = clean_text(raw)
    if text is None:
        return None
    if has_cjk(text):
        return chinese.address_without_prefixes(text) or None
    return " ".join(_NOT_WORD.sub(" ", text).split()) or None


def _normalize_place(raw: str) -> str | None:
    text = clean_text(raw)
    if text is None:
        return None
    if has_cjk(text):
        return chinese.place_key(text) or None
    return " ".join(_NOT_WORD.sub(" ", text).split()) or None


def _stack(left: RawTable, right: RawTable | None, name: str) -> CodedColumn:
    tables = [table for table in (left, right) if table is not None]
    if all(name not in table.columns for table in tables):
        return blank_column(sum(len(t) for t in tables))
    return concatenate([table.columns.get(name) or blank_column(len(table)) for table in tables])


def _alphabetic(text: str) -> str | None:
    return None if has_cjk(text) else text


def _without_spaces(text: str) -> str:
    return text.replace(" ", "")


def _name_fields(raw: Mapping[str, CodedColumn]) -> dict[str, CodedColumn]:
    family = raw["family_name"].map(normalize_name_part)
    given = raw["given_name"].map(normalize_name_part)
    split_family, split_given = map_many(raw["name"], _split_name, 2)
    family, given = coalesce(family, split_family), coalesce(given, split_given)
    full = derive(
        [family, given],
        lambda f, g: (
            (f or "") + (g or "") if has_cjk((f or "") + (g or "")) else " ".join(x for x in (g, f) if x)
        ),
    )
    # Spaces inside a name part are noise as often as not ("soph ie", "van der berg" / "vanderberg").
    family, given = family.map(_without_spaces), given.map(_without_spaces)
    family_pinyin, given_pinyin = share_vocabulary(
        family.map(lambda f: " ".join(pinyin_syllables(f, as_surname=True))),
        given.map(lambda g: " ".join(pinyin_syllables(g))),
    )
    family, given = share_vocabulary(family, given)
    family_initial, given_initial = share_vocabulary(
        family_pinyin.map(lambda p: p[:1]), given_pinyin.map(lambda p: p[:1])
    )
    # Spelling typos (one letter) only happen in alphabetic names; Chinese ones change whole characters.
    family_alpha, given_alpha = share_vocabulary(family.map(_alphabetic), given.map(_alphabetic))
    return {
        "family_alpha": family_alpha,
        "given_alpha": given_alpha,
        "family_initial": family_initial,
        "given_initial": given_initial,
        "family": family,
        "given": given,
        "family_pinyin": family_pinyin,
        "given_pinyin": given_pinyin,
        "name": full,
        "name_pinyin": derive([family, given], lambda f, g: name_pinyin(f or "", g or "") or None),
        "name_sorted": derive([family, given], lambda f, g: sorted_pinyin_key(f or "", g or "") or None),
    }


def _identity_fields(raw: Mapping[str, CodedColumn]) -> dict[str, CodedColumn]:
    ident, ident_ps, id_birth, id_gender, county = map_lists(raw["id_number"], chinese.identifier_part_lists)
    birth = coalesce(raw["birth_date"].map(normalize_birth_date), id_birth)
    return {
        "id": ident,
        "id_ps": ident_ps,
        "county": county,
        "birth_date": birth,
        "birth_year": birth.map(lambda d: d[:4] if len(d) >= 4 else None),
        "gender": coalesce(raw["gender"].map(normalize_gender), id_gender),
        "phone": map_lists(raw["phone"], lambda values: [chinese.phone_keys(values)])[0],
    }


def normalize_records(left: RawTable, right: RawTable | None = None) -> PersonRecords:
    """Normalise one table (to deduplicate) or two (to link) into :class:`PersonRecords`.

    Fields: ``family``, ``given``, ``name`` and their pinyin keys ``name_pinyin``, ``name_sorted``
    (swap-proof), ``family_pinyin``, ``given_pinyin``; ``id`` (18-digit resident ID or plain identifier),
    ``id_ps`` (resident-ID prefix and suffix, also for masked IDs), ``county``; ``birth_date`` (yyyymmdd,
    from the ID when not given), ``birth_year``, ``gender``; ``phone`` (national number); ``address``
    (without province and city prefixes), ``city``, ``postcode``, ``region``, ``email``.
    """
    raw = {name: _stack(left, right, name) for name in CANONICAL_COLUMNS}
    fields: dict[str, CodedColumn] = {}
    fields.update(_name_fields(raw))
    fields.update(_identity_fields(raw))
    fields["address"] = raw["address"].map(_normalize_address)
    fields["city"] = raw["city"].map(_normalize_place)
    fields["region"] = raw["region"].map(_normalize_place)
    fields["postcode"] = raw["postcode"].map(_normalize_postcode)
    fields["email"] = raw["email"].map(_normalize_email)
    ids = np.concatenate([left.ids] + ([right.ids] if right is not None else []))
    n_left = len(left)
    coverage = {
        name: (int(col.present[:n_left].sum()), int(col.present[n_left:].sum()))
        if right is not None
        else (int(col.present.sum()), 0)
        for name, col in fields.items()
    }
    return PersonRecords(ids=ids, n_left=n_left, fields=fields, coverage=coverage)
