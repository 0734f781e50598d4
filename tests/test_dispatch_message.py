"""The text a mediator receives: it links to the case page, never names a shell command, and fits in
two SMS parts (counted as smpplib splits it for SMPP)."""

from __future__ import annotations

import datetime as dt

import pytest
import smpplib.gsm

from connectors.base import Binding
from contactfix.dispatch.message import CaseFacts, case_url, compose, mask_name, sms_parts
from contactfix.errors import SettingsError
from contactfix.settings import load_settings

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
DEBTOR = "+8613912345678"
# The longest spellings the texts are sized for: a 6-digit sequence, a 4-character name, a 30-character
# base URL and a 7-digit case id.
LONG_CASE = "（2025）粤0304民初123456号"
LONG_BASE = "https://tiaojie.example.com.cn/"
PRIVACY = Binding(
    "b-1", "+8613800000001", "+8617012345678", True, "aliyun", dt.datetime(2026, 12, 10, tzinfo=dt.UTC)
)


def facts(case: str = LONG_CASE, base: str = LONG_BASE, case_id: int = 1234567) -> CaseFacts:
    return CaseFacts(case, "CF0000001", mask_name("欧阳小明"), case_url(base, case_id))


def test_the_case_url_is_the_base_and_the_case_id_with_one_slash() -> None:
    assert case_url("http://127.0.0.1:8000", 12) == "http://127.0.0.1:8000/cases/12"
    assert case_url("https://x.cn/m/", 12) == "https://x.cn/m/cases/12"


def test_a_direct_call_path_links_to_the_case_page_with_the_number_masked() -> None:
    text = compose(facts(base="http://127.0.0.1:8000", case_id=42), None, DEBTOR, SHANGHAI)
    assert " http://127.0.0.1:8000/cases/42 " in text
    assert "+86 139****5678" in text and "13912345678" not in text
    assert "欧**明" in text and "欧阳小明" not in text
    assert LONG_CASE in text
    assert "contactfix" not in text and "show" not in text


def test_a_privacy_number_is_in_the_text_with_its_expiry_and_the_link() -> None:
    text = compose(facts(), PRIVACY, DEBTOR, SHANGHAI)
    assert "+8617012345678" in text and "12-10 08:00前有效" in text
    assert text.endswith(" https://tiaojie.example.com.cn/cases/1234567")
    assert "13912345678" not in text and "139****5678" not in text


@pytest.mark.parametrize("binding", [None, PRIVACY], ids=["direct", "privacy-number"])
def test_the_longest_text_fits_in_two_parts_as_smpp_splits_it(binding: Binding | None) -> None:
    text = compose(facts(), binding, DEBTOR, SHANGHAI)
    parts, data_coding, _ = smpplib.gsm.make_parts(text)
    assert data_coding == smpplib.consts.SMPP_ENCODING_ISO10646  # UCS-2, as any Chinese text
    assert sms_parts(text) == len(parts) <= 2


def test_sms_parts_counts_as_smpplib_does_at_the_edges() -> None:
    for length in (1, 70, 71, 134, 135, 201, 202):
        text = "中" * length
        assert sms_parts(text) == len(smpplib.gsm.make_parts(text)[0]), length


def test_public_base_url_must_be_an_http_address() -> None:
    assert load_settings({}).public_base_url == "http://127.0.0.1:8000"
    assert load_settings({"CONTACTFIX_PUBLIC_BASE_URL": "https://m.example.cn/tj"}).public_base_url == (
        "https://m.example.cn/tj"
    )
    for bad in ("127.0.0.1:8000", "ftp://x.cn", "https://x.cn/a b", "https://x.cn/?q=1"):
        with pytest.raises(SettingsError, match="public_base_url"):
            load_settings({"CONTACTFIX_PUBLIC_BASE_URL": bad})
