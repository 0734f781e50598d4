"""Bank-vs-court test sets written apart from the repair side, with answers true by construction.

``python -m bench.foreign_sets --out DIR --set NAME --debtors N --seed S`` writes

- ``DIR/bank.csv`` — a bank's batch of lost debtors (失联债务人): the numbers in it are the ones that
  failed, never a number the person uses today;
- ``DIR/court.csv`` — a court's party-records export: the debtors' filings (filed 0.3–6 years ago, in any
  order relative to their change of number), co-defendant relatives, plaintiffs, namesakes, strangers;
- ``DIR/answers.csv`` — per debtor reference, every number that appears in the files for that person
  and what it is to them (``current old bank_lost relative employer other_person``), plus the numbers
  they use today even where no file has them; columns ``reference,phone,role,current,in_bank,
  in_court,since,until,note`` (phone in E.164; since/until for the person's own numbers);
- ``DIR/court_rows.csv`` — whose each court.csv data row is (``party_of`` a debtor reference or blank);
- ``DIR/set.json`` — the set's profile, seed and counts.

Each person gets a timeline of numbers (held from, held until, or still held); every file cell is
written from that timeline at some date (a filing knows the number at or a little before its date),
and the answers are read off the same timeline: nothing is inferred afterwards. Only the intake
contract (header names, date and phone spellings in the README/DESIGN) was consulted, so the sets
carry none of the repair side's assumptions. Reference data: ``/work/shared/data`` (see its README).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.foreign_reference import Reference, load_reference
from bench.foreign_world import (
    AS_OF,
    CourtRow,
    CourtWriter,
    Debtor,
    Held,
    Person,
    SetProfile,
    World,
    make_debtors,
    years_ago,
)

__all__ = [
    "PHONE_HEADERS",
    "PROFILES",
    "ROLES",
    "generate",
    "normalise_phone_token",
    "phone_tokens",
]

ROLES = ("current", "old", "bank_lost", "relative", "employer", "other_person")
_ROLE_RANK = {role: at for at, role in enumerate(ROLES)}  # a number's strongest role wins

PROFILES: dict[str, SetProfile] = {
    p.name: p
    for p in (
        SetProfile(
            "court_follows",
            "Filings follow the person's change of number (a filing knows the number of its day, or "
            "of up to 2 years before); the bank is plaintiff in half of them and copies its lost number "
            "into 40% of those; relatives' numbers now and then. UTF-8, Chinese headers, clean values.",
            p_in_court=0.95,
            filings=(0.35, 0.35, 0.2, 0.1),
            dropped_years=(2.5, 9.0),
            p_copy_bank=0.4,
            p_stale=0.2,
        ),
        SetProfile(
            "court_masked",
            "As court_follows, but the court shares IDs masked (350103********1234) on 90% of rows and "
            "blank on 5%: linkage has the name, the ID's ends, the address and the numbers.",
            p_in_court=0.95,
            filings=(0.35, 0.35, 0.2, 0.1),
            dropped_years=(2.5, 9.0),
            p_copy_bank=0.4,
            p_stale=0.2,
            p_masked_id=0.9 / 0.95,  # of the rows not left blank
            p_blank_id=0.05,
        ),
        SetProfile(
            "messy_export",
            "As real exports arrive: GB18030, a title line above the court header, other header words, "
            "dates as 2021年3月5日 / 2021/3/5 / 20210305, traditional names, 15-digit and masked IDs, "
            "+86 / spaces / dashes / full-width digits, landlines, the bank's 单位电话 and 紧急联系人.",
            encoding="gb18030",
            bank_style="cn_messy",
            court_style="cn_messy",
            p_home_landline=0.15,
            p_stale=0.4,
            p_traditional=0.15,
            p_old_id=0.05,
            p_masked_id=0.3,
            p_blank_id=0.05,
            p_bank_employer_phone=0.3,
            p_emergency_contact=0.5,
        ),
        SetProfile(
            "two_numbers",
            "Many people keep two numbers in use; employers' switchboards shared by ~20 people appear "
            "as the debtor's number; mistyped digits; namesakes. English bank headers, court rows with "
            "手机 and 固定电话 columns and several numbers in a cell.",
            bank_style="en",
            court_style="cn_two_columns",
            p_two_live=0.45,
            p_employer_number=0.2,
            employers_per_debtor=0.05,
            p_typo=0.08,
            p_namesake=0.1,
            p_bank_employer_phone=0.3,
        ),
    )
}


# ---------------------------------------------------------------- answers


@dataclass
class Answer:
    reference: str
    phone: str
    role: str
    current: bool
    in_bank: bool = False
    in_court: bool = False
    since: dt.date | None = None
    until: dt.date | None = None
    note: str = ""


class AnswerBook:
    """Per debtor, what each number is to them, read off the timeline that wrote the files."""

    def __init__(self, debtors: list[Debtor]) -> None:
        self.by_reference: dict[str, dict[str, Answer]] = {}
        self.debtors = {d.reference: d for d in debtors}
        for debtor in debtors:
            entries = self.by_reference.setdefault(debtor.reference, {})
            for held in debtor.person.numbers:
                if held.end is None:
                    entries[held.number] = Answer(
                        debtor.reference, held.number, "current", True, since=held.start
                    )

    def role_of(self, debtor: Debtor, number: str) -> tuple[str, str, Held | None]:
        """The role of ``number`` for ``debtor`` (and a note, and the holding when it is theirs)."""
        for held in debtor.person.numbers:
            if held.number == number:
                if held.end is None:
                    return "current", "", held
                return ("bank_lost" if number == debtor.bank_number else "old"), "", held
        for relation, relative in debtor.relatives:
            if any(h.number == number for h in relative.numbers):
                return "relative", relation, None
        if number == debtor.employer.switchboard:
            return "employer", "employer's switchboard", None
        return "other_person", "", None

    def saw(self, reference: str, number: str, where: str, note: str = "", role: str | None = None) -> None:
        """``number`` appears in ``where`` (bank / court) for the debtor ``reference``."""
        debtor = self.debtors[reference]
        found_role, found_note, held = self.role_of(debtor, number)
        role = role or found_role
        entries = self.by_reference[reference]
        answer = entries.get(number)
        if answer is None:
            answer = entries[number] = Answer(
                reference, number, role, role == "current", note=note or found_note
            )
            if held is not None:
                answer.since, answer.until = held.start, held.end
        elif _ROLE_RANK[role] < _ROLE_RANK[answer.role]:
            answer.role, answer.current = role, role == "current"
        if note and note not in answer.note:
            answer.note = f"{answer.note}; {note}" if answer.note else note
        if where == "bank":
            answer.in_bank = True
        else:
            answer.in_court = True

    def rows(self) -> Iterable[Answer]:
        for reference in sorted(self.by_reference):
            entries = self.by_reference[reference].values()
            yield from sorted(entries, key=lambda a: (_ROLE_RANK[a.role], a.phone))


# ---------------------------------------------------------------- writing the exports

_BANK_HEADERS = {
    "cn": [
        "客户编号", "客户姓名", "证件号码", "手机号码", "联系地址", "借款合同编号", "欠款金额(元)",
        "贷款产品",
    ],
    "cn_messy": [
        "序号", "客户号", "客户姓名", "性别", "证件类型", "证件号码", "出生日期", "预留手机号", "单位电话",
        "工作单位", "家庭住址", "借款合同号", "贷款余额（元）", "失联日期", "紧急联系人", "紧急联系人电话",
        "备注",
    ],
    "en": [
        "reference", "name", "id_number", "mobile", "telephone", "address", "contract_no", "balance",
        "product",
    ],
}  # fmt: skip
_COURT_HEADERS = {
    "cn": ["案号", "立案日期", "当事人", "诉讼地位", "证件号码", "联系电话", "送达地址"],
    "cn_messy": [
        "序号", "案号", "案由", "立案时间", "承办法院", "当事人名称", "当事人地位", "证件类型", "证件号码",
        "联系方式", "住所地",
    ],
    "cn_two_columns": ["案号", "收案日期", "姓名", "身份", "公民身份号码", "手机", "固定电话", "住址"],
}  # fmt: skip
PHONE_HEADERS = frozenset(
    {
        "手机号码",
        "预留手机号",
        "单位电话",
        "紧急联系人电话",
        "mobile",
        "telephone",
        "联系电话",
        "联系方式",
        "手机",
        "固定电话",
    }
)
"""Every header under which these sets write phone numbers (contactfix ignores 紧急联系人电话)."""
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


class Formatter:
    """Writes dates, IDs, names and phones the way one set's exports spell them."""

    def __init__(self, profile: SetProfile, rng: random.Random) -> None:
        self.profile, self.rng, self.messy = profile, rng, "messy" in profile.bank_style

    def date(self, day: dt.date, style: str) -> str:
        if style == "cn_messy":
            return self.rng.choice(
                (f"{day.year}年{day.month}月{day.day}日", f"{day.year}/{day.month}/{day.day}",
                 f"{day:%Y%m%d}", day.isoformat(), f"{day:%Y.%m.%d}", f"{day.isoformat()} 00:00:00")
            )  # fmt: skip
        if style in ("en", "cn_two_columns"):
            return f"{day.year}/{day.month}/{day.day}"
        return day.isoformat()

    def phone(self, number: str, style: str) -> str:
        national = number[3:]
        mobile = national.startswith("1")
        if not mobile:
            code_length = 2 if national[0] in "12" else 3
            code, local = "0" + national[:code_length], national[code_length:]
            if style == "cn_messy":
                return self.rng.choice(
                    (f"{code}-{local}", f"({code}){local}", f"{code}{local}", f"{code} {local}")
                )
            return f"{code}-{local}"
        if style != "cn_messy":
            return national
        return self.rng.choice(
            (national, national, f"+86 {national[:3]} {national[3:7]} {national[7:]}",
             f"{national[:3]}-{national[3:7]}-{national[7:]}", f"+86{national}", f"86{national}",
             national.translate(_FULLWIDTH), f"{national[:3]} {national[3:7]} {national[7:]}")
        )  # fmt: skip

    def phones(self, numbers: list[str], style: str) -> str:
        separator = self.rng.choice(("；", "、", "/", ",")) if style != "cn" else "、"
        return separator.join(self.phone(n, style) for n in numbers)

    def id_number(self, person: Person, *, court: bool) -> str:
        rng, p = self.rng, self.profile
        number = person.id_number
        if court and rng.random() < p.p_blank_id:
            return ""
        if court and rng.random() < p.p_masked_id:
            return f"{number[:6]}********{number[-4:]}"
        if person.birth.year < 2000 and rng.random() < p.p_old_id:
            return number[:6] + number[8:17]
        if number.endswith("X") and self.messy and rng.random() < 0.3:
            return number[:-1] + "x"
        return number

    def name(self, person: Person, *, court: bool) -> str:
        chance = self.profile.p_traditional * (1 if court else 0.3)
        return person.name_traditional if self.rng.random() < chance else person.name

    def case_number(self, case: str, style: str) -> str:
        if style != "cn_messy":
            return case
        pick = self.rng.random()
        if pick < 0.2:
            return case.replace("（", "(").replace("）", ")")
        if pick < 0.3:
            return case.replace("（", "〔").replace("）", "〕")
        if pick < 0.35:
            return case.translate(_FULLWIDTH)
        return case


def _write_csv(
    path: Path, encoding: str, header: list[str], rows: Iterable[list[str]], title: str = ""
) -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        if title:
            writer.writerow([title])
        writer.writerow(header)
        writer.writerows(rows)


def _bank_rows(debtors: list[Debtor], fmt: Formatter, book: AnswerBook) -> Iterable[list[str]]:
    style, rng, p = fmt.profile.bank_style, fmt.rng, fmt.profile
    for at, debtor in enumerate(debtors, start=1):
        person = debtor.person
        book.saw(debtor.reference, debtor.bank_number, "bank")
        employer_phone = ""
        if rng.random() < p.p_bank_employer_phone:
            employer_phone = fmt.phone(debtor.employer.switchboard, style)
            book.saw(debtor.reference, debtor.employer.switchboard, "bank")
        mobile = fmt.phone(debtor.bank_number, style)
        id_number = fmt.id_number(person, court=False)
        if style == "cn":
            yield [debtor.reference, person.name, id_number, mobile, person.address, debtor.contract,
                   debtor.amount, debtor.product]  # fmt: skip
        elif style == "en":
            yield [debtor.reference, person.name, id_number, mobile, employer_phone, person.address,
                   debtor.contract, debtor.amount, debtor.product]  # fmt: skip
        else:
            contact_name, contact_phone = "", ""
            if rng.random() < p.p_emergency_contact:
                relation, relative = rng.choice(debtor.relatives)
                contact_name = f"{relative.name}（{relation}）"
                contact_phone = fmt.phone(relative.numbers[0].number, style)
                book.saw(debtor.reference, relative.numbers[0].number, "bank", note="emergency contact")
            gender = "男" if person.gender == "M" else "女"
            id_type = rng.choice(("身份证", "居民身份证"))
            yield [str(at), debtor.reference, fmt.name(person, court=False), gender, id_type, id_number,
                   fmt.date(person.birth, style), mobile, employer_phone, debtor.employer.name,
                   person.address, debtor.contract, debtor.amount, fmt.date(debtor.lost_on, style),
                   contact_name, contact_phone, ""]  # fmt: skip


_CAUSES = ("金融借款合同纠纷", "信用卡纠纷", "民间借贷纠纷", "借款合同纠纷", "追偿权纠纷")


def _court_rows(rows: list[CourtRow], fmt: Formatter) -> Iterable[list[str]]:
    style = fmt.profile.court_style
    for at, row in enumerate(rows, start=1):
        person = row.person
        name = fmt.name(person, court=True) if person is not None else row.name
        id_number = fmt.id_number(person, court=True) if person is not None else ""
        case = fmt.case_number(row.case_number, style)
        filed = fmt.date(row.filed, style)
        if style == "cn":
            yield [case, filed, name, row.role, id_number, fmt.phones(row.phones, style), row.address]
        elif style == "cn_two_columns":
            mobiles = [n for n in row.phones if n[3] == "1"]
            fixed = [n for n in row.phones if n[3] != "1"]
            yield [case, filed, name, row.role, id_number, fmt.phones(mobiles, style),
                   fmt.phones(fixed, style), row.address]  # fmt: skip
        else:
            cause = _CAUSES[sum(map(ord, row.case_number)) % len(_CAUSES)]
            id_type = "居民身份证" if id_number else ""
            yield [str(at), case, cause, filed, row.court, name, row.role, id_type, id_number,
                   fmt.phones(row.phones, style), row.address]  # fmt: skip


def _ordered(rows: list[CourtRow], rng: random.Random) -> list[CourtRow]:
    """Parties grouped by case (plaintiff first, as courts list them), cases in a random order."""
    cases: dict[str, list[CourtRow]] = {}
    for row in rows:
        cases.setdefault(row.case_number, []).append(row)
    order = list(cases)
    rng.shuffle(order)
    kinds = {"plaintiff": 0, "self": 1, "namesake": 1, "stranger": 1, "relative": 2}
    return [row for case in order for row in sorted(cases[case], key=lambda r: kinds[r.party_kind])]


def generate(
    out: Path, set_name: str, debtors: int, seed: int, reference: Reference | None = None
) -> dict[str, object]:
    """Write one set into ``out``; returns its summary (also written as ``out/set.json``)."""
    profile = PROFILES[set_name]
    world = World(profile, seed, reference or load_reference())
    people = make_debtors(world, debtors)
    court = CourtWriter(world)
    for debtor in people:
        court.filings(debtor)
        if world.rng.random() < profile.p_namesake:
            court.namesake(debtor)
    for _ in range(round(debtors * profile.strangers)):
        stranger = world.person()
        stranger.numbers.append(Held(world.mobile(), years_ago(10), None))
        court.stranger_row(stranger, "", "stranger")
    rows = _ordered(court.rows, world.rng)
    for row in rows:
        row.court = court.courts[row.case_number]
    book = AnswerBook(people)
    for row in rows:
        if row.party_of:
            for number in row.phones:
                note = {"namesake": "namesake's number", "relative": "relative's own party row"}.get(
                    row.party_kind, ""
                )
                role = "other_person" if row.party_kind == "namesake" else None
                if (
                    row.party_kind == "self"
                    and row.person
                    and number not in {h.number for h in row.person.numbers}
                ):
                    note = note or _foreign_note(book, row.party_of, number)
                book.saw(row.party_of, number, "court", note=note, role=role)
    fmt = Formatter(profile, world.rng)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(
        out / "bank.csv",
        profile.encoding,
        _BANK_HEADERS[profile.bank_style],
        list(_bank_rows(people, fmt, book)),
    )
    title = (
        f"当事人信息导出（截至{AS_OF.year}年{AS_OF.month}月{AS_OF.day}日）"
        if profile.court_style == "cn_messy"
        else ""
    )
    _write_csv(
        out / "court.csv",
        profile.encoding,
        _COURT_HEADERS[profile.court_style],
        list(_court_rows(rows, fmt)),
        title,
    )
    _write_answers(out / "answers.csv", book)
    with (out / "court_rows.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "case_number", "filed", "party_of", "party_kind", "phones"])
        for at, row in enumerate(rows, start=1):
            phones = ";".join(row.phones)
            writer.writerow(
                [at, row.case_number, row.filed.isoformat(), row.party_of, row.party_kind, phones]
            )
    summary = _summary(profile, seed, people, rows, book)
    (out / "set.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return summary


def _foreign_note(book: AnswerBook, reference: str, number: str) -> str:
    """Why the debtor's own filing lists a number that was never theirs (a relative's, a typo)."""
    debtor = book.debtors[reference]
    role, _, _ = book.role_of(debtor, number)
    if role == "other_person":
        own = [h.number for h in debtor.person.numbers]
        typo_of = next(
            (
                n
                for n in own
                if len(n) == len(number) and sum(a != b for a, b in zip(n, number, strict=True)) <= 2
            ),
            "",
        )
        return f"mistyped {typo_of}" if typo_of else "not theirs"
    return ""


def _write_answers(path: Path, book: AnswerBook) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["reference", "phone", "role", "current", "in_bank", "in_court", "since", "until", "note"]
        )
        for a in book.rows():
            since, until = (day.isoformat() if day else "" for day in (a.since, a.until))
            writer.writerow(
                [
                    a.reference,
                    a.phone,
                    a.role,
                    int(a.current),
                    int(a.in_bank),
                    int(a.in_court),
                    since,
                    until,
                    a.note,
                ]
            )


def _summary(
    profile: SetProfile, seed: int, people: list[Debtor], rows: list[CourtRow], book: AnswerBook
) -> dict[str, object]:
    own = Counter(r.party_kind for r in rows)
    current_in_court = sum(
        any(a.current and a.in_court for a in book.by_reference[d.reference].values()) for d in people
    )
    two_live = sum(len(d.person.current()) > 1 for d in people)
    roles = Counter(a.role for a in book.rows() if a.in_bank or a.in_court)
    return {
        "set": profile.name,
        "seed": seed,
        "as_of": AS_OF.isoformat(),
        "debtors": len(people),
        "court_rows": len(rows),
        "court_rows_by_kind": dict(sorted(own.items())),
        "debtors_with_current_in_court": current_in_court,
        "debtors_with_two_live_numbers": two_live,
        "roles_of_numbers_in_files": {role: roles[role] for role in ROLES},
        "profile": asdict(profile),
    }


# ---------------------------------------------------------------- reading the files back (tests, eval)


def normalise_phone_token(token: str) -> str | None:
    """A phone as these sets write it (+86, spaces, dashes, brackets, full-width) → E.164, else None."""
    digits = "".join(
        ch for ch in token.translate({0xFF10 + d: ord(str(d)) for d in range(10)}) if ch.isdigit()
    )
    if digits.startswith("86") and len(digits) >= 12 and (token.strip().startswith(("+", "86"))):
        digits = digits[2:]
    digits = digits.removeprefix("0")
    return f"+86{digits}" if len(digits) >= 9 else None


def phone_tokens(cell: str) -> list[str]:
    """The numbers in one phone cell of these sets, in E.164."""
    parts = [cell]
    for separator in ("；", "、", "/", ",", ";"):
        parts = [piece for part in parts for piece in part.split(separator)]
    return [number for part in parts if (number := normalise_phone_token(part))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", dest="set_name", choices=sorted(PROFILES), required=True)
    parser.add_argument("--debtors", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    summary = generate(args.out, args.set_name, args.debtors, args.seed)
    shown = {k: v for k, v in summary.items() if k != "profile"}
    print(json.dumps(shown, ensure_ascii=False))


if __name__ == "__main__":
    main()
