"""Person and company names: cleaning into a comparable form, telling them apart, splitting surnames.

Normalised forms are match keys, not display text: simplified characters, half-width ASCII, Latin
letters case-folded, no annotations. A person's name is converted traditional → simplified one
character at a time, never as a phrase (phrase rules would turn the name 沈默 into the word 沉默), and
a leading family name that is already a listed simplified surname (沈, 乾, 於) is kept as it is, since
the character-level rule would otherwise turn the surname 乾 into 干. Company names are phrases and
use the phrase-aware conversion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from matchers.refdata import family_names
from matchers.text import is_simplified, to_halfwidth, to_simplified

__all__ = [
    "PersonName",
    "is_company_name",
    "normalize_company_name",
    "normalize_person_name",
    "split_chinese_name",
]

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_PLAIN_CJK_NAME = re.compile(f"[{_CJK}]{{1,6}}")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# Middle dots seen in transliterated names (买买提·艾力); the ASCII '.' and '。' only between CJK.
_DOTS = re.compile(f"\\s*(?:[·•・‧･∙⋅]|(?<=[{_CJK}])\\s*[.。](?=\\s*[{_CJK}]))\\s*")
_BRACKETED = re.compile(
    r"\(([^()]*)\)|\[([^\[\]]*)\]|【([^【】]*)】|〔([^〔〕]*)〕|〈([^〈〉]*)〉|<([^<>]*)>"
)
_FORMER = re.compile(r"(?:曾用名|原名|曾用)\s*[:：]?\s*")
_FORMER_LIST = re.compile(r"[,，、;；/|]+")
_SPACE_RUN = re.compile(r"\s+")
_STARTS_CJK = re.compile(f"[{_CJK}]")
_SPACE_NEAR_CJK = re.compile(f"(?<=[{_CJK}·]) | (?=[{_CJK}·])")
_EDGE_PUNCT = " ,，、;；:：.。-_/\\|*#'\"“”‘’!！?？"
_BRACKET_UNIFY = str.maketrans({"【": "(", "】": ")", "〔": "(", "〕": ")", "[": "(", "]": ")"})


@dataclass(frozen=True, slots=True)
class PersonName:
    """A person's name as given, its match key, and any former names found in annotations."""

    original: str
    normalized: str
    former_names: tuple[str, ...]


@lru_cache(maxsize=1 << 16)
def _simplify_name(text: str) -> str:
    """Traditional → simplified for a person's name: character by character, listed surname kept."""
    surnames = family_names()
    keep = 0
    for length in (2, 1):  # compound surnames (欧阳) first
        if text[:length] in surnames:
            keep = length
            break
    return text[:keep] + "".join(to_simplified(char) for char in text[keep:])


def _clean_characters(raw: str, *, person: bool = True) -> str:
    """Half-width, simplified, no invisible characters, whitespace collapsed, dots unified."""
    # Trim first: the surname rule looks at the leading characters (" 乾隆" must keep 乾 too).
    text = _SPACE_RUN.sub(" ", to_halfwidth(raw.translate(_INVISIBLE))).strip()
    text = _simplify_name(text) if person else to_simplified(text)
    return _DOTS.sub("·", text)


def _tighten(text: str) -> str:
    """Drop the spaces that touch CJK (Chinese has none); keep single ones between Latin words."""
    text = _SPACE_NEAR_CJK.sub("", _SPACE_RUN.sub(" ", text)).strip(_EDGE_PUNCT)
    return text.casefold()


def _former_names(annotation: str) -> list[str]:
    match = _FORMER.search(annotation)
    if match is None:
        return []
    names: list[str] = []
    for part in _FORMER_LIST.split(annotation[match.end() :]):
        # A space separates Chinese names (王六 王七) but belongs inside a Latin one (Jack Smith).
        names.extend(part.split() if _STARTS_CJK.search(part) else [part])
    return [name for name in names if name.strip(_EDGE_PUNCT)]


def _strip_annotations(text: str) -> tuple[str, list[str]]:
    """Remove every bracketed annotation (innermost first); collect the former names they mention."""
    former: list[str] = []

    def drop(match: re.Match[str]) -> str:
        former.extend(_former_names(next(g for g in match.groups() if g is not None)))
        return " "

    while True:
        text, count = _BRACKETED.subn(drop, text)
        if count == 0:
            break
    # An unbracketed trailing "曾用名：李四" belongs to the remarks, not the name.
    match = _FORMER.search(text)
    if match is not None:
        former.extend(_former_names(text[match.start() :]))
        text = text[: match.start()]
    return text, former


def _dedupe(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in names if n))


@lru_cache(maxsize=1 << 16)
def normalize_person_name(raw: str) -> PersonName:
    """Return ``raw`` with its match key: trimmed, half-width, simplified, annotations removed.

    Chinese names lose all whitespace; Latin-script names keep single spaces and are case-folded;
    middle dots are unified to '·'. Bracketed annotations — （已故）, 【户主】, [...] — are removed,
    and names after 曾用名/原名 (bracketed or trailing) go, normalised, into ``former_names``.
    ``normalized`` is '' when nothing is left. Never raises.
    """
    if _PLAIN_CJK_NAME.fullmatch(raw):
        return PersonName(raw, raw if is_simplified(raw) else _simplify_name(raw), ())
    text, former = _strip_annotations(_clean_characters(raw).translate(_BRACKET_UNIFY))
    normalized = _tighten(text)
    return PersonName(raw, normalized, _dedupe([_tighten(_clean_characters(f)) for f in former]))


# 有限责任公司 and 有限公司 are the same legal form (Company Law: 有限责任公司 may be styled 有限公司).
# 股份有限公司 is a different form (joint-stock) and stays distinct: a match across the two is unlikely.
_LEGAL_FORMS = (("有限责任公司", "有限公司"),)
# Remarks a register appends in brackets; any other bracket is part of the name: 华为技术(深圳)有限公司.
_COMPANY_REMARK = re.compile(r"曾用名|原名|注销|吊销|存续|在业|在营|开业|迁出|撤销|停业|清算|备注|已故")


@lru_cache(maxsize=1 << 16)
def normalize_company_name(raw: str) -> str:
    """Return a company name's match key; '' when nothing is left. Never raises.

    Cleaned like a person's name (half-width, simplified, no spaces around CJK, Latin case-folded),
    with brackets of every style unified to '(' ')' and kept, except remarks such as (已注销) or
    (原名…), which are removed. 有限责任公司 becomes 有限公司; 股份有限公司 and 分公司 are kept as they are.
    """
    text = _clean_characters(raw, person=False).translate(_BRACKET_UNIFY)
    text = _BRACKETED.sub(lambda m: " " if _COMPANY_REMARK.search(m.group()) else m.group(), text)
    for long_form, short_form in _LEGAL_FORMS:
        text = text.replace(long_form, short_form)
    text = _tighten(text)
    return text.replace("( ", "(").replace(" )", ")")


_COMPANY_WORDS = re.compile(
    "公司|集团|合作社|事务所|工作室|商行|经营部|营业部|门市部|服务部|中心|银行|信用社|学校|医院|卫生院|诊所"
    "|委员会|居委会|协会|商会|基金会|联合会|研究院|研究所|大学|学院|幼儿园|合伙|有限|股份|企业|商店|超市"
    "|酒店|饭店|宾馆|药店|药房|加油站|养殖场|农场|林场|政府|法院|检察院|公安局|办事处|分行|支行|经销处"
)
# Single characters that end many shop names. 厂店馆场站 are rare in given names: trusted at the end of
# four characters or more (张记面馆; 五金店 stays ambiguous). 行社部局院所 also end given names
# (陶行知 is a person): trusted only beyond the four characters of a typical person's name.
_SHOP_LAST_CHARS = frozenset("厂店馆场站")
_OFFICE_LAST_CHARS = frozenset("行社部局院所")
_LATIN_COMPANY = re.compile(
    r"\b(?:co|ltd|limited|inc|incorporated|llc|llp|corp|corporation|company|gmbh|plc|pte|bank|group"
    r"|holdings?)\b\.?",
)
_TYPICAL_PERSON_LEN = 4


def is_company_name(raw: str) -> bool:
    """Heuristic: True if ``raw`` reads as an organisation rather than a person.

    True for organisation words (公司, 集团, 合作社, 事务所, 工作室, 商行, 经营部, 中心, 银行, 学校, 医院,
    委员会 …) or a Latin legal form (Co., Ltd, Inc, LLC, GmbH …). A name of at most four characters
    counts only when such a word ends it after two or more characters that are not a compound
    surname (体检中心, not 欧阳中心), or when it has four characters ending in 厂/店/馆/场/站
    (张记面馆); so a typical person's name (李中心, 陶行知, 欧阳中心) is not.
    """
    if len(raw) < _TYPICAL_PERSON_LEN and _PLAIN_CJK_NAME.fullmatch(raw) and is_simplified(raw):
        # The usual person's name, and the usual row: it normalises to itself, and in a name under
        # four characters neither an organisation word (it must follow two others) nor a shop
        # ending (four characters) counts, so the answer is no without normalising.
        return False
    text = normalize_company_name(raw)
    if not text:
        return False
    if _LATIN_COMPANY.search(text):
        return True
    if "·" in text:  # transliterated person names (买买提·艾力) are never organisations here
        return False
    if len(text) > _TYPICAL_PERSON_LEN:
        return bool(_COMPANY_WORDS.search(text)) or text[-1] in _SHOP_LAST_CHARS | _OFFICE_LAST_CHARS
    match = _COMPANY_WORDS.search(text)
    # 体检中心 is an organisation; 欧阳中心 is 欧阳 + a given name.
    if match is not None and match.end() == len(text) and match.start() >= 2:
        return text[: match.start()] not in _compound_surnames()
    return len(text) == _TYPICAL_PERSON_LEN and text[-1] in _SHOP_LAST_CHARS


@cache
def _compound_surnames() -> frozenset[str]:
    return frozenset(name for name in family_names() if len(name) == 2)


# Above this ratio a compound (刘付, frequency 5) loses to its first character alone (刘, 6770) in a
# three-character name: 刘付强 is far more likely 刘 + 付强.
_SINGLE_OVER_COMPOUND = 1000


def split_chinese_name(name: str) -> tuple[str, str]:
    """Split a normalised Chinese name into (family, given); longest family-name match first.

    Compound surnames (欧阳, 司马, 上官, 诸葛 …, from cn_family_names.csv) win when the name is
    longer than the surname, except a three-character name whose first character alone is a vastly
    more common surname (刘付强 → 刘, 付强). Otherwise the first character is the family name.
    Transliterated names with '·' and names without CJK characters have no family part: ('', name).
    """
    name = name.strip()
    if not name or "·" in name or not _STARTS_CJK.match(name):
        return "", name
    head = name[:2]
    if len(name) > 2 and head in _compound_surnames():
        counts = family_names()
        if len(name) > 3 or counts.get(head[0], 0) < _SINGLE_OVER_COMPOUND * counts[head]:
            return head, name[2:]
    return name[:1], name[1:]
