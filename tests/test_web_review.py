"""The review queue: uncertain links side by side (masked), 是同一人 / 不是同一人, and the decision
kept by every later run, full or incremental."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from test_web_pages import csrf_of, sign_in
from web_support import build_review_world

from contactfix.api import create_app
from contactfix.db.identity_models import RecordLink
from contactfix.db.review_models import LinkReview
from contactfix.pipeline.reconcile import reconcile
from contactfix.pipeline.reviews import REVIEW_BAND, review_queue
from contactfix.settings import load_settings

_PAIR = re.compile(r'name="record_a" value="(\d+)">\s*<input type="hidden" name="record_b" value="(\d+)"')


@pytest.fixture
def engine(sqlite_url: str, tmp_path: Path) -> Iterator[Engine]:
    built = build_review_world(sqlite_url, tmp_path / "sample")
    yield built
    built.dispose()


@pytest.fixture
def client(engine: Engine, sqlite_url: str) -> Iterator[TestClient]:
    settings = load_settings(environ={}, database_url=sqlite_url, web_secure_cookies=False,
                             web_session_secret="s" * 40)  # fmt: skip
    with TestClient(create_app(settings, engine), follow_redirects=False) as client:
        yield client


def _link(engine: Engine, a: int, b: int) -> float | None:
    with Session(engine) as session:
        found = session.scalar(
            select(RecordLink.probability).where(RecordLink.record_a_id == a, RecordLink.record_b_id == b)
        )
        return None if found is None else float(found)


def test_decisions_are_kept_across_runs(client: TestClient, engine: Engine) -> None:
    sign_in(client, "ops")
    page = client.get("/review")
    assert page.status_code == 200 and "是同一人" in page.text and "不是同一人" in page.text
    assert not re.search(r"\d{17}[\dX]|1[3-9]\d{9}", page.text), "an unmasked ID or phone"
    # Which fields agree and which differ, named in Chinese (the model compared the full values).
    assert re.search(
        r'<span class="(agree|differ)">(姓|名|证件号码|出生日期|电话|地址|性别)(相符|不符) [+-]', page.text
    )
    pairs = [(int(a), int(b)) for a, b in _PAIR.findall(page.text)]
    assert len(pairs) >= 2
    (a, b), (c, d) = pairs[:2]
    assert all(REVIEW_BAND[0] <= (_link(engine, *pair) or 0) < REVIEW_BAND[1] for pair in pairs)
    token = csrf_of(client, "/review")
    assert (
        client.post(
            "/review", data={"record_a": a, "record_b": b, "same": "true", "csrf_token": token}
        ).status_code
        == 303
    )
    assert (
        client.post(
            "/review", data={"record_a": c, "record_b": d, "same": "false", "csrf_token": token}
        ).status_code
        == 303
    )
    assert _link(engine, a, b) == 1.0 and _link(engine, c, d) is None
    after = client.get("/review").text
    assert "已记录" in after
    assert (a, b) not in [(int(x), int(y)) for x, y in _PAIR.findall(after)]
    # A full run scores every pair again; the decisions stand over the model's probability.
    reconcile(engine, full=True, repair=False)
    assert _link(engine, a, b) == 1.0 and _link(engine, c, d) is None
    with Session(engine) as session:
        undecided = {(p.record_a.id, p.record_b.id) for p in review_queue(session, limit=100)}
        assert (a, b) not in undecided and (c, d) not in undecided
        kept = session.scalars(select(LinkReview).order_by(LinkReview.id)).all()
        assert [(r.record_a_id, r.record_b_id, r.same, r.reviewer) for r in kept] == [
            (a, b, True, "ops"),
            (c, d, False, "ops"),
        ]
    # And so does an incremental one.
    reconcile(engine, repair=False)
    assert _link(engine, a, b) == 1.0 and _link(engine, c, d) is None


def test_the_queue_is_an_operators_and_needs_the_csrf_token(client: TestClient) -> None:
    sign_in(client, "ops")
    page = client.get("/review")
    (a, b), *_ = _PAIR.findall(page.text)
    assert client.post("/review", data={"record_a": a, "record_b": b, "same": "true"}).status_code == 403
    token = csrf_of(client, "/review")
    missing = client.post("/review", data={"record_a": 1, "record_b": 1, "same": "true", "csrf_token": token})
    assert missing.status_code == 404


def test_apply_reviews_sets_only_the_decided_pairs() -> None:
    import numpy as np

    from contactfix.pipeline.links import ScoredLinks
    from contactfix.pipeline.reviews import apply_reviews

    a, b = np.array([5, 1, 3, 1], dtype=np.int64), np.array([9, 2, 4, 7], dtype=np.int64)
    links = ScoredLinks(
        a, b, np.array([0.6, 0.7, 0.8, 0.55]), np.zeros((4, 1), dtype=np.float32), ("x",), 0.0
    )
    decided = apply_reviews(links, {(1, 7): True, (3, 4): False, (2, 8): True, (9, 10): False})
    assert list(zip(decided.a.tolist(), decided.b.tolist(), decided.probability.tolist(), strict=True)) == [
        (1, 2, 0.7), (1, 7, 1.0), (3, 4, 0.0), (5, 9, 0.6),
    ]  # fmt: skip
    assert len(decided.at_least(0.5)) == 3 and apply_reviews(links, {}) is links
