"""The corruptions real bank and court exports carry, applied on purpose to the sample data.

Each function takes the clean value (and the random stream where it makes a choice) and returns
the corrupted text; the caller decides how often, and records which corruption it applied.
"""

from __future__ import annotations

from functools import lru_cache

from opencc import OpenCC

from contactfix.sample.people import Dice, id_check_digit

_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_S2T = OpenCC("s2t")

# Characters of given names that clerks and debtors confuse: same or near sound, or near form.
HOMOPHONES: dict[str, str] = {
    "伟": "玮", "丽": "莉", "明": "铭", "华": "桦", "军": "君", "杰": "捷", "静": "靖", "红": "虹",
    "燕": "艳", "艳": "燕", "玲": "琳", "琳": "玲", "婷": "亭", "辉": "晖", "峰": "锋", "涛": "滔",
    "斌": "彬", "鹏": "朋", "刚": "钢", "平": "萍", "萍": "苹", "英": "瑛", "兰": "岚", "梅": "玫",
    "慧": "惠", "颖": "莹", "洁": "婕", "娟": "鹃", "芳": "方", "敏": "珉", "宇": "雨", "浩": "皓",
    "俊": "骏", "林": "霖", "龙": "隆", "勇": "永", "超": "潮", "文": "雯", "志": "智", "建": "健",
    "健": "建", "东": "冬", "秀": "琇", "玉": "钰", "桂": "贵", "佳": "嘉", "嘉": "佳", "晓": "小",
    "欣": "馨", "思": "斯", "琪": "琦", "怡": "宜", "轩": "宣", "飞": "菲", "鑫": "新", "旭": "煦",
    "凯": "恺", "帆": "凡", "娜": "那", "霞": "遐", "春": "纯", "国": "帼",
}  # fmt: skip

# Provinces as court case numbers abbreviate them (内 for Inner Mongolia, 黔 Guizhou, 云 Yunnan).
COURT_PROVINCES: dict[str, str] = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "内", "21": "辽", "22": "吉", "23": "黑",
    "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣", "37": "鲁", "41": "豫",
    "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼", "50": "渝", "51": "川", "52": "黔",
    "53": "云", "54": "藏", "61": "陕", "62": "甘", "63": "青", "64": "宁", "65": "新",
}  # fmt: skip
_BRACKETS = (("（", "）"), ("(", ")"), ("〔", "〕"))


def full_width(text: str) -> str:
    """``text`` with ASCII digits replaced by full-width ones (０-９), as some exports write them."""
    return text.translate(_FULL_WIDTH)


@lru_cache(maxsize=65536)
def to_traditional(name: str) -> str:
    """``name`` in traditional script. Only to generate noise: the product converts the other way."""
    return str(_S2T.convert(name))


def homophone(name: str, family_len: int, rng: Dice) -> str | None:
    """``name`` with one given-name character swapped for a sound- or look-alike; None if none applies."""
    spots = [i for i in range(family_len, len(name)) if name[i] in HOMOPHONES]
    if not spots:
        return None
    i = rng.pick(spots)
    return name[:i] + HOMOPHONES[name[i]] + name[i + 1 :]


def mask_id(id_number: str, rng: Dice) -> str:
    """An 18-digit ID masked the ways court documents publish them (350103********1234 and kin)."""
    r = rng.random()
    if r < 0.5:
        return id_number[:6] + "********" + id_number[14:]
    if r < 0.8:
        return id_number[:10] + "******" + id_number[16:]
    return id_number[:14] + "****"


def to_15_digits(id_number: str) -> str:
    """The 15-digit first-generation form of an 18-digit ID of someone born in the 1900s."""
    return id_number[:6] + id_number[8:17]


def break_checksum(id_number: str, rng: Dice) -> str:
    """An 18-digit ID whose check character is wrong (a typo the checksum must catch)."""
    right = id_check_digit(id_number[:17])
    return id_number[:17] + rng.pick([c for c in "0123456789X" if c != right])


def drop_digit(phone: str, rng: Dice) -> str:
    """``phone`` with one digit lost, as a clerk's typo leaves it."""
    i = rng.below(len(phone))
    return phone[:i] + phone[i + 1 :]


def style_mobile(number: str, rng: Dice) -> str:
    """An 11-digit mobile number written one of the ways exports write it other than plainly."""
    a, b, c = number[:3], number[3:7], number[7:]
    styles = (
        f"+86 {a} {b} {c}",
        f"0086-{number}",
        f"{a}-{b}-{c}",
        f"{a} {b} {c}",
        full_width(number),
        f"86 {number}",
        f"+86{number}",
        f"(+86){number}",
    )
    return rng.pick(styles)


def style_landline(number: str, area_len: int, rng: Dice) -> str:
    """A fixed-line national number (area code without its 0, then the local number) as written."""
    area, local = "0" + number[:area_len], number[area_len:]
    styles = (f"{area}-{local}", f"{area}{local}", f"({area}){local}", f"{area} {local[:4]} {local[4:]}")
    return rng.pick(styles)


def case_number(year: int, court: str, kind: str, sequence: int, rng: Dice) -> str:
    """A case number like （2023）闽0103民初1234号, with the bracket and digit variants exports use."""
    opening, closing = _BRACKETS[0] if rng.random() < 0.75 else rng.pick(_BRACKETS[1:])
    text = f"{opening}{year}{closing}{court}{kind}{sequence}号"
    return full_width(text) if rng.random() < 0.05 else text


def amount_text(amount: float, rng: Dice) -> str:
    """A debt amount as bank exports print it: sometimes with thousands separators, sometimes whole."""
    r = rng.random()
    if r < 0.3:
        return f"{amount:,.2f}"
    if r < 0.4:
        return f"{round(amount)}"
    return f"{amount:.2f}"
