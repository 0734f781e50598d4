"""Encryption at rest: no ID number or mobile of the input in clear in the database file, PostgreSQL's
tables, Redis or the logs after the pipeline; sealed values keep lookups working; keys rotate.

The needles are read from the input files themselves (every 18- and 15-digit run and every mobile,
national and +86), and each search first proves it can find them: the same search over the opened
values, or over the input, finds them, so a search that finds nothing is not a search that cannot.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from dispatch_support import WORKDAY_NOON, add_mediators, outbox_channels
from sqlalchemy import Engine, MetaData, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from contactfix.cli import app, load_commands
from contactfix.db.dispatch_models import Dispatch, Mediator
from contactfix.db.engine import make_engine
from contactfix.db.identity_models import ContactRanking
from contactfix.db.migrate import upgrade_database
from contactfix.db.models import Base, Contact, Debtor, Sealed, SourceRecord
from contactfix.demo import make_folder, run_demo
from contactfix.dispatch.ratelimit import RateLimiter
from contactfix.dispatch.relay import relay
from contactfix.dispatch.sender import DispatchSender, SenderSettings
from contactfix.errors import IntakeError
from contactfix.intake.service import import_court_export, submit_bank_batch
from contactfix.pipeline.outcomes import record_outcome
from contactfix.pipeline.reconcile import reconcile
from contactfix.pipeline.repair import repair_contacts
from contactfix.policy import load_profile
from contactfix.privacy import DataKey, Keyring, keyring_for, using_keyring
from contactfix.privacy.keyring import KeyringError, write_key_file
from contactfix.privacy.respelling import is_respelling, respelling
from contactfix.privacy.rotation import (
    SEALED_COLUMNS,
    key_census,
    reseal,
    rotate_keys,
    writers_excluded,
    writing_sealed,
)
from contactfix.privacy.sealing import FieldCipher, SealError, field_cipher, is_sealed, sealed_key_id
from contactfix.sample import AS_OF, write_sample

load_commands(["keys"])

AS_OF_DATE = dt.date.fromordinal(AS_OF)
_ID18 = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_ID15 = re.compile(r"(?<!\d)\d{15}(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86)?(1[3-9]\d{9})(?!\d)")


def input_needles(*files: Path) -> set[str]:
    """Every 18- and 15-digit ID and every mobile of the input files, mobiles national and +86."""
    text = "".join(path.read_text(encoding="utf-8") for path in files)
    needles = set(_ID18.findall(text)) | {n.upper() for n in _ID18.findall(text)} | set(_ID15.findall(text))
    for mobile in _MOBILE.findall(text):
        needles |= {mobile, "+86" + mobile}
    return needles


def bytes_hits(paths: list[Path], needles: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        data = path.read_bytes()
        hits = sorted(n for n in needles if n.encode() in data)
        if hits:
            found[path.name] = hits
    return found


def database_files(database: Path) -> list[Path]:
    """The SQLite file and its companions (-wal, -shm, -journal) as they are on disk."""
    return [p for p in database.parent.iterdir() if p.name.startswith(database.name) and p.is_file()]


# --- the cipher ---------------------------------------------------------------------------------------


def _keyring() -> Keyring:
    return Keyring(DataKey(secrets.token_bytes(32)), source="test")


def test_sealing_is_deterministic_per_key_and_opens_by_key_id() -> None:
    ring, other = _keyring(), _keyring()
    cipher, other_cipher = FieldCipher(ring), FieldCipher(other)
    sealed = cipher.seal("+8613912345678")
    assert sealed == cipher.seal("+8613912345678") != cipher.seal("+8613912345679")
    assert is_sealed(sealed) and sealed_key_id(sealed) == ring.key_id
    assert "13912345678" not in sealed
    assert cipher.open(sealed) == "+8613912345678"
    assert other_cipher.seal("+8613912345678") != sealed  # another key, another text
    with pytest.raises(SealError) as caught:
        other_cipher.open(sealed)  # a key this keyring does not hold
    assert ring.key_id in str(caught.value) and "139" not in str(caught.value)
    tampered = sealed[:-6] + ("AAAA" if sealed[-6:-2] != "AAAA" else "BBBB") + sealed[-2:]
    with pytest.raises(SealError):
        cipher.open(tampered)
    assert cipher.open("110105194912310029") == "110105194912310029"  # stored before encryption
    assert cipher.open(cipher.seal("福建省福州市鼓楼区五四路 1 号")) == "福建省福州市鼓楼区五四路 1 号"


def test_every_sealed_column_is_in_the_rotation_list() -> None:
    sealed = {
        table.name: tuple(c.name for c in table.columns if isinstance(c.type, Sealed))
        for table in Base.metadata.sorted_tables
    }
    assert {t: set(c) for t, c in sealed.items() if c} == {t: set(c) for t, c in SEALED_COLUMNS.items()}


def test_sealed_columns_compare_join_and_stay_unique(db_url: str) -> None:
    upgrade_database(db_url)
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            session.add(Mediator(name="陈静", center="示范中心", phone="+8613800000001", hours="08:30-17:30"))
            session.commit()
            found = session.scalar(select(Mediator).where(Mediator.phone == "+8613800000001"))
            assert found is not None and found.phone == "+8613800000001"
            assert session.scalar(select(Mediator.id).where(Mediator.phone.in_(["+8613800000001"])))
            raw = session.execute(sa.text("SELECT phone FROM mediators")).scalar_one()
            assert is_sealed(raw) and "13800000001" not in raw
    finally:
        engine.dispose()


# --- the demo, on SQLite: the file's bytes and the logs ----------------------------------------------


def test_demo_leaves_no_input_identifier_in_clear(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    folder = make_folder(tmp_path)
    result = run_demo(debtors=150, seed=3, folder=folder)
    assert result.reconcile is not None and result.reconcile.repaired > 0
    needles = input_needles(folder.sample_dir / "bank.csv", folder.sample_dir / "court.csv")
    assert any(len(n) == 18 for n in needles) and any(n.startswith("+86") for n in needles)
    database = folder.path / "contactfix.sqlite3"
    files = database_files(database)
    assert bytes_hits(files, needles) == {}
    assert [n for n in needles if n in caplog.text] == []
    # Not a search that cannot find: opened through the models, the same data holds them.
    engine = make_engine(folder.database_url)
    try:
        with using_keyring(keyring_for(folder.database_url)), Session(engine) as session:
            ids = set(
                session.scalars(select(SourceRecord.id_number).where(SourceRecord.id_number.is_not(None)))
            )
            phones = set(session.scalars(select(Contact.value).where(Contact.channel == "phone")))
            ranked = set(session.scalars(select(ContactRanking.value)))
    finally:
        engine.dispose()
    assert len(ids & needles) > 50 and len(phones & needles) > 50 and ranked & needles


# --- the pipeline on PostgreSQL and Redis: every text column of every table, every Redis key ----------


def _repair_step(session: Session, run_id: int, debtor_ids: Any) -> dict[str, int]:
    counts = repair_contacts(session, run_id, debtor_ids=debtor_ids, as_of=AS_OF_DATE)
    return {name: int(value) for name, value in dataclasses.asdict(counts).items()}


def _text_values(engine: Engine) -> Iterator[tuple[str, str, str]]:
    """(table, column, value) for every non-empty text column value of every table, reflected."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is not None and not isinstance(value, int | float | dt.date | dt.datetime):
                        yield table.name, column, str(value)


@pytest.fixture
def fresh_keyring() -> Iterator[Keyring]:
    with using_keyring(_keyring()) as ring:
        yield ring


def test_pipeline_on_postgres_and_redis_leaves_no_input_identifier_in_clear(
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,
    fresh_keyring: Keyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    upgrade_database(postgres_url)
    sample = tmp_path / "sample"
    write_sample(sample, 60, seed=11)
    engine = make_engine(postgres_url)
    client = redis.Redis.from_url(redis_url)
    channels = outbox_channels(tmp_path / "outbox.jsonl")
    try:
        submit_bank_batch(engine, sample / "bank.csv", "at-rest-bank")
        import_court_export(engine, sample / "court.csv", "at-rest-court")
        add_mediators(engine, 2, "08:00-20:00")
        reconcile(engine, full=True, repair=_repair_step)
        sender = DispatchSender(
            engine, channels, load_profile("cn"), SenderSettings(), limiter=RateLimiter(client),
            clock=lambda: WORKDAY_NOON,  # type: ignore[arg-type]
        )  # fmt: skip
        sent: list[str] = []
        relay(engine, lambda i: sent.append(sender.send(i).result), now=WORKDAY_NOON, requeue_after_s=60)
        assert "delivered" in sent
        with Session(engine) as session:
            dispatch = session.scalars(select(Dispatch).order_by(Dispatch.id)).first()
            assert dispatch is not None
            record_outcome(
                session, debtor_id=dispatch.debtor_id, contact=dispatch.contact_value,
                result="wrong_number", reporter="test", note=f"not {dispatch.contact_value}",
            )  # fmt: skip
            session.commit()
        reconcile(engine, full=True, repair=_repair_step)

        needles = input_needles(sample / "bank.csv", sample / "court.csv")
        stored = list(_text_values(engine))
        assert [(t, c, n) for t, c, v in stored for n in needles if n in v] == []
        opened = [field_cipher().open(v) for _, _, v in stored if is_sealed(v)]
        assert {n for n in needles for v in opened if n in v}, "the search finds them once opened"

        redis_text = []
        for key in client.scan_iter(count=1000):
            redis_text.append(key.decode("utf-8", "replace"))
            kind = client.type(key)
            if kind == b"string":
                redis_text.append((client.get(key) or b"").decode("utf-8", "replace"))
            elif kind == b"hash":
                redis_text += [v.decode("utf-8", "replace") for v in client.hgetall(key).values()]
        assert any("contactfix:" in k for k in redis_text), "the rate limiter wrote to Redis"
        assert [n for n in needles for t in redis_text if n in t] == []
        assert [n for n in needles if n in caplog.text] == []
    finally:
        channels.close()
        client.close()
        engine.dispose()


# --- rotation ----------------------------------------------------------------------------------------


def _key_file(tmp_path: Path) -> Keyring:
    path = tmp_path / "data.key"
    write_key_file(path, DataKey(secrets.token_bytes(32)), [], None)
    return _load(path)


def _load(path: Path) -> Keyring:
    return keyring_for("sqlite://", data_key_file=str(path))


def _everything(engine: Engine) -> dict[str, Any]:
    with Session(engine) as session:
        return {
            "ids": sorted(filter(None, session.scalars(select(SourceRecord.id_number)))),
            "addresses": sorted(filter(None, session.scalars(select(SourceRecord.address)))),
            "phones": sorted(session.scalars(select(Contact.value))),
            "debtor_ids": sorted(filter(None, session.scalars(select(Debtor.id_number)))),
            "mediators": sorted(session.scalars(select(Mediator.phone))),
        }


def test_rotation_interrupted_then_resumed_reads_everything_and_looks_up(
    tmp_path: Path, sqlite_url: str
) -> None:
    ring = _key_file(tmp_path)
    old_id = ring.key_id
    with using_keyring(ring):
        upgrade_database(sqlite_url)
        sample = tmp_path / "sample"
        write_sample(sample, 40, seed=2)
        engine = make_engine(sqlite_url)
        try:
            submit_bank_batch(engine, sample / "bank.csv", "rotate-bank")
            add_mediators(engine, 2, "08:00-20:00")
            before = _everything(engine)
            assert _respelt(engine) > 0  # the sample's phones, spelt as a bank writes them
            sealed = len(before["phones"]) + _originals(engine)
            assert key_census(engine)["contacts"] == {old_id: sealed, "respelt": _respelt(engine)}

            # Interrupted: the first batches commit under the next key, then the process dies.
            calls = {"n": 0}

            class Interrupted(Exception):
                pass

            real_begin = engine.begin

            def dying_begin() -> Any:
                calls["n"] += 1
                if calls["n"] > 3:
                    raise Interrupted
                return real_begin()

            with pytest.raises(Interrupted):
                rotate_keys(_patched(engine, dying_begin), ring, batch=10)
            assert ring.pending is not None and ring.current.key_id == old_id
            new_id = ring.pending.key_id
            census = key_census(engine)
            assert new_id in census["source_records"] and old_id in census["source_records"]
            # Meanwhile every value still reads (by its key id), and what is sealed anew is old-key.
            assert _everything(engine) == before
            assert field_cipher(ring).key_id == old_id

            # Another process starts with the key file as it is now: it opens both keys' values.
            with using_keyring(_reread(ring)):
                assert _everything(engine) == before

            report = rotate_keys(engine, ring, batch=10)  # resumed: the same next key
            assert report.key_id == new_id and report.promoted
            assert ring.current.key_id == new_id and ring.pending is None
            census = key_census(engine)
            assert all(set(counts) <= {new_id, "respelt"} for counts in census.values()), census
            assert _everything(engine) == before
            phone = before["phones"][0]
            with Session(engine) as session:  # equality lookups under the new key
                assert session.scalar(select(Contact.id).where(Contact.value == phone)) is not None
                assert session.scalar(select(Mediator.id).where(Mediator.phone == before["mediators"][0]))
            # The old key stays in the file: a value a stale process sealed with it still opens.
            straggler = FieldCipher(ring).seal_with(old_id, "+8613900000000")
            assert FieldCipher(_reread(ring)).open(straggler) == "+8613900000000"
            assert reseal(engine, ring, new_id).total == 0
        finally:
            engine.dispose()


def _originals(engine: Engine) -> int:
    """Contacts whose spelling is sealed (not NULL, not a respelling)."""
    with Session(engine) as session:
        found = session.scalars(select(Contact.value_original))
        return len([v for v in found if v is not None and not is_respelling(v)])


def _respelt(engine: Engine) -> int:
    with Session(engine) as session:
        return len([v for v in session.scalars(select(Contact.value_original)) if v and is_respelling(v)])


def _reread(ring: Keyring) -> Keyring:
    assert ring.path is not None
    from contactfix.privacy.keyring import _read_key_file

    return _read_key_file(ring.path)


class _patched:
    """``engine`` whose ``begin`` is ``begin`` (to interrupt a rotation between its batches)."""

    def __init__(self, engine: Engine, begin: Any) -> None:
        self._engine, self.begin = engine, begin

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def test_rotation_and_intake_exclude_each_other_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    """A value sealed under the old key while a rotation runs would not equal its twin sealed under the
    new one: so neither starts while the other writes, each saying why."""
    ring = _key_file(tmp_path)
    before = ring.path.read_bytes() if ring.path else b""
    sample = tmp_path / "sample"
    write_sample(sample, 20, seed=3)
    with using_keyring(ring):
        upgrade_database(postgres_url)
        engine = make_engine(postgres_url)
        try:
            rotating = writers_excluded(engine)  # a rotation is running
            with rotating, pytest.raises(IntakeError, match="key rotation is running"):
                submit_bank_batch(engine, sample / "bank.csv", "excl-bank")
            with engine.connect() as connection:
                status = connection.execute(sa.text("SELECT status FROM submissions")).scalar_one()
            assert status == "failed"
            receipt = submit_bank_batch(engine, sample / "bank.csv", "excl-bank")  # done: it goes in
            assert receipt.accepted > 0

            with engine.connect() as connection, writing_sealed(connection):  # an intake is writing
                with pytest.raises(KeyringError, match="being taken in"):
                    rotate_keys(engine, ring, batch=10)
                assert ring.path is not None and ring.path.read_bytes() == before  # no key started
            assert rotate_keys(engine, ring, batch=10).promoted  # done: the rotation runs
        finally:
            engine.dispose()


def test_keys_rotate_cli_refuses_a_key_from_the_environment(sqlite_url: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("CONTACTFIX_DATABASE_URL", sqlite_url)
    from contactfix.settings import get_settings

    get_settings.cache_clear()
    try:
        upgrade_database(sqlite_url)
        result = CliRunner().invoke(app, ["keys", "rotate"])
        assert result.exit_code == 2
        assert "key file" in result.output and "Traceback" not in result.output
        status = CliRunner().invoke(app, ["keys", "status", "--json"])
        assert status.exit_code == 0, status.output
    finally:
        get_settings.cache_clear()


def test_keys_rotate_cli_with_a_key_file(tmp_path: Path, monkeypatch: Any) -> None:
    database = tmp_path / "db.sqlite3"
    url = f"sqlite:///{database}"
    monkeypatch.delenv("CONTACTFIX_DATA_KEY", raising=False)
    monkeypatch.setenv("CONTACTFIX_DATABASE_URL", url)
    from contactfix.settings import get_settings

    get_settings.cache_clear()
    try:
        ring = keyring_for(url)  # the key file beside the database, created
        with using_keyring(ring):
            upgrade_database(url)
            engine = make_engine(url)
            add_mediators(engine, 1)
            engine.dispose()
        result = CliRunner().invoke(app, ["keys", "rotate", "--json"])
        assert result.exit_code == 0, result.output
        ring.reload()
        assert ring.current.key_id != "" and len(ring.previous) == 1
        status = CliRunner().invoke(app, ["keys", "status"])
        assert f"current key {ring.key_id}" in status.output
        assert f"mediators: {ring.key_id}: 1" in status.output
    finally:
        get_settings.cache_clear()


# --- the migration -------------------------------------------------------------------------------------


def test_upgrade_seals_rows_stored_in_clear_and_downgrade_opens_them(
    db_url: str, tmp_path: Path, fresh_keyring: Keyring
) -> None:
    from contactfix.db.migrate import downgrade_database

    upgrade_database(db_url, "0009")
    engine = make_engine(db_url)
    phone, id_number, address = "+8613912345670", "11010519491231002X", "福建省福州市鼓楼区五四路 1 号"
    try:
        with engine.begin() as connection:  # as the code before encryption wrote them
            connection.execute(
                sa.text(
                    "INSERT INTO mediators (name, center, phone, active) VALUES ('陈静', '中心', :p, true)"
                ),
                {"p": phone},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO source_records (source, record_key, party_type, name_original, name, "
                    "id_type, id_number, address) "
                    "VALUES ('bank', 'k1', 'person', '张三', '张三', 'resident_id', :i, :a)"
                ),
                {"i": id_number, "a": address},
            )
        upgrade_database(db_url)
        with engine.connect() as connection:
            stored = connection.execute(sa.text("SELECT phone FROM mediators")).scalar_one()
            record = connection.execute(sa.text("SELECT id_number, address FROM source_records")).one()
        assert all(is_sealed(v) for v in (stored, *record))
        assert all(sealed_key_id(v) == fresh_keyring.key_id for v in (stored, *record))
        with Session(engine) as session:
            assert session.scalar(select(Mediator.phone).where(Mediator.phone == phone)) == phone
            assert session.execute(select(SourceRecord.id_number, SourceRecord.address)).one() == (
                id_number,
                address,
            )
        with engine.begin() as connection:  # a contact as intake writes it: its spelling respelt
            connection.execute(
                sa.text(
                    "INSERT INTO contacts (source_record_id, channel, value, value_original) "
                    "SELECT id, 'phone', :v, :o FROM source_records"
                ),
                {"v": field_cipher().seal(phone), "o": respelling(phone, "139 1234 5670")},
            )
        if db_url.startswith("sqlite"):
            engine.dispose()
            database = Path(db_url.removeprefix("sqlite:///"))
            assert bytes_hits(database_files(database), {phone[3:], id_number, address}) == {}
        downgrade_database(db_url, "0009")
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT phone FROM mediators")).scalar_one() == phone
            spelling = connection.execute(sa.text("SELECT value, value_original FROM contacts")).one()
            assert tuple(spelling) == (phone, "139 1234 5670")  # spelt out again, in clear as before
    finally:
        engine.dispose()
