"""``contactfix sample``: generated bank and court files with the truth behind them."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contactfix.cli.app import app
from contactfix.errors import ContactfixError
from contactfix.sample.settings import DEFAULT_PROFILE, PROFILES, Range, parse_range, profile_name
from contactfix.sample.writer import MAX_DEBTORS, write_sample


class HeaderStyle(StrEnum):
    """Column names: the canonical English ones or the Chinese ones exports carry."""

    en = "en"
    zh = "zh"


class FileEncoding(StrEnum):
    """Text encoding of bank.csv and court.csv."""

    utf8 = "utf-8"
    utf8_sig = "utf-8-sig"
    gb18030 = "gb18030"


Profile = StrEnum("Profile", {name: name for name in PROFILES})  # type: ignore[misc]

_REALISM = "Realism (each overrides the profile's value)"


def _years(text: str | None, option: str) -> Range | None:
    if text is None:
        return None
    try:
        return parse_range(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _share(value: float | None, option: str) -> float | None:
    if value is not None and not 0 <= value <= 1:
        raise typer.BadParameter(f"must be a share between 0 and 1, not {value}", param_hint=option)
    return value


def _option(message: str) -> str:
    """A settings error with its field names written as the options that set them."""
    for field in PROFILES[DEFAULT_PROFILE].as_dict():
        message = message.replace(field, "--" + field.replace("_", "-"))
    return message


@app.command(
    "sample",
    help="Write DIR/bank.csv (a bank's batch of lost debtors) and DIR/court.csv (a court's party "
    "export, with about as many court-only people as debtors), deterministic for a seed.\n\n"
    "DIR/truth.csv maps every row to its person and says what the row's phone is to them "
    "(source,id,person_id,phone_status,live_phones); DIR/persons.csv gives each person's live "
    "mobiles (person_id,current_phone,live_phones, E.164); DIR/phones.csv every number of a person "
    "with its status (current, bank_lost, stale, landline, relative, employer) and dates; "
    "DIR/settings.json the realism settings used. Benchmarks score against these.\n\n"
    "--profile picks the realism: realistic (default: filings 1-6 years old in any order around "
    "number changes, copied bank numbers, relatives' and employers' numbers, second mobiles, "
    "lost_on dates), clean (the same timing, every number the party's own), harsh (more of "
    "everything), legacy (the generator before these knobs: filings carry the number of their day).",
)
def sample(
    debtors: Annotated[int, typer.Option(min=1, max=MAX_DEBTORS, help="Lost debtors in the bank's batch.")],
    out: Annotated[Path, typer.Option(file_okay=False, help="Folder to write the files to (created).")],
    seed: Annotated[int, typer.Option(help="Same seed, same arguments: byte-identical files.")] = 0,
    headers: Annotated[HeaderStyle, typer.Option(help="Column names of bank.csv and court.csv.")] = (
        HeaderStyle.en
    ),
    encoding: Annotated[FileEncoding, typer.Option(help="Encoding of bank.csv and court.csv.")] = (
        FileEncoding.utf8
    ),
    profile: Annotated[
        Profile, typer.Option(help="Named realism settings; the options below override single knobs.")
    ] = Profile[DEFAULT_PROFILE],
    filing_age_years: Annotated[
        str | None,
        typer.Option(
            metavar="LOW-HIGH",
            rich_help_panel=_REALISM,
            help="How many years before the export court filings are dated, e.g. 1-6 (legacy 0-6).",
        ),
    ] = None,
    change_age_years: Annotated[
        str | None,
        typer.Option(
            metavar="LOW-HIGH|life",
            rich_help_panel=_REALISM,
            help="How many years before the export a lost debtor last changed number, e.g. 0.5-6, "
            "independent of the filings; 'life': anywhere since their first mobile (legacy).",
        ),
    ] = None,
    recorded_lag_years: Annotated[
        str | None,
        typer.Option(
            metavar="LOW-HIGH",
            rich_help_panel=_REALISM,
            help="How long before its filing the number on a filing was taken down, e.g. 0-1; "
            "0 gives the number of the filing's day (legacy).",
        ),
    ] = None,
    copied_bank_number: Annotated[
        float | None,
        typer.Option(
            rich_help_panel=_REALISM,
            help="Share of defendants' filings whose phone the plaintiff copied from its loan file: "
            "for our debtors the number the bank lost them on.",
        ),
    ] = None,
    third_party_number: Annotated[
        float | None,
        typer.Option(
            rich_help_panel=_REALISM,
            help="Share of a person's filings that carry a relative's or the employer's number "
            "(the same ones across their filings).",
        ),
    ] = None,
    employer_share: Annotated[
        float | None,
        typer.Option(
            rich_help_panel=_REALISM, help="Of third-party numbers, the share that are the employer's."
        ),
    ] = None,
    two_live_numbers: Annotated[
        float | None,
        typer.Option(rich_help_panel=_REALISM, help="Share of people with a second live mobile."),
    ] = None,
    lost_on: Annotated[
        float | None,
        typer.Option(
            rich_help_panel=_REALISM,
            help="Share of bank rows with a lost_on date (when the bank lost contact); "
            "0 writes no lost_on column.",
        ),
    ] = None,
) -> None:
    """Generate sample bank and court files with the truth behind them."""
    try:
        settings = PROFILES[profile.value].replace(
            filing_age_years=_years(filing_age_years, "--filing-age-years"),
            recorded_lag_years=_years(recorded_lag_years, "--recorded-lag-years"),
            copied_bank_number=_share(copied_bank_number, "--copied-bank-number"),
            third_party_number=_share(third_party_number, "--third-party-number"),
            employer_share=_share(employer_share, "--employer-share"),
            two_live_numbers=_share(two_live_numbers, "--two-live-numbers"),
            lost_on=_share(lost_on, "--lost-on"),
        )
        if change_age_years is not None and change_age_years.strip().lower() == "life":
            settings = settings.replace_change_age(None)
        elif change_age_years is not None:
            settings = settings.replace_change_age(_years(change_age_years, "--change-age-years"))
    except ValueError as exc:
        raise typer.BadParameter(_option(str(exc))) from None
    try:
        summary = write_sample(out, debtors, seed, headers.value, encoding.value, settings)
    except OSError as exc:
        raise ContactfixError(f"cannot write the sample to {out}: {exc.strerror or exc}") from exc
    table = Table(title=f"sample written to {summary.out_dir}", show_header=True)
    table.add_column("file")
    table.add_column("rows", justify="right")
    table.add_row("bank.csv", f"{summary.bank_rows:,}")
    table.add_row("court.csv", f"{summary.court_rows:,}")
    table.add_row("persons.csv", f"{summary.persons:,}")
    table.add_row("truth.csv", f"{summary.bank_rows + summary.court_rows:,}")
    console = Console()
    console.print(table)
    console.print(
        f"{summary.seconds:.1f} s, {summary.rows_per_second:,.0f} rows/s "
        f"(seed {seed}, profile {profile_name(settings)}, headers {headers.value}, "
        f"encoding {encoding.value})",
        highlight=False,
    )
