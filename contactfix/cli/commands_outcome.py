"""The repair loop on the command line: ``contactfix outcome`` (what mediators and dialers found),
``contactfix calibrate`` (refit confidence on those outcomes) and ``contactfix report`` (the funnel).

``outcome`` takes one report (``REFERENCE --org ORG --contact E164 --result R``) or a dialer's export
(``--file FILE.csv --org ORG``, columns ``reference,contact,result,reported_at,note``). A bad row is
reported with its row number and the rest are kept; exit code 2 when anything was refused. Nothing
printed holds an unmasked phone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from contactfix.cli.app import app, configured_session, fail
from contactfix.errors import ContactfixError, NotFound

_RESULTS_HELP = "reached, wrong_number, no_answer, objected, promised_to_pay, refused_to_pay or mediated"
_FILE_COLUMNS = ("reference", "contact", "result", "reported_at", "note")
# A dialer's export is a few thousand rows a day; anything far larger is not one.
_MAX_FILE_BYTES = 50 * 1024 * 1024


def _organization_id(session: Session, org: str) -> int:
    from contactfix.db.models import Organization

    found = session.scalar(select(Organization.id).where(Organization.name == org.strip()))
    if found is None:
        raise NotFound(f"no organisation named {org.strip()[:100]!r}")
    return int(found)


def _debtor_id(session: Session, organization_id: int, reference: str) -> int:
    from contactfix.db.models import Debtor

    query = select(Debtor.id).where(
        Debtor.organization_id == organization_id, Debtor.reference == reference.strip()
    )
    found = session.scalar(query)
    if found is None:
        raise NotFound(f"no debtor with reference {reference.strip()[:100]!r} in this organisation")
    return int(found)


@app.command("outcome")
def outcome_command(
    reference: Annotated[
        str | None, typer.Argument(help="The debtor's reference in the bank's batch (omit with --file).")
    ] = None,
    org: Annotated[str, typer.Option("--org", help="The bank whose debtor it is.")] = "",
    contact: Annotated[str, typer.Option("--contact", help="The number dialled (E.164 or national).")] = "",
    result: Annotated[str, typer.Option("--result", help=f"What happened: {_RESULTS_HELP}.")] = "",
    note: Annotated[
        str | None, typer.Option("--note", help="A short note (kept, shown to operators).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="A dialer's export: CSV with reference,contact,result,reported_at,note."),
    ] = None,
    reporter: Annotated[str, typer.Option("--reporter", help="Who reports it (for the audit log).")] = "cli",
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as one line of JSON.")
    ] = False,
) -> None:
    """Record what a mediator or a dialer found when they used a debtor's contact.

    The next reconciliation re-ranks the debtor: a wrong number drops to the bottom and the next
    candidate is dispatched; an objection stops all contact with the debtor.
    """
    from contactfix.pipeline.outcomes import record_outcome

    if not org.strip():
        raise typer.BadParameter("say whose debtor it is", param_hint="--org")
    if file is not None:
        if reference is not None:
            raise typer.BadParameter("give a REFERENCE or --file, not both", param_hint="--file")
        try:
            _outcome_file(file, org, reporter, json_output)
        except ContactfixError as exc:
            raise fail(exc, json_output) from None
        return
    if reference is None or not contact or not result:
        raise typer.BadParameter("REFERENCE, --contact and --result are needed (or --file)")
    try:
        with configured_session() as session, session.begin():
            debtor_id = _debtor_id(session, _organization_id(session, org), reference)
            stored = record_outcome(
                session, debtor_id=debtor_id, contact=contact, result=result, reporter=reporter, note=note
            )
            summary = {"outcome_id": stored.id, "reference": reference.strip(), "result": stored.result}
    except ContactfixError as exc:
        raise fail(exc, json_output) from None
    if json_output:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        Console(highlight=False).print(f"recorded {summary['result']} for {summary['reference']}")


@dataclass(frozen=True, slots=True)
class _Row:
    number: int  # the row's line in the file, the header being row 1
    fields: dict[str, str]


def _read_rows(path: Path) -> Iterator[_Row]:
    """The rows of a dialer's CSV (UTF-8, with or without BOM, or GB18030), header names lower-cased."""
    if not path.is_file():
        raise NotFound(f"no file {path}")
    if path.stat().st_size > _MAX_FILE_BYTES:
        raise ContactfixError(f"{path.name} is over {_MAX_FILE_BYTES // 2**20} MB: not a dialer's export")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    missing = [name for name in _FILE_COLUMNS[:3] if name not in header]
    if missing:
        raise ContactfixError(
            f"{path.name} lacks the column(s) {', '.join(missing)}; expected {','.join(_FILE_COLUMNS)}"
        )
    for number, values in enumerate(reader, start=2):
        if any(value.strip() for value in values):
            yield _Row(number, {name: value for name, value in zip(header, values, strict=False)})


def _reported_at(text: str) -> dt.datetime | None:
    """A dialer's time: ISO 8601; without a zone it is China time (the dialers are in China)."""
    text = text.strip()
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise ContactfixError(
            f"reported_at {text[:30]!r} is not a date and time like 2026-12-07 10:30"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _outcome_file(path: Path, org: str, reporter: str, json_output: bool) -> None:
    from contactfix.pipeline.outcomes import record_outcome

    recorded, refused = 0, []
    with configured_session() as session, session.begin():
        organization_id = _organization_id(session, org)
        for row in _read_rows(path):
            try:
                with session.begin_nested():
                    record_outcome(
                        session,
                        debtor_id=_debtor_id(session, organization_id, row.fields.get("reference", "")),
                        contact=row.fields.get("contact", ""),
                        result=row.fields.get("result", ""),
                        reported_at=_reported_at(row.fields.get("reported_at", "")),
                        note=row.fields.get("note") or None,
                        reporter=f"{reporter}:{path.name}"[:100],
                    )
                recorded += 1
            except ContactfixError as exc:
                refused.append({"row": row.number, "reason": str(exc)})
    if json_output:
        print(json.dumps({"recorded": recorded, "refused": refused}, ensure_ascii=False))
    else:
        console = Console(highlight=False)
        console.print(f"{path.name}: {recorded} outcomes recorded, {len(refused)} rows refused")
        for problem in refused:
            console.print(f"  row {problem['row']}: {problem['reason']}")
    if refused:
        raise typer.Exit(2)


@app.command("report")
def report_command(
    org: Annotated[str | None, typer.Option("--org", help="One bank only.")] = None,
    submission: Annotated[
        int | None, typer.Option("--submission", help="One submission (batch) only.")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the funnel as one line of JSON.")
    ] = False,
) -> None:
    """The funnel: submitted → accepted → repaired → dispatched → delivered → reached → mediated."""
    from contactfix.pipeline.report import funnel

    try:
        with configured_session() as session:
            organization_id = _organization_id(session, org) if org else None
            counts = funnel(session, organization_id=organization_id, submission_id=submission)
    except ContactfixError as exc:
        raise fail(exc, json_output) from None
    if json_output:
        print(json.dumps(counts))
        return
    print_funnel(Console(highlight=False), counts)


_LABELS = {
    "submitted": "提交 submitted (rows)",
    "accepted": "受理 accepted (rows)",
    "repaired_records": "修复·记录 repaired from records",
    "repaired_carrier": "修复·运营商 repaired by carrier",
    "dispatched": "已推送 dispatched",
    "delivered": "已送达 delivered",
    "reached": "接通本人 reached",
    "wrong_number": "号码错误 wrong number",
    "objected": "拒绝联系 objected",
    "mediated": "调解成功 mediated",
}


def print_funnel(console: Console, counts: dict[str, int]) -> None:
    """The funnel as a two-column table, each stage with its share of the accepted debtors."""
    table = Table(title="修复漏斗 repair funnel", show_header=True)
    table.add_column("stage")
    table.add_column("count", justify="right")
    table.add_column("of accepted", justify="right")
    accepted = counts.get("accepted") or 0
    for key, label in _LABELS.items():
        share = f"{counts[key] / accepted:.1%}" if accepted and key not in ("submitted", "accepted") else ""
        table.add_row(label, f"{counts[key]:,}", share)
    console.print(table)


@app.command("calibrate")
def calibrate_command(
    min_outcomes: Annotated[
        int | None,
        typer.Option("--min-outcomes", help="Labelled contacts needed (default: calibration_min_outcomes)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Fit and score, but keep nothing.")] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as one line of JSON.")
    ] = False,
) -> None:
    """Refit contact confidence on reported outcomes (reached = right number, wrong number = wrong).

    One debtor in five is held out: the fit becomes the active model only if its Brier score on them
    beats the prior's. Every fit is kept with its data count. Too few outcomes: the prior stands.
    """
    from contactfix.pipeline.calibration import calibrate, weights_table
    from contactfix.settings import get_settings

    needed = min_outcomes if min_outcomes is not None else get_settings().calibration_min_outcomes
    try:
        with configured_session() as session, session.begin():
            result = calibrate(session, min_outcomes=needed, store=not dry_run)
            if dry_run:
                session.rollback()
    except ContactfixError as exc:
        raise fail(exc, json_output) from None
    summary = {
        "model_id": result.model_id, "active": result.active, "fitted_on": result.fitted_on,
        "held_out": result.held_out, "brier_prior": result.brier_prior, "brier_fitted": result.brier_fitted,
        "weights": result.weights.as_dict(), "reliability": result.reliability,
    }  # fmt: skip
    if json_output:
        print(json.dumps(summary))
        return
    console = Console(highlight=False)
    verdict = "now the active model" if result.active else "not better than the prior: the prior stands"
    console.print(
        f"fitted on {result.fitted_on} labelled contacts, scored on {result.held_out} held out: "
        f"Brier {result.brier_fitted} (prior {result.brier_prior}) — {verdict}"
    )
    weights = Table(title="weights (logit)")
    for column in ("feature", "prior", "fitted"):
        weights.add_column(column, justify="left" if column == "feature" else "right")
    for name, prior, fitted in weights_table(result.weights.as_dict()):
        weights.add_row(name, f"{prior:+.2f}", f"{fitted:+.2f}")
    console.print(weights)
    bins = Table(title="reliability on held-out contacts")
    for column in ("predicted range", "contacts", "predicted", "observed"):
        bins.add_column(column, justify="right")
    for row in result.reliability:
        bins.add_row(f"{row['low']:.1f}–{row['high']:.1f}", str(row["contacts"]), f"{row['predicted']:.2f}",
                     f"{row['observed']:.2f}")  # fmt: skip
    console.print(bins)
