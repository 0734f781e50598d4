"""Character normalisation: full-width → half-width, traditional → simplified with a fast path."""

from __future__ import annotations

from importlib import resources

import opencc
import pytest

from matchers.text import _t2s_trigger_chars, is_simplified, to_halfwidth, to_simplified


def test_every_full_width_ascii_form_maps_to_ascii() -> None:
    full = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
    assert to_halfwidth(full) == "".join(chr(c) for c in range(0x21, 0x7F))


@pytest.mark.parametrize(
    ("raw", "half"),
    [
        ("１２３", "123"),
        ("ＡＢＣａｂｃ", "ABCabc"),
        ("（２０２４）", "(2024)"),
        ("张\u3000伟", "张 伟"),
        ("＋８６－１３８", "+86-138"),
        ("【】、。·", "【】、。·"),  # CJK punctuation outside U+FF01–FF5E stays
        ("plain ascii", "plain ascii"),
        ("", ""),
    ],
)
def test_to_halfwidth(raw: str, half: str) -> None:
    assert to_halfwidth(raw) == half
    assert to_halfwidth(half) == half


@pytest.mark.parametrize(
    ("raw", "simplified"),
    [
        ("張偉", "张伟"),
        ("陳美玲", "陈美玲"),
        ("歐陽娜娜", "欧阳娜娜"),
        ("臺灣銀行股份有限公司", "台湾银行股份有限公司"),
        ("中國工商銀行福州分行", "中国工商银行福州分行"),
        ("乾隆", "乾隆"),  # phrase-aware: 乾 stays in 乾隆
        ("乾燥", "干燥"),
        ("瞭解", "了解"),
        ("王小明", "王小明"),
        ("abc 123", "abc 123"),
        ("", ""),
    ],
)
def test_to_simplified(raw: str, simplified: str) -> None:
    assert to_simplified(raw) == simplified


@pytest.mark.parametrize("simplified", ["后", "干", "发", "面", "里", "台", "余", "系"])
def test_never_simplified_to_traditional(simplified: str) -> None:
    # Each of these has a traditional counterpart that s2t would produce (後, 乾/幹, 發/髮 …).
    assert to_simplified(simplified) == simplified
    assert to_simplified(simplified * 3 + "公司") == simplified * 3 + "公司"


def test_long_strings_convert_too() -> None:
    text = "張偉" * 100
    assert to_simplified(text) == "张伟" * 100


def test_fast_path_never_skips_a_character_t2s_would_change() -> None:
    trigger = _t2s_trigger_chars()
    assert trigger is not None and len(trigger) > 2000
    converter = opencc.OpenCC("t2s")
    for code in range(0x4E00, 0xA000):
        char = chr(code)
        if char not in trigger:
            assert converter.convert(char) == char, hex(code)


def test_fast_path_agrees_on_every_phrase_key() -> None:
    phrases = resources.files("opencc").joinpath("dictionary", "TSPhrases.txt").read_text(encoding="utf-8")
    converter = opencc.OpenCC("t2s")
    for line in phrases.splitlines():
        key = line.partition("\t")[0]
        if key:
            assert to_simplified(key) == converter.convert(key), key
            assert to_simplified("王" + key) == converter.convert("王" + key), key


def test_is_simplified_only_when_t2s_would_change_nothing() -> None:
    for text in ("张伟", "abc", "", "王芳"):
        assert is_simplified(text) and to_simplified(text) == text
    for text in ("張偉", "臺灣", "乾隆", "沈默"):  # 沈 alone stays; the phrase 沈默 becomes 沉默
        assert not is_simplified(text)
