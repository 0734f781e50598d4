"""Pinyin keys for Chinese names, with surnames read as surnames.

Pinyin only ever helps to *find* candidates or to recognise a homophone variant (张/章); it never confirms
a match on its own. pypinyin reads each character by its commonest reading, which is wrong for many
surnames (单 is "shan" as a surname, not "dan"), so the family name is read from the table below first.
pypinyin is imported on first use: it costs about 0.3 s and Latin-script data never needs it.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Protocol

__all__ = ["SURNAME_READINGS", "has_cjk", "name_pinyin", "pinyin_syllables", "sorted_pinyin_key"]

# Surnames whose reading differs from the commonest reading of the character (or phrase). Compound
# surnames are listed whole, since pypinyin's phrase dictionary does not know most of them.
SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    "单": ("shan",),
    "曾": ("zeng",),
    "区": ("ou",),
    "仇": ("qiu",),
    "解": ("xie",),
    "查": ("zha",),
    "朴": ("piao",),
    "盖": ("ge",),
    "乐": ("yue",),
    "缪": ("miao",),
    "秘": ("bi",),
    "种": ("chong",),
    "折": ("she",),
    "繁": ("po",),
    "翟": ("zhai",),
    "覃": ("qin",),
    "么": ("yao",),
    "员": ("yun",),
    "能": ("nai",),
    "尉": ("wei",),
    "召": ("shao",),
    "句": ("gou",),
    "冼": ("xian",),
    "洗": ("xian",),
    "黑": ("he",),
    "重": ("chong",),
    "朝": ("chao",),
    "柏": ("bai",),
    "藏": ("zang",),
    "褚": ("chu",),
    "卜": ("bu",),
    "薄": ("bo",),
    "过": ("guo",),
    "祭": ("zhai",),
    "牟": ("mou",),
    "谌": ("chen",),
    "乜": ("nie",),
    "粘": ("nian",),
    "仉": ("zhang",),
    "宓": ("mi",),
    "訾": ("zi",),
    "逄": ("pang",),
    "贲": ("ben",),
    "炅": ("gui",),
    "长": ("chang",),
    "沈": ("shen",),
    "宁": ("ning",),
    "華": ("hua",),
    "华": ("hua",),
    "那": ("na",),
    "都": ("du",),
    "阿": ("a",),
    "尉迟": ("yu", "chi"),
    "万俟": ("mo", "qi"),
    "单于": ("chan", "yu"),
    "长孙": ("zhang", "sun"),
    "澹台": ("tan", "tai"),
    "令狐": ("ling", "hu"),
    "皇甫": ("huang", "fu"),
    "欧阳": ("ou", "yang"),
    "司马": ("si", "ma"),
    "上官": ("shang", "guan"),
    "诸葛": ("zhu", "ge"),
    "东方": ("dong", "fang"),
    "夏侯": ("xia", "hou"),
    "宇文": ("yu", "wen"),
    "慕容": ("mu", "rong"),
    "公孙": ("gong", "sun"),
    "轩辕": ("xuan", "yuan"),
    "呼延": ("hu", "yan"),
    "司徒": ("si", "tu"),
    "司空": ("si", "kong"),
}


class _LazyPinyin(Protocol):
    def __call__(self, hans: str, errors: str = ..., strict: bool = ...) -> list[str]: ...


@cache
def _lazy_pinyin() -> _LazyPinyin:
    from pypinyin import lazy_pinyin

    def convert(hans: str, errors: str = "default", strict: bool = False) -> list[str]:
        return lazy_pinyin(hans, errors=errors, strict=strict)

    return convert


_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")


def has_cjk(text: str) -> bool:
    """True when ``text`` contains at least one CJK unified ideograph (basic block or extension A)."""
    return _CJK.search(text) is not None


@lru_cache(maxsize=131072)
def pinyin_syllables(text: str, *, as_surname: bool = False) -> tuple[str, ...]:
    """Toneless pinyin syllables of ``text``, lowercase; non-Chinese runs are kept as they are (lowercased).

    With ``as_surname`` the text is read as a family name: a known surname or compound surname at its
    start takes its surname reading (单 → shan, 曾 → zeng, 尉迟 → yu chi).
    """
    if not text:
        return ()
    if as_surname:
        for size in (2, 1):
            head = text[:size]
            if len(head) == size and head in SURNAME_READINGS:
                return SURNAME_READINGS[head] + pinyin_syllables(text[size:])
    if not has_cjk(text):
        return tuple(text.lower().split())
    syllables = _lazy_pinyin()(text, errors="default", strict=False)
    return tuple(s.strip().lower() for s in syllables if s.strip())


def name_pinyin(family: str, given: str) -> str:
    """Pinyin of a full name, the family name read as a surname: ``('单', '田芳') → 'shan tian fang'``."""
    return " ".join(pinyin_syllables(family, as_surname=True) + pinyin_syllables(given))


def sorted_pinyin_key(family: str, given: str) -> str:
    """Order-free key of a name: its pinyin syllables sorted, so swapped family/given names share it."""
    return " ".join(sorted(pinyin_syllables(family, as_surname=True) + pinyin_syllables(given)))
