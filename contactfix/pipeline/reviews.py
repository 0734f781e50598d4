"""The review queue: links the model is unsure of, and people's word on them, kept across runs.

:func:`review_queue` lists stored links whose probability lies in the uncertain band
(:data:`REVIEW_BAND`) and that nobody has decided; :func:`decide` keeps a decision
(:class:`~contactfix.db.review_models.LinkReview`) and applies it to the stored link at once (same:
probability 1; not same: the link is deleted). Every later run scores the pair again, and
:func:`apply_reviews` puts the decision back over the model's probability before links are kept, so
no run undoes it. Identities follow at the next regrouping that includes the pair's records (a full
run, or a change to one of them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, delete, select, update
from sqlalchemy.orm import Session, aliased

from contactfix.db.audit import record_audit
from contactfix.db.identity_models import RecordLink
from contactfix.db.models import Organization, SourceRecord
from contactfix.db.review_models import LinkReview
from contactfix.errors import NotFound
from contactfix.pipeline.links import ScoredLinks

__all__ = ["REVIEW_BAND", "ReviewPair", "apply_reviews", "decide", "decisions", "review_queue"]

# Links at or above the match threshold but below this are the model's doubts: people decide them.
REVIEW_BAND = (0.5, 0.9)


def decisions(connection: Connection) -> dict[tuple[int, int], bool]:
    """Every decided pair ``(a, b)`` (a < b) → same party or not."""
    rows = connection.execute(select(LinkReview.record_a_id, LinkReview.record_b_id, LinkReview.same))
    return {(int(a), int(b)): bool(same) for a, b, same in rows}


def apply_reviews(links: ScoredLinks, decided: Mapping[tuple[int, int], bool]) -> ScoredLinks:
    """``links`` with each decided pair's probability set to 1 (same) or 0 (not same)."""
    if not decided or len(links) == 0:
        return links
    # Links are sorted by (a, b): one binary search per decision, not a pass over millions of links.
    keys = (links.a.astype(np.int64) << 32) | links.b.astype(np.int64)
    pairs = np.asarray(list(decided), dtype=np.int64).reshape(-1, 2)
    wanted = (pairs[:, 0] << 32) | pairs[:, 1]
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    found = keys[at] == wanted
    probability = links.probability.copy()
    probability[at[found]] = np.asarray([1.0 if same else 0.0 for same in decided.values()])[found]
    return ScoredLinks(
        links.a, links.b, np.asarray(probability), links.weights, links.names, links.prior_weight
    )


@dataclass(frozen=True)
class ReviewPair:
    """One uncertain link: its two records (as rows of SourceRecord + organisation name) and why."""

    record_a: Any
    organization_a: str | None
    record_b: Any
    organization_b: str | None
    probability: float
    weights: dict[str, float]


def review_queue(
    session: Session, *, limit: int = 20, band: tuple[float, float] = REVIEW_BAND
) -> list[ReviewPair]:
    """Undecided links with ``band[0] <= probability < band[1]``, the most doubtful (lowest) first."""
    left, right = aliased(SourceRecord), aliased(SourceRecord)
    org_left, org_right = aliased(Organization), aliased(Organization)
    query = (
        select(RecordLink.probability, RecordLink.weights, left, org_left.name, right, org_right.name)
        .join(left, left.id == RecordLink.record_a_id)
        .join(right, right.id == RecordLink.record_b_id)
        .outerjoin(org_left, org_left.id == left.organization_id)
        .outerjoin(org_right, org_right.id == right.organization_id)
        .outerjoin(
            LinkReview,
            and_(
                LinkReview.record_a_id == RecordLink.record_a_id,
                LinkReview.record_b_id == RecordLink.record_b_id,
            ),
        )
        .where(RecordLink.probability >= band[0], RecordLink.probability < band[1], LinkReview.id.is_(None))
        .order_by(RecordLink.probability, RecordLink.id)
        .limit(limit)
    )
    pairs = []
    for probability, weights, a, org_a, b, org_b in session.execute(query):
        parsed = json.loads(weights) if isinstance(weights, str) else dict(weights or {})
        pairs.append(
            ReviewPair(a, org_a, b, org_b, float(probability), {str(k): float(v) for k, v in parsed.items()})
        )
    return pairs


def decide(session: Session, record_a: int, record_b: int, *, same: bool, reviewer: str) -> LinkReview:
    """Keep ``reviewer``'s word on the pair and apply it to its stored link; NotFound without a link."""
    a, b = sorted((int(record_a), int(record_b)))
    link = session.scalar(select(RecordLink).where(RecordLink.record_a_id == a, RecordLink.record_b_id == b))
    if link is None:
        raise NotFound(f"no link between records {a} and {b}")
    review = session.scalar(
        select(LinkReview).where(LinkReview.record_a_id == a, LinkReview.record_b_id == b)
    )
    if review is None:
        review = LinkReview(
            record_a_id=a, record_b_id=b, same=same, probability=link.probability, reviewer=reviewer
        )
        session.add(review)
    else:
        review.same, review.reviewer = same, reviewer
    if same:
        session.execute(update(RecordLink).where(RecordLink.id == link.id).values(probability=1.0))
    else:
        session.execute(delete(RecordLink).where(RecordLink.id == link.id))
    session.flush()
    record_audit(
        session, reviewer, "link.reviewed", "record_link", review.id, record_a=a, record_b=b, same=same
    )
    return review
