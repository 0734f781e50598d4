"""aliyun-sms against a loopback gateway that checks signatures as the provider does; SmsReport parsing."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conn_aliyun_peer import KEY_ID, SECRET, AliyunPeer, SmsBackend, serve

from connectors import (
    ConfigurationError,
    DeliveryStatus,
    PermanentError,
    RetryableError,
    SendResult,
    SmsConnector,
    SmsMessage,
    can_move,
    load_sms_connector,
)
from connectors.aliyun_rpc import percent_encode, rpc_signature, string_to_sign
from connectors.sms.aliyun import AliyunSmsConnector, AliyunSmsReport, parse_aliyun_reports

PHONE = "+8613812345678"
NATIONAL = "13812345678"

# The worked example of the SMS signing page (help.aliyun.com/document_detail/101343).
DOC_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
DOC_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001"
    "%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD"
    "%25E4%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007"
    "%26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z"
    "%26Version%3D2017-05-25"
)


def message(key: str = "dispatch-1", to: str = PHONE, **metadata: str) -> SmsMessage:
    variables = {"name": "张三"} | metadata
    return SmsMessage(
        to=to,
        text="您好 张三：您的案件（2024）闽0103民初1234号已受理*，请联系调解员~",
        idempotency_key=key,
        metadata=variables,
    )


@pytest.fixture
def peer() -> Iterator[AliyunPeer]:
    with serve(AliyunPeer(SmsBackend())) as running:
        yield running


def connector(peer: AliyunPeer, **options: Any) -> AliyunSmsConnector:
    settings: dict[str, Any] = {
        "access_key_id": KEY_ID,
        "access_key_secret": SECRET,
        "sign_name": "某某调解中心",
        "template_code": "SMS_465970001",
        "text_variable": "content",
        "endpoint": peer.url,
        "timeout": 2.0,
    } | options
    return AliyunSmsConnector(**settings)


def test_signing_reproduces_the_documented_sendsms_example() -> None:
    assert string_to_sign("GET", DOC_PARAMS) == DOC_STRING_TO_SIGN
    assert rpc_signature("testSecret", "GET", DOC_PARAMS) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert (
        rpc_signature("testSecret", "GET", DOC_PARAMS | {"Signature": "ignored"})
        == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    )


def test_signing_reproduces_the_documented_rpc_example() -> None:
    # The DescribeRegions example of the RPC signing pages (note its parameter is spelled TimeStamp).
    params = {
        "TimeStamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }
    assert rpc_signature("testsecret", "GET", params) == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_percent_encoding_follows_rfc3986() -> None:
    assert percent_encode("a b") == "a%20b"
    assert percent_encode("*+/=&~-_.") == "%2A%2B%2F%3D%26~-_."
    assert percent_encode("张") == "%E5%BC%A0"


def test_send_is_signed_and_shaped_as_the_provider_expects(peer: AliyunPeer) -> None:
    sms = connector(peer)
    assert isinstance(sms, SmsConnector)
    result = sms.send(message())
    assert peer.refused == []
    [request] = peer.requests
    assert (
        request["Action"] == "SendSms" and request["Version"] == "2017-05-25" and request["Format"] == "JSON"
    )
    assert request["PhoneNumbers"] == NATIONAL
    assert (request["SignName"], request["TemplateCode"]) == ("某某调解中心", "SMS_465970001")
    assert request["OutId"] == "dispatch-1"
    assert json.loads(request["TemplateParam"]) == {"name": "张三", "content": message().text}
    assert result == SendResult((peer.backend.sent[0]["BizId"],), DeliveryStatus.SENT, "aliyun-sms")


def test_the_same_key_is_sent_once_and_every_request_has_a_fresh_nonce(peer: AliyunPeer) -> None:
    sms = connector(peer)
    first = sms.send(message("k1"))
    assert sms.send(message("k1")) == first
    second = sms.send(message("k2"))
    assert len(peer.requests) == 2 and second != first
    assert len({request["SignatureNonce"] for request in peer.requests}) == 2


def test_wrong_secret_is_a_configuration_error_that_quotes_nothing(
    peer: AliyunPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigurationError, match="access_key_secret") as error:
        connector(peer, access_key_secret="not-the-secret").send(message())
    assert peer.refused == ["SignatureDoesNotMatch"]
    for text in (str(error.value), caplog.text):
        assert NATIONAL not in text and "not-the-secret" not in text and "张三" not in text


def test_unknown_key_is_a_configuration_error(peer: AliyunPeer) -> None:
    with pytest.raises(ConfigurationError, match="access_key_id"):
        connector(peer, access_key_id="LTAI5tNobody").send(message())
    assert peer.refused == ["InvalidAccessKeyId.NotFound"]


@pytest.mark.parametrize(
    ("setup", "code", "kind"),
    [
        (lambda p, o: o.update(sign_name="未报备的签名"), "isv.SMS_SIGNATURE_ILLEGAL", PermanentError),
        (lambda p, o: o.update(template_code="SMS_000000"), "isv.SMS_TEMPLATE_ILLEGAL", PermanentError),
        (lambda p, o: o.update(text_variable=None), "isv.TEMPLATE_MISSING_PARAMETERS", PermanentError),
        (lambda p, o: setattr(p.backend, "credit", 0), "isv.AMOUNT_NOT_ENOUGH", RetryableError),
        (
            lambda p, o: setattr(p.backend, "per_number_per_minute", 0),
            "isv.BUSINESS_LIMIT_CONTROL",
            RetryableError,
        ),
        (
            lambda p, o: p.fail_next(400, "Throttling.User", "Request was denied due to user flow control."),
            "Throttling.User",
            RetryableError,
        ),
        (lambda p, o: p.fail_next(200, "isp.SYSTEM_ERROR", "系统错误"), "isp.SYSTEM_ERROR", RetryableError),
        (
            lambda p, o: p.fail_next(200, "isv.BLACK_KEY_CONTROL_LIMIT", "黑名单管控"),
            "isv.BLACK_KEY_CONTROL_LIMIT",
            PermanentError,
        ),
    ],
)
def test_each_refusal_maps_to_its_kind(
    peer: AliyunPeer, setup: Any, code: str, kind: type[Exception]
) -> None:
    options: dict[str, Any] = {}
    setup(peer, options)
    with pytest.raises(kind) as error:
        connector(peer, **options).send(message())
    assert code in str(error.value) and peer.refused == [code]
    assert type(error.value) is not ConfigurationError


def test_outage_and_unreadable_answers_are_retryable(peer: AliyunPeer) -> None:
    peer.fail_next(
        503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."
    )
    with pytest.raises(RetryableError, match="503"):
        connector(peer).send(message())


def test_a_skewed_clock_and_a_reused_nonce_are_refused_by_the_gateway_and_retryable(peer: AliyunPeer) -> None:
    late = connector(peer, clock=lambda: datetime.now(UTC) - timedelta(minutes=20))
    with pytest.raises(RetryableError, match=r"InvalidTimeStamp\.Expired"):
        late.send(message("k1"))
    stuck = connector(peer, nonce=lambda: "same-nonce")
    stuck.send(message("k2"))
    with pytest.raises(RetryableError, match="SignatureNonceUsed"):
        stuck.send(message("k3"))
    assert peer.refused == ["InvalidTimeStamp.Expired", "SignatureNonceUsed"]


def test_echoed_numbers_are_masked_in_errors_and_logs(
    peer: AliyunPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PermanentError, match="MOBILE_NUMBER_ILLEGAL") as error:
        connector(peer).send(message(to="+8612012345678"))  # E.164-valid, not a mobile the platform takes
    assert "12012345678" not in str(error.value) and "120****5678" in str(error.value)
    connector(peer).send(message("k-ok"))
    assert NATIONAL not in caplog.text and "12012345678" not in caplog.text


def test_missing_secrets_are_configuration_errors_at_load_time(monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"access_key_id": KEY_ID, "sign_name": "某某调解中心", "template_code": "SMS_465970001"}
    with pytest.raises(ConfigurationError, match="access_key_secret"):
        load_sms_connector("aliyun-sms", base | {"access_key_secret": ""})
    with pytest.raises(ConfigurationError, match="access_key_secret") as error:
        load_sms_connector("aliyun-sms", base | {"access_key_secret": "   "})
    assert "sign_name" not in str(error.value)
    assert isinstance(
        load_sms_connector("aliyun-sms", base | {"access_key_secret": SECRET}), AliyunSmsConnector
    )


def report_body(entries: list[Any]) -> bytes:
    return json.dumps(entries, ensure_ascii=False).encode("utf-8")


def test_reports_carry_what_forward_only_application_needs(peer: AliyunPeer) -> None:
    sms = connector(peer)
    ids = [sms.send(message(f"k{n}")).provider_message_ids[0] for n in range(3)]
    pushed = [
        peer.backend.report(ids[0]),
        peer.backend.report(ids[1], success=False, err_code="MK:0001", at="2025-07-01 10:00:09"),
        peer.backend.report(ids[2], success=False, err_code="EXPIRED"),
    ]
    reports = parse_aliyun_reports(report_body(pushed))
    assert reports.rejected == []
    assert [(r.provider_message_id, r.idempotency_key, r.status) for r in reports] == [
        (ids[0], "k0", DeliveryStatus.DELIVERED),
        (ids[1], "k1", DeliveryStatus.FAILED),
        (ids[2], "k2", DeliveryStatus.EXPIRED),
    ]
    assert reports[1].at == datetime(2025, 7, 1, 2, 0, 9, tzinfo=UTC)
    assert reports[1].error_code == "MK:0001" and reports[0].error_code is None
    assert all(isinstance(r, AliyunSmsReport) and r.parts == 1 for r in reports)


def test_duplicates_reordering_and_batches_settle_on_the_same_state(peer: AliyunPeer) -> None:
    sms = connector(peer)
    ids = [sms.send(message(f"k{n}")).provider_message_ids[0] for n in range(4)]
    entries = [peer.backend.report(i, success=n % 2 == 0) for n, i in enumerate(ids)]
    pushes = [entries[:2], entries[2:], entries[1:3], [entries[0], entries[0]]]  # resent and overlapping
    expected = {
        i: DeliveryStatus.DELIVERED if n % 2 == 0 else DeliveryStatus.FAILED for n, i in enumerate(ids)
    }
    for seed in range(5):
        random.Random(seed).shuffle(pushes)
        state = {i: DeliveryStatus.SENT for i in ids}
        for push in pushes:
            for receipt in parse_aliyun_reports(report_body(push)):
                if can_move(state[receipt.provider_message_id], receipt.status):
                    state[receipt.provider_message_id] = receipt.status
        assert state == expected
    assert len(parse_aliyun_reports(report_body([entries[0], entries[0]]))) == 1


def test_malformed_entries_are_reported_and_the_rest_kept(caplog: pytest.LogCaptureFixture) -> None:
    good = {
        "phone_number": NATIONAL,
        "report_time": "2025-07-01 10:00:05",
        "success": True,
        "biz_id": "1^0",
        "out_id": "k",
    }
    pushed = [
        good,
        {**good, "biz_id": ""},
        {**good, "report_time": "01/07/2025"},
        {**good, "success": "maybe"},
        "not an object",
        {k: v for k, v in good.items() if k != "biz_id"},
        {**good, "biz_id": "2^0", "success": "false", "err_code": "REJECTD"},
    ]
    reports = parse_aliyun_reports(report_body(pushed))
    assert [r.provider_message_id for r in reports] == ["1^0", "2^0"]
    assert reports[1].status is DeliveryStatus.REJECTED
    assert [entry.index for entry in reports.rejected] == [1, 2, 3, 4, 5]
    assert "biz_id missing" in [entry.reason for entry in reports.rejected]
    assert "5 of 7" in caplog.text and NATIONAL not in caplog.text and "01/07/2025" not in caplog.text
    for body in (b"<html>", b'{"biz_id": "1"}', b"\xff"):
        with pytest.raises(ValueError):
            parse_aliyun_reports(body)
