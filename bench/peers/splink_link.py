"""Splink 4+/5 on DuckDB as the linkage peer, with the command line of ``contactfix link``.

``python -m bench.peers.splink_link LEFT.csv [RIGHT.csv] --out PAIRS.csv [--threshold P] [--model M]``
writes ``left_id,right_id,probability`` for every pair at or above P (0 writes every candidate pair).

Models:

- ``generic`` (default): one model whose settings follow from which canonical columns both inputs have, the
  same for every dataset, as ours is. Comparisons, blocking rules and training use Splink's documented
  library comparisons and its documented training sequence (prior from deterministic rules, u by random
  sampling, m by expectation maximisation in two sessions). Values are cleaned in SQL first (case, spaces,
  dates to YYYYMMDD, phones to their last 9 digits), as Splink's docs ask of its users.
- ``febrl4-docs`` / ``febrl3-docs``: the settings and training of the Splink docs' FEBRL examples
  (``docs/demos/examples/duckdb/febrl4`` and ``febrl3``), for FEBRL's original columns (``raw_*.csv``).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import duckdb
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from bench.datasets import FEBRL_COLUMNS
from matchers.normalize import CANONICAL_COLUMNS  # the `contactfix link` contract, defined once

DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%d/%m/%Y")
LARGE_INPUT = 200_000  # above this many rows on a side, EM on birth date alone makes too many pairs
Rule = Any  # a Splink blocking rule: block_on(...) or an SQL string
LinkType = Literal["link_only", "dedupe_only"]


@dataclass(frozen=True)
class Training:
    """Splink's documented training sequence, with the rules that suit the model."""

    deterministic_rules: list[Rule]
    recall: float
    u_max_pairs: float
    u_seed: int
    em_rules: list[Rule]
    em_without_term_frequencies: bool


@dataclass(frozen=True)
class Model:
    """A Splink settings object, how to train it, and the SQL that cleans one input into its columns."""

    settings: SettingsCreator
    training: Training
    clean_sql: str  # a select list over the raw input table


# --- the generic model --------------------------------------------------------------------------------


def _text(column: str) -> str:
    return f"nullif(trim(regexp_replace(lower({column}), '\\s+', ' ', 'g')), '')"


def generic_clean_sql(columns: frozenset[str]) -> str:
    """One SELECT list: each canonical column present, normalised the same way on both sides."""
    formats = ", ".join(f"'{f}'" for f in DATE_FORMATS)
    expressions = {
        "birth_date": (
            f"coalesce(strftime(try_strptime(trim(birth_date), [{formats}]), '%Y%m%d'), "
            "nullif(regexp_replace(birth_date, '[^0-9]', '', 'g'), ''))"
        ),
        "phone": "nullif(right(regexp_replace(phone, '[^0-9]', '', 'g'), 9), '')",
        "id_number": "nullif(upper(regexp_replace(id_number, '[\\s-]', '', 'g')), '')",
        "gender": (
            "case when trim(lower(gender)) in ('m', 'male', '男', '1') then 'm' "
            "when trim(lower(gender)) in ('f', 'female', '女', '2') then 'f' end"
        ),
    }
    select = ["cast(id as varchar) as id"]
    for column in CANONICAL_COLUMNS:
        if column in columns:
            select.append(f"{expressions.get(column, _text(column))} as {column}")
    if {"given_name", "family_name"} <= columns:
        select.append(
            f"nullif(concat_ws(' ', {_text('given_name')}, {_text('family_name')}), '') as given_family"
        )
    return ",\n  ".join(select)


def _location(columns: frozenset[str]) -> str | None:
    """The most specific place column; one only, as the others mostly repeat what it says."""
    return next((c for c in ("postcode", "city", "region") if c in columns), None)


def generic_comparisons(columns: frozenset[str]) -> list[Any]:
    comparisons: list[Any] = []
    if {"given_name", "family_name"} <= columns:
        comparisons.append(
            cl.ForenameSurnameComparison(
                "given_name", "family_name", forename_surname_concat_col_name="given_family"
            )
        )
    else:
        comparisons += [cl.NameComparison(c) for c in ("given_name", "family_name") if c in columns]
    if "name" in columns:
        comparisons.append(cl.NameComparison("name"))
    if "birth_date" in columns:
        comparisons.append(
            cl.DateOfBirthComparison("birth_date", input_is_string=True, datetime_format="%Y%m%d")
        )
    for column in ("id_number", "phone"):
        if column in columns:
            comparisons.append(cl.DamerauLevenshteinAtThresholds(column, [1, 2]))
    if "email" in columns:
        comparisons.append(cl.EmailComparison("email"))
    if "gender" in columns:
        comparisons.append(cl.ExactMatch("gender"))
    if "address" in columns:
        comparisons.append(cl.JaroWinklerAtThresholds("address", [0.95, 0.85]))
    if location := _location(columns):
        comparisons.append(cl.ExactMatch(location).configure(term_frequency_adjustments=True))
    return comparisons


def _name_rules(columns: frozenset[str]) -> list[Rule]:
    rules: list[Rule] = []
    if {"given_name", "family_name"} <= columns:
        rules.append(block_on("given_name", "family_name"))
        rules.append("l.given_name = r.family_name and l.family_name = r.given_name")
    if "name" in columns:
        rules.append(block_on("name"))
    return rules


def generic_blocking_rules(columns: frozenset[str]) -> list[Rule]:
    """Exact identifiers, the full name, birth date with a name's first letter, place with a name, and
    (for split names) the first two letters of each name with the birth year."""
    rules: list[Rule] = [block_on(c) for c in ("id_number", "phone", "email") if c in columns]
    rules += _name_rules(columns)
    initials = [c for c in ("family_name", "name", "given_name") if c in columns]
    if "birth_date" in columns:
        rules += [block_on("birth_date", f"substr({c}, 1, 1)") for c in initials] or [block_on("birth_date")]
    location, surname = _location(columns), next((c for c in ("family_name", "name") if c in columns), None)
    if location and surname:
        rules.append(block_on(location, surname))
    if {"given_name", "family_name", "birth_date"} <= columns:  # name prefixes and birth year, as in the docs
        rules.append(
            block_on("substr(given_name, 1, 2)", "substr(family_name, 1, 2)", "substr(birth_date, 1, 4)")
        )
    return rules


def generic_model(columns: frozenset[str], link_type: LinkType, sizes: list[int]) -> Model:
    """The one generic model: its shape depends only on which canonical columns exist (and, for the EM
    blocking rule and the u sample, on the input size)."""
    largest_input, total_rows = max(sizes), sum(sizes)
    if not columns:
        raise SystemExit("no canonical columns in common between the inputs")
    names = _name_rules(columns)[:1]
    deterministic: list[Rule] = [block_on("id_number")] if "id_number" in columns else []
    if names and "birth_date" in columns:
        name_columns = ("given_name", "family_name") if "given_name" in columns else ("name",)
        deterministic.append(block_on(*[c for c in name_columns if c in columns], "birth_date"))
    if not deterministic:
        deterministic = _name_rules(columns)[:1] or [block_on(sorted(columns)[0])]
    em_rules: list[Rule] = list(names)
    if "birth_date" in columns:
        location = _location(columns)
        if largest_input > LARGE_INPUT and location:
            em_rules.append(block_on("birth_date", location))
        else:
            em_rules.append(block_on("birth_date"))
    elif "id_number" in columns:
        em_rules.append(block_on("id_number"))
    settings = SettingsCreator(
        unique_id_column_name="id",
        link_type=link_type,
        comparisons=generic_comparisons(columns),
        blocking_rules_to_generate_predictions=generic_blocking_rules(columns),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    # Splink's docs recommend 1e7 or more sampled pairs for u. Sampling costs the same per pair whatever the
    # input size (on two cores ~1.5 s per 1e6 pairs of FEBRL, ~14 s of the Chinese sets with their long
    # addresses), so small inputs sample fewer: 100 pairs per record, at least 1e6.
    u_max_pairs = float(min(10**7, max(10**6, 100 * total_rows)))
    training = Training(deterministic, 0.7, u_max_pairs, 1, em_rules, em_without_term_frequencies=True)
    return Model(settings, training, generic_clean_sql(columns))


# --- the Splink docs' FEBRL example models ------------------------------------------------------------


def _febrl_clean_sql() -> str:
    trimmed = [f"nullif(trim(cast({c} as varchar)), '') as {c}" for c in FEBRL_COLUMNS]
    return ",\n  ".join(["cast(id as varchar) as id", *trimmed])


def febrl4_docs_model() -> Model:
    """The 'detailed' model of Splink's febrl4 example: link A to B."""
    blocking: list[Rule] = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=blocking,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d", invalid_dates_as_null=True
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True),
        ],
    )
    training = Training(
        deterministic_rules=[block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
        recall=0.8,
        u_max_pairs=1e6,
        u_seed=1,
        em_rules=[block_on("date_of_birth"), block_on("postcode")],
        em_without_term_frequencies=True,
    )
    return Model(settings, training, _febrl_clean_sql())


def febrl3_docs_model() -> Model:
    """The model of Splink's febrl3 example: deduplication."""
    settings = SettingsCreator(
        unique_id_column_name="id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("soc_sec_id"),
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("postcode"),
        ],
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
    )
    training = Training(
        deterministic_rules=[
            block_on("soc_sec_id"),
            block_on("given_name", "surname", "date_of_birth"),
            "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth",
        ],
        recall=0.9,
        u_max_pairs=1e6,
        u_seed=2,
        em_rules=[block_on("date_of_birth"), block_on("postcode")],
        em_without_term_frequencies=False,
    )
    return Model(settings, training, _febrl_clean_sql())


# --- running ------------------------------------------------------------------------------------------


def csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return next(csv.reader(f))


def load_input(con: duckdb.DuckDBPyConnection, path: Path, table: str, clean_sql: str) -> int:
    con.execute(
        f"create table {table} as select\n  {clean_sql}\nfrom read_csv(?, header = true, all_varchar = true)",
        [str(path)],
    )
    return int(con.execute(f"select count(*) from {table}").fetchall()[0][0])


def choose_model(name: str, paths: list[Path]) -> Model | None:
    if name == "febrl4-docs":
        return febrl4_docs_model()
    if name == "febrl3-docs":
        return febrl3_docs_model()
    if name != "generic":
        raise SystemExit(f"unknown model {name!r}")
    return None


def train(linker: Linker, training: Training) -> None:
    linker.training.estimate_probability_two_random_records_match(
        training.deterministic_rules, recall=training.recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=training.u_max_pairs, seed=training.u_seed)
    for rule in training.em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=training.em_without_term_frequencies
        )


def link(paths: list[Path], out: Path, threshold: float, model_name: str) -> dict[str, Any]:
    """Train the model on the inputs, predict, write the pairs; returns counts for the log."""
    started = time.perf_counter()
    con = duckdb.connect()
    model = choose_model(model_name, paths)
    if model is None:
        headers = [set(csv_header(p)) for p in paths]
        columns = frozenset(c for c in CANONICAL_COLUMNS if all(c in h for h in headers))
        link_type: LinkType = "link_only" if len(paths) == 2 else "dedupe_only"
        clean_sql = generic_clean_sql(columns)
    else:
        columns, link_type, clean_sql = frozenset(), cast(LinkType, model.settings.link_type), model.clean_sql
    tables = ["left_input", "right_input"][: len(paths)]
    sizes = [load_input(con, p, t, clean_sql) for p, t in zip(paths, tables, strict=True)]
    if model is None:
        model = generic_model(columns, link_type, sizes)
    db_api = DuckDBAPI(connection=con)
    frames = [db_api.register(t, dataset_display_name=t.removesuffix("_input")) for t in tables]
    linker = Linker(frames if len(frames) > 1 else frames[0], model.settings, log_level=logging.WARNING)
    train(linker, model.training)
    predictions = linker.inference.predict(threshold_match_probability=threshold if threshold > 0 else None)
    if len(paths) == 2:
        pair = (
            "case when source_dataset_l = 'left' then id_l else id_r end as left_id, "
            "case when source_dataset_l = 'left' then id_r else id_l end as right_id"
        )
    else:
        pair = "id_l as left_id, id_r as right_id"
    where = f"where match_probability >= {threshold!r}" if threshold > 0 else ""
    con.execute(
        f"copy (select {pair}, match_probability as probability from {predictions.physical_name} {where}) "
        f"to '{out}' (header, delimiter ',')"
    )
    written = con.execute(f"select count(*) from read_csv('{out}', header = true)").fetchall()
    return {
        "model": model_name,
        "columns": sorted(columns),
        "rows": sizes,
        "pairs": int(written[0][0]),
        "seconds": round(time.perf_counter() - started, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Link or deduplicate canonical CSV files with Splink (DuckDB)."
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="CSV", help="LEFT.csv [RIGHT.csv]")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--model", default="generic", choices=("generic", "febrl4-docs", "febrl3-docs"))
    args = parser.parse_args(argv)
    if len(args.inputs) > 2:
        parser.error("at most two input files")
    summary = link(list(args.inputs), args.out, args.threshold, args.model)
    print(json.dumps(summary), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
