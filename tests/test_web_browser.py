"""The web pages in a real browser: Debian's chromium (``/usr/bin/chromium``, or ``WEB_TEST_CHROMIUM``)
driven by Playwright against the app served by uvicorn on a loopback port, on a temporary SQLite
database (tests/web_support.py). Controls are found by their accessible names, the Chinese labels.

With ``WEB_SCREENSHOTS=DIR`` the tests also save the main pages at 375 and 1280 px wide
(docs/screenshots/ was made so).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from funnel_support import add_batches
from openpyxl import load_workbook
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from web_support import (
    FIRST,
    PASSWORD,
    WebWorld,
    build_review_world,
    copied_world,
    rerank,
    serving,
    web_app,
    world_template,
)

from contactfix.api import create_app
from contactfix.db.identity_models import RecordLink
from contactfix.pipeline.reconcile import reconcile
from contactfix.settings import load_settings

CHROMIUM = os.environ.get("WEB_TEST_CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ.get("WEB_SCREENSHOTS")
WIDTHS = (375, 1280)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's browser is Debian's chromium (Playwright's own download is not possible)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs it (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return world_template(tmp_path_factory.mktemp("web-world"))


@pytest.fixture
def world(template: Path, tmp_path: Path) -> Iterator[WebWorld]:
    built = copied_world(template, tmp_path)
    yield built
    built.engine.dispose()


@pytest.fixture
def site(world: WebWorld, tmp_path: Path) -> Iterator[str]:
    with serving(web_app(world, tmp_path)) as base:
        yield base


@pytest.fixture
def page(new_context: Callable[..., BrowserContext], site: str) -> Page:
    """A phone-sized page (375 px) on the served site; pytest-playwright closes its context."""
    context = new_context(base_url=site, locale="zh-CN", viewport={"width": 375, "height": 800})
    context.set_default_timeout(10_000)
    return context.new_page()


def sign_in(page: Page, login: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(login)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def shoot(page: Page, name: str, *, full_page: bool = True) -> None:
    """Save the page at each width (only with WEB_SCREENSHOTS)."""
    if not SHOTS:
        return
    folder = Path(SHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800 if full_page else 1000})
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=full_page)
    page.set_viewport_size({"width": 375, "height": 800})


def no_sideways_scroll(page: Page) -> None:
    """At 375 px the page itself does not scroll sideways (wide tables scroll in their own box)."""
    width: Any = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide on a 375 px screen"


def test_a_mediator_dials_reports_a_wrong_number_and_sees_the_next_candidate(
    page: Page, world: WebWorld
) -> None:
    sign_in(page, "med-a")
    expect(page).to_have_url(re.compile(r"/cases$"))
    expect(page.get_by_role("heading", name="我的案件")).to_be_visible()
    expect(page.get_by_text("+86 139****0002")).to_be_visible()
    no_sideways_scroll(page)
    shoot(page, "cases")
    page.get_by_role("link", name="（2026）闽0103民初12号").click()
    expect(page).to_have_url(re.compile(rf"/cases/{world.case_a}$"))
    expect(page.get_by_role("heading", name="关联记录")).to_be_visible()
    no_sideways_scroll(page)
    page.get_by_role("button", name="拨打").click()
    dial = page.get_by_role("link", name=FIRST)
    expect(dial).to_have_attribute("href", f"tel:{FIRST}")
    shoot(page, "case")
    page.get_by_label("备注").fill("对方说打错了")
    page.get_by_role("button", name="号码错误").click()
    expect(page.get_by_role("status")).to_have_text("已记录：+86 139****0002 号码错误")
    expect(page.get_by_role("cell", name="对方说打错了")).to_be_visible()
    assert rerank(world).redispatched == 1  # the night's reconciliation ranks again
    page.goto("/cases")
    expect(page.get_by_text("+86 137****0003")).to_be_visible()
    expect(page.get_by_text("+86 139****0002")).to_have_count(0)


def test_a_mediator_cannot_open_another_mediators_case(page: Page, world: WebWorld) -> None:
    sign_in(page, "med-b")
    expect(page.get_by_role("link", name=re.compile("民初99号"))).to_be_visible()
    answer = page.goto(f"/cases/{world.case_a}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="未找到")).to_be_visible()
    expect(page.get_by_text("张*")).to_have_count(0)


def test_a_bank_uploads_a_batch_and_downloads_the_results(page: Page, tmp_path: Path) -> None:
    batch = tmp_path / "失联名单.csv"
    batch.write_text(
        "reference,name,id_number,phone\nCF100,王芳,350103199202023456,13912345678\nCF101,,,\n",
        encoding="utf-8",
    )
    sign_in(page, "bank-a-ops")
    expect(page).to_have_url(re.compile(r"/submissions$"))
    expect(page.get_by_role("img", name=re.compile("提交"))).to_be_visible()  # the funnel chart
    no_sideways_scroll(page)
    page.get_by_label("文件").set_input_files(str(batch))
    page.get_by_role("button", name="上传").click()
    expect(page.get_by_role("heading", name=re.compile("回执"))).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("已完成")
    expect(page.get_by_role("cell", name="拒收", exact=True)).to_have_count(1)
    expect(page.get_by_role("cell", name="拒收：缺少姓名")).to_have_count(1)  # the reason, in Chinese
    shoot(page, "receipt")
    with page.expect_download() as issues:
        page.get_by_role("link", name="下载问题清单（CSV）").click()
    assert "rejected" in Path(issues.value.path()).read_text(encoding="utf-8-sig")
    page.goto("/submissions")
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="下载结果（CSV）").click()
    text = Path(csv_download.value.path()).read_text(encoding="utf-8-sig")
    assert text.startswith("reference,status,rank") and f"CF001,repaired,1,phone,{FIRST}" in text
    with page.expect_download() as xlsx_download:
        page.get_by_role("link", name="下载结果（XLSX）").click()
    saved = tmp_path / "results.xlsx"
    xlsx_download.value.save_as(saved)
    rows = list(load_workbook(saved, read_only=True).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][:3] == ("reference", "status", "rank") and ("CF001", "repaired", 1, "phone", FIRST) in [
        r[:5] for r in rows
    ]


def test_a_bank_sees_its_funnel_per_batch_and_by_week(page: Page, world: WebWorld) -> None:
    with Session(world.engine) as session:
        for week, size in enumerate((12, 18, 9, 25, 16, 21)):  # batches of different sizes, weekly
            add_batches(session, "bank-a", 1, size, dt.date(2026, 10, 5) + dt.timedelta(weeks=week))
        add_batches(session, "bank-b", 2, 30, dt.date(2026, 10, 5))  # not bank-a's
        session.commit()
    sign_in(page, "bank-a-ops")
    expect(page).to_have_url(re.compile(r"/submissions$"))
    trend = page.get_by_role("img", name=re.compile("按上传周统计的修复漏斗"))
    expect(trend).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("本行全部批次的修复漏斗"))).to_be_visible()
    weeks = page.get_by_role("table", name=re.compile("按上传周统计"))
    expect(weeks.get_by_role("row")).to_have_count(1 + 6)
    # 12 debtors a batch (tests/funnel_support.py): 13 rows, 9 repaired, 6 dispatched, 4 reached, 2 mediated.
    expect(weeks.get_by_role("row", name="2026-10-05 1 13 9 6 4 2")).to_be_visible()
    batches = page.get_by_role("table", name=re.compile("最近 6 个批次"))
    expect(batches.get_by_role("row")).to_have_count(1 + 6)
    expect(page.get_by_text("bank-b-")).to_have_count(0)
    no_sideways_scroll(page)
    box = trend.bounding_box()
    assert box is not None and box["width"] <= 375 and box["height"] > 100  # drawn, and fits the phone
    shoot(page, "submissions")
    batches.get_by_role("link").last.click()  # the oldest batch: 12 debtors
    chart = page.get_by_role("img", name=re.compile(r"批次 #\d+ 的修复漏斗"))
    expect(chart).to_have_accessible_name(re.compile("提交 13，修复 9，派送 6，联系上 4，调解成功 2"))
    no_sideways_scroll(page)
    shoot(page, "batch")


def test_an_operator_accepts_a_review_pair_and_the_next_run_keeps_it(
    new_context: Callable[..., BrowserContext], sqlite_url: str, tmp_path: Path
) -> None:
    engine = build_review_world(sqlite_url, tmp_path / "sample")
    settings = load_settings(environ={}, database_url=sqlite_url, web_secure_cookies=False,
                             web_session_secret="s" * 40)  # fmt: skip
    try:
        with serving(create_app(settings, engine)) as site:
            context = new_context(base_url=site, locale="zh-CN", viewport={"width": 375, "height": 800})
            page = context.new_page()
            sign_in(page, "ops")
            page.get_by_role("link", name="待审核").click()
            first = page.get_by_role("region").first
            label = first.get_attribute("aria-label") or ""
            a, b = (int(n) for n in re.findall(r"\d+", label))
            shoot(page, "review", full_page=False)  # a long queue: its first screen
            first.get_by_role("button", name="是同一人", exact=True).click()
            expect(page.get_by_role("status")).to_have_text(f"已记录：记录 {a} 与 {b} 是同一人")
            expect(page.get_by_role("region", name=label)).to_have_count(0)
            reconcile(engine, full=True, repair=False)  # the next run scores the pair again
            page.reload()
            expect(page.get_by_role("region", name=label)).to_have_count(0)
        with Session(engine) as session:
            kept = session.scalar(
                select(RecordLink.probability).where(RecordLink.record_a_id == a, RecordLink.record_b_id == b)
            )
        assert kept == 1.0
    finally:
        engine.dispose()


def test_an_operator_sees_the_service(page: Page) -> None:
    sign_in(page, "ops")
    expect(page).to_have_url(re.compile(r"/ops$"))
    for heading in ("对账运行", "派送", "调解员", "审计日志"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="重试失败的派送")).to_be_disabled()
    no_sideways_scroll(page)
    shoot(page, "ops")
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    if SHOTS:
        shoot(page, "login")
