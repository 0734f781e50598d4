"""The funnel per batch and over time: the same figures as ``funnel(submission_id=…)``, in a few
grouped queries however many batches, summed by week or month, and charted on the bank's pages
within the bank's own batches."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from funnel_support import add_batches
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session
from test_web_pages import sign_in
from web_support import copied_world, web_app, world_template

from contactfix.db.engine import make_engine, session_factory
from contactfix.db.migrate import upgrade_database
from contactfix.db.models import Submission
from contactfix.pipeline.report import (
    FUNNEL_KEYS,
    BatchFunnel,
    funnel,
    funnel_by_period,
    funnel_by_submission,
)
from contactfix.web.charts import mini_bars, stage_values, trend_chart

MONDAY = dt.date(2026, 9, 7)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade_database(db_url)
    built = make_engine(db_url)
    yield built
    built.dispose()


def test_each_batch_has_the_figures_of_its_own_funnel(engine: Engine) -> None:
    with session_factory(engine)() as session:
        mine = add_batches(session, "bank-a", 4, 7, MONDAY)
        theirs = add_batches(session, "bank-b", 2, 5, MONDAY)
        session.commit()
        batches = funnel_by_submission(session, Submission.organization_id == _org(session, mine[0]))
        assert [b.submission_id for b in batches] == sorted(mine, reverse=True)  # newest first
        for batch in batches:
            assert batch.counts == funnel(session, submission_id=batch.submission_id)
            assert tuple(batch.counts) == FUNNEL_KEYS
        # 7 debtors: j % 5 = 0..4, 0, 1 → repaired 5 (1 by a carrier), dispatched 3, delivered 2 …
        assert stage_values(batches[0].counts) == [8, 5, 3, 2, 1]
        assert batches[0].counts["wrong_number"] == 1 and batches[0].counts["delivered"] == 2
        everything = funnel_by_submission(session)
        assert {b.submission_id for b in everything} == set(mine) | set(theirs)
        assert sum(b.counts["repaired_records"] for b in everything) == funnel(session)["repaired_records"]


def _org(session: Session, submission_id: int) -> int:
    found = session.get(Submission, submission_id)
    assert found is not None
    return found.organization_id


def _statements(engine: Engine, batches: int) -> int:
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    with session_factory(engine)() as session:
        event.listen(engine, "before_cursor_execute", count)
        try:
            found = funnel_by_submission(session)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(found) == batches
    return len(seen)


def test_a_thousand_batches_cost_the_queries_of_one(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        add_batches(session, "bank-a", 1, 5, MONDAY)
        session.commit()
    one = _statements(engine, 1)
    with session_factory(engine)() as session:
        add_batches(session, "bank-a", 999, 2, MONDAY, every_days=1)
        session.commit()
    assert _statements(engine, 1000) == one <= 5  # grouped: no query per batch
    engine.dispose()


def _batch(day: dt.datetime, **counts: int) -> BatchFunnel:
    full = {key: 0 for key in FUNNEL_KEYS} | counts
    return BatchFunnel(1, 1, "a.csv", "completed", day, full)


def test_periods_are_weeks_from_monday_in_local_time_without_gaps() -> None:
    batches = [
        _batch(dt.datetime(2026, 9, 7, 2, tzinfo=dt.UTC), submitted=10, mediated=1),  # Mon 7 Sep
        _batch(dt.datetime(2026, 9, 13, 15, 30, tzinfo=dt.UTC), submitted=5),  # Sun 23:30 local
        _batch(dt.datetime(2026, 9, 13, 16, 30, tzinfo=dt.UTC), submitted=2),  # Mon 00:30 local
        _batch(dt.datetime(2026, 9, 30, 1, tzinfo=dt.UTC), submitted=1, reached=1),  # week of 28 Sep
    ]
    unit, periods = funnel_by_period(batches)
    assert unit == "week"
    assert [(p.label, p.batches, p.counts["submitted"]) for p in periods] == [
        ("2026-09-07", 2, 15), ("2026-09-14", 1, 2), ("2026-09-21", 0, 0), ("2026-09-28", 1, 1),
    ]  # fmt: skip
    assert periods[0].counts["mediated"] == 1 and periods[-1].counts["reached"] == 1
    months = funnel_by_period(batches, unit="month")[1]
    assert [(p.label, p.counts["submitted"]) for p in months] == [("2026-09", 18)]
    assert funnel_by_period([]) == ("week", [])
    with pytest.raises(ValueError, match="week or month"):
        funnel_by_period(batches, unit="day")


def test_a_long_span_is_shown_by_month() -> None:
    start = dt.datetime(2025, 11, 20, 2, tzinfo=dt.UTC)
    batches = [_batch(start + dt.timedelta(days=30 * k), submitted=k) for k in range(14)]
    unit, periods = funnel_by_period(batches)
    assert unit == "month" and periods[0].label == "2025-11" and periods[-1].label == "2026-12"
    assert sum(p.counts["submitted"] for p in periods) == sum(range(14)) and len(periods) == 14


def test_charts_scale_and_label_sparsely() -> None:
    chart = trend_chart([f"w{k}" for k in range(26)], [[k * 37 for k in range(26)], [0] * 26])
    assert [t[0] for t in chart["ticks"]] == [0, 200, 400, 600, 800, 1000] and chart["ticks"][0][1] == chart[
        "bottom"
    ]
    assert [t[0] for t in trend_chart(["a"], [[15]])["ticks"]] == [0, 5, 10, 15, 20]
    assert 2 <= len(chart["x_labels"]) <= 7 and chart["x_labels"][-1][0] == "w25"
    xs = [float(point.split(",")[0]) for point in chart["lines"][0]["points"].split()]
    assert xs == sorted(xs) and xs[0] == chart["left"] and xs[-1] == chart["right"]
    single = trend_chart(["2026-09"], [[3]])
    assert single["lines"][0]["markers"][0][2] == 3 and [t[0] for t in single["ticks"]] == [0, 1, 2, 3, 4, 5]
    assert [b["height"] for b in mini_bars({"submitted": 10, "repaired_records": 5})][:3] == [22.0, 11.0, 0.0]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return world_template(tmp_path_factory.mktemp("web-funnel"))


@pytest.fixture
def client(template: Path, tmp_path: Path) -> Iterator[TestClient]:
    world = copied_world(template, tmp_path)
    with Session(world.engine) as session:
        add_batches(session, "bank-a", 5, 6, MONDAY)
        add_batches(session, "bank-b", 3, 9, MONDAY)  # another bank's: never on bank-a's pages
        session.commit()
    with TestClient(web_app(world, tmp_path), follow_redirects=False) as client:
        yield client
    world.engine.dispose()


def test_the_bank_page_charts_each_batch_and_the_weeks(client: TestClient) -> None:
    sign_in(client, "bank-a-ops")
    page = client.get("/submissions").text
    assert 'class="trend"' in page and "按上传周统计的修复漏斗" in page and page.count('class="mini"') == 5
    assert "各批次漏斗" in page and "bank-b-" not in page
    assert re.search(
        r"<th scope=\"row\" class=\"nowrap\">2026-09-07</th><td>1</td><td>7</td><td>4</td>", page
    )
    weeks = list(csv.reader(io.StringIO(client.get("/submissions/funnel.csv?by=week").text.lstrip("\ufeff"))))
    assert weeks[0][:3] == ["周期起始", "批次数", "提交行数"] and len(weeks) == 1 + 5
    assert weeks[1][:4] == ["2026-09-07", "1", "7", "6"]
    batches = list(csv.reader(io.StringIO(client.get("/submissions/funnel.csv").text.lstrip("\ufeff"))))
    assert len(batches) == 1 + 5 and all(row[1].startswith("bank-a-") for row in batches[1:])
    assert [row[2] for row in batches[1:]] == [
        "2026-10-05",
        "2026-09-28",
        "2026-09-21",
        "2026-09-14",
        "2026-09-07",
    ]
    months = client.get("/submissions/funnel.csv?by=month").text
    assert "2026-09" in months
    assert client.get("/submissions/funnel.csv?by=year").status_code == 404


def test_a_batch_receipt_charts_its_own_funnel(client: TestClient) -> None:
    sign_in(client, "bank-a-ops")
    first = re.search(r'href="/submissions/(\d+)">#', client.get("/submissions").text)
    assert first
    page = client.get(f"/submissions/{first.group(1)}").text
    assert "本批次的修复漏斗" in page and re.search(
        r"<desc id=\"batch-funnel-desc\">提交 7，修复 4，派送 3，联系上 2，调解成功 1</desc>", page
    )
