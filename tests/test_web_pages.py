"""The web pages without a browser: sign-in, sessions, CSRF, the login rate limit, who sees what,
and that a page shows no more than the API would (masked, audited reveal)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from web_support import (
    FIRST,
    LOST,
    NIGHT,
    PASSWORD,
    SECOND,
    WebWorld,
    copied_world,
    rerank,
    web_app,
    world_template,
)

from contactfix.db.models import AuditEntry
from contactfix.db.outcome_models import Outcome
from contactfix.web import SESSION_COOKIE

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return world_template(tmp_path_factory.mktemp("web-world"))


@pytest.fixture
def world(template: Path, tmp_path: Path) -> Iterator[WebWorld]:
    built = copied_world(template, tmp_path)
    yield built
    built.engine.dispose()


@pytest.fixture
def client(world: WebWorld, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(web_app(world, tmp_path), follow_redirects=False) as client:
        yield client


def csrf_of(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: TestClient, login: str, password: str = PASSWORD) -> None:
    token = csrf_of(client, "/login")
    answer = client.post("/login", data={"login": login, "password": password, "csrf_token": token})
    assert answer.status_code == 303, answer.text


def test_pages_need_a_session(client: TestClient, world: WebWorld) -> None:
    for path in ("/", "/cases", f"/cases/{world.case_a}", "/submissions", "/ops", "/results.csv"):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), path
    posted = client.post(f"/cases/{world.case_a}/call", data={"csrf_token": "x"})
    assert posted.status_code in (401, 403)
    client.cookies.clear()
    login = client.get("/login")
    assert all(label in login.text for label in ("用户名", "密码", "登录"))
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and SESSION_COOKIE in cookie
    assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
    assert login.headers["cache-control"] == "no-store" and login.headers["x-frame-options"] == "DENY"
    assert client.get("/static/style.css").status_code == 200
    echoed = client.get("/login", params={"next": '/cases"><script>alert(1)</script>'})
    assert "<script>" not in echoed.text and "&#34;&gt;&lt;script&gt;" in echoed.text


def test_secure_cookie_by_default(world: WebWorld, tmp_path: Path) -> None:
    from contactfix.api import create_app
    from contactfix.settings import load_settings

    settings = load_settings(environ={}, database_url=world.url, web_session_secret="s" * 40)
    with TestClient(create_app(settings, world.engine), base_url="https://testserver") as client:
        cookie = client.get("/login").headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie


def test_without_a_secret_every_worker_signs_sessions_with_the_data_keys(
    world: WebWorld, tmp_path: Path
) -> None:
    from contactfix.api import create_app
    from contactfix.settings import load_settings

    settings = load_settings(environ={}, database_url=world.url, web_secure_cookies=False)
    assert settings.web_session_secret is None or not settings.web_session_secret.get_secret_value()
    first, second = create_app(settings, world.engine), create_app(settings, world.engine)
    with TestClient(first, follow_redirects=False) as one, TestClient(second, follow_redirects=False) as two:
        sign_in(one, "ops")
        two.cookies.update(one.cookies)
        assert two.get("/ops").status_code == 200


def test_sign_in_sends_each_role_home_and_sign_out_ends_it(client: TestClient) -> None:
    token = csrf_of(client, "/login")
    wrong = client.post("/login", data={"login": "med-a", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    for login, home in (("med-a", "/cases"), ("bank-a-ops", "/submissions"), ("ops", "/ops")):
        client.cookies.clear()
        token = csrf_of(client, "/login")
        answer = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": token})
        assert (answer.status_code, answer.headers["location"]) == (303, home)
        assert client.get(home).status_code == 200
    token = csrf_of(client, "/ops")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/ops").status_code == 303
    # Going back where one was sent from, but only on this site.
    token = csrf_of(client, "/login")
    answer = client.post("/login", data={"login": "ops", "password": PASSWORD, "csrf_token": token,
                                         "next": "//evil.example/x"})  # fmt: skip
    assert answer.headers["location"] == "/ops"


def test_forms_without_the_session_csrf_token_are_refused(client: TestClient, world: WebWorld) -> None:
    refused = client.post("/login", data={"login": "med-a", "password": PASSWORD})
    assert refused.status_code == 403
    sign_in(client, "med-a")
    url = f"/cases/{world.case_a}/outcome"
    for token in (None, "", "forged-token-forged-token-forged"):
        data = {"result": "wrong_number", "rank": "1"} | ({"csrf_token": token} if token is not None else {})
        assert client.post(url, data=data).status_code == 403
        assert client.post(f"/cases/{world.case_a}/call", data=data).status_code == 403
    with Session(world.engine) as session:
        assert session.scalars(select(Outcome)).all() == []
    # The same form with the token goes through.
    token = csrf_of(client, f"/cases/{world.case_a}")
    answer = client.post(
        url, data={"result": "no_answer", "rank": "1", "csrf_token": token, "note": "下午再打"}
    )
    assert answer.status_code == 303


def test_failed_sign_ins_are_limited_per_login_and_per_address(client: TestClient) -> None:
    for _ in range(5):
        token = csrf_of(client, "/login")
        wrong = client.post("/login", data={"login": "med-a", "password": "wrong", "csrf_token": token})
        assert wrong.status_code == 401
    token = csrf_of(client, "/login")
    blocked = client.post("/login", data={"login": "med-a", "password": PASSWORD, "csrf_token": token})
    assert (
        blocked.status_code == 429 and "登录失败次数过多" in blocked.text and "Retry-After" in blocked.headers
    )
    # The address is blocked too: another login from it is refused before its password is checked.
    other = client.post("/login", data={"login": "ops", "password": PASSWORD, "csrf_token": token})
    assert other.status_code == 429


def test_a_mediator_sees_only_their_cases_masked(client: TestClient, world: WebWorld) -> None:
    sign_in(client, "med-a")
    inbox = client.get("/cases")
    assert "（2026）闽0103民初12号" in inbox.text and "张*" in inbox.text and "+86 139****0002" in inbox.text
    assert "李*" not in inbox.text
    # The link in the text sent to the mediator is this page.
    from contactfix.dispatch.message import case_url

    linked = case_url("http://127.0.0.1:8000", world.case_a).removeprefix("http://127.0.0.1:8000")
    case = client.get(linked)
    assert case.status_code == 200 and linked == f"/cases/{world.case_a}"
    assert "350103********1234" in case.text and "+86 137****0003" in case.text
    assert not re.search(r"1[3-9]\d{9}", case.text), "an unmasked phone on the page"
    for button in ("拨打", "接通本人", "号码错误", "无人接听", "拒绝联系", "承诺还款", "调解成功", "备注"):
        assert button in case.text
    assert client.get(f"/cases/{world.case_b}").status_code == 404
    assert client.get("/cases/999999").status_code == 404
    token = csrf_of(client, "/cases")
    other = client.post(
        f"/cases/{world.case_b}/outcome", data={"result": "reached", "rank": "1", "csrf_token": token}
    )
    assert other.status_code == 404
    # Another role's pages are not a mediator's.
    assert client.get("/ops").status_code == 403 and client.get("/submissions").status_code == 403


def test_dialing_reveals_the_number_to_this_mediator_only_and_audits_it(
    client: TestClient, world: WebWorld
) -> None:
    sign_in(client, "med-a")
    token = csrf_of(client, f"/cases/{world.case_a}")
    dialled = client.post(f"/cases/{world.case_a}/call", data={"csrf_token": token})
    assert dialled.status_code == 200 and f'href="tel:{FIRST}"' in dialled.text
    with Session(world.engine) as session:
        reveals = session.scalars(select(AuditEntry).where(AuditEntry.action == "number.reveal")).all()
        assert [(e.actor, e.subject_id, e.detail["contact"]) for e in reveals] == [
            ("med-a", world.case_a, "+86 139****0002")
        ]
    assert FIRST not in client.get(f"/cases/{world.case_a}").text


def test_with_a_privacy_number_provider_the_mediator_dials_x_never_the_debtor(
    world: WebWorld, tmp_path: Path
) -> None:
    from conn_aliyun_peer import KEY_ID, SECRET, AliyunPeer, AxbBackend, serve
    from starlette.routing import Mount

    from connectors.calls.axb import AliyunAxbConnector

    app = web_app(world, tmp_path)
    with serve(AliyunPeer(AxbBackend())) as peer, TestClient(app, follow_redirects=False) as client:
        axb = AliyunAxbConnector(
            access_key_id=KEY_ID, access_key_secret=SECRET, pool_key="FC100000123456789", endpoint=peer.url
        )
        for route in app.routes:  # the web pages' call connector: the provider's sandbox peer
            if isinstance(route, Mount) and route.path == "":
                route.app.state.call_connector = axb  # type: ignore[attr-defined]
        sign_in(client, "med-a")
        token = csrf_of(client, f"/cases/{world.case_a}")
        dialled = client.post(f"/cases/{world.case_a}/call", data={"csrf_token": token})
        assert dialled.status_code == 200, dialled.text
        [sent] = peer.requests
        assert (sent["PhoneNoA"], sent["PhoneNoB"]) == ("13700000009", FIRST.removeprefix("+86"))
        number = re.search(r'href="tel:(\+86\d{11})"', dialled.text)
        assert number and number.group(1) != FIRST and "隐私号" in dialled.text
        assert FIRST not in dialled.text and FIRST.removeprefix("+86") not in dialled.text
    with Session(world.engine) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.subject_id == world.case_a)
        ).all()
        assert "case.call" in actions and "number.reveal" not in actions


def test_at_night_the_button_is_disabled_and_says_when_it_opens(world: WebWorld, tmp_path: Path) -> None:
    with TestClient(web_app(world, tmp_path, now=NIGHT), follow_redirects=False) as client:
        sign_in(client, "med-a")
        case = client.get(f"/cases/{world.case_a}")
        assert re.search(r"<button[^>]*disabled[^>]*>拨打（2026-12-08 08:00 起可拨）", case.text), case.text
        token = csrf_of(client, f"/cases/{world.case_a}")
        refused = client.post(f"/cases/{world.case_a}/call", data={"csrf_token": token})
        assert refused.status_code == 409 and "tel:" not in refused.text and "08:00 起可拨" in refused.text


def test_a_wrong_number_is_recorded_and_the_next_run_ranks_the_next_candidate(
    client: TestClient, world: WebWorld
) -> None:
    sign_in(client, "med-a")
    token = csrf_of(client, f"/cases/{world.case_a}")
    answer = client.post(
        f"/cases/{world.case_a}/outcome",
        data={"result": "wrong_number", "rank": "1", "note": "说打错了", "csrf_token": token},
    )
    assert answer.status_code == 303
    with Session(world.engine) as session:
        (outcome,) = session.scalars(select(Outcome)).all()
        assert (outcome.value, outcome.result, outcome.reporter, outcome.note) == (
            FIRST,
            "wrong_number",
            "med-a",
            "说打错了",
        )
    assert "已记录：+86 139****0002 号码错误" in client.get(f"/cases/{world.case_a}").text
    counts = rerank(world)
    assert counts.redispatched == 1
    inbox = client.get("/cases").text
    assert "+86 137****0003" in inbox and "+86 139****0002" not in inbox
    assert SECOND not in inbox and LOST not in inbox


def test_a_bank_sees_its_receipt_issues_and_results(
    client: TestClient, world: WebWorld, tmp_path: Path
) -> None:
    sign_in(client, "bank-a-ops")
    page = client.get("/submissions")
    assert "<svg" in page.text and "提交" in page.text and "调解成功" in page.text
    token = csrf_of(client, "/submissions")
    batch = "reference,name,id_number,phone\nCF100,王芳,350103199202023456,13912345678\nCF101,,,\n"
    answer = client.post("/submissions", data={"csrf_token": token},
                         files={"file": ("lost.csv", batch.encode(), "text/csv")})  # fmt: skip
    assert answer.status_code == 303, answer.text
    receipt = client.get(answer.headers["location"])
    assert receipt.status_code == 200 and "已完成" in receipt.text and 'class="rejected"' in receipt.text
    assert re.search(r"<dt>行数</dt><dd>2</dd>", receipt.text) and re.search(
        r"<dt>拒收</dt><dd>1</dd>", receipt.text
    )
    # The field is named as a Chinese reader's header names it, not by our canonical name.
    assert re.search(r'<tr class="rejected"><td>3</td><td>[^<a-z]+</td>', receipt.text), receipt.text
    issues = client.get(answer.headers["location"] + "/issues.csv")
    assert issues.status_code == 200 and issues.text.lstrip("\ufeff").startswith("row,field,severity,reason")
    assert "rejected" in issues.text and "3" in issues.text
    results = client.get("/results.csv")
    assert results.status_code == 200 and FIRST in results.text and "CF001" in results.text
    xlsx = client.get("/results.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    # Another bank's submission does not exist for this one; a mediator's case page is not a bank's.
    assert client.get("/submissions/999999").status_code == 404
    assert client.get(f"/cases/{world.case_a}").status_code == 403


def test_a_bad_upload_is_a_clear_400_and_nothing_is_taken_in(client: TestClient) -> None:
    sign_in(client, "bank-a-ops")
    token = csrf_of(client, "/submissions")
    for name, body in (
        ("lost.csv", b"\x00\x01\x02garbage\xff\xfe"),
        ("lost.csv", b""),
        ("notes.pdf", b"%PDF-1.4"),
    ):
        answer = client.post(
            "/submissions", data={"csrf_token": token}, files={"file": (name, body, "text/csv")}
        )
        assert answer.status_code == 400, (name, body, answer.text)
        assert "文件无法接收" in answer.text and "Traceback" not in answer.text
    assert "还没有上传过批次" in client.get("/submissions").text


def test_an_operator_sees_runs_dispatches_mediators_and_the_audit_log(client: TestClient) -> None:
    sign_in(client, "ops")
    page = client.get("/ops")
    assert page.status_code == 200
    for heading in ("对账运行", "派送", "调解员", "审计日志", "重试失败的派送"):
        assert heading in page.text
    assert "+86 137****0009" in page.text and "13700000009" not in page.text
    assert "web.login" in page.text
    filtered = client.get("/ops", params={"action": "web.login", "actor": "ops"})
    assert filtered.status_code == 200
    token = csrf_of(client, "/ops")
    assert client.post("/ops/dispatches/retry-dead", data={"csrf_token": token}).status_code == 303
    assert "已重新排队 0 条派送" in client.get("/ops").text
