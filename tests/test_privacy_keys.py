"""Key material and keyed hashes: nobody who reads the database or Redis can find a number again by
hashing every number, and the key itself never leaves its file or variable."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import stat
from pathlib import Path

import pytest

from contactfix.dispatch.planning import idempotency_key
from contactfix.dispatch.ratelimit import recipient_key
from contactfix.pipeline.keys import key_rows, linkable_keys
from contactfix.privacy import (
    PURPOSE_BLOCKING,
    PURPOSE_DISPATCH,
    PURPOSE_RATELIMIT,
    DataKey,
    Keyring,
    KeyringError,
    current_keyring,
    keyring_for,
    new_data_key,
    using_keyring,
)
from contactfix.settings import load_settings
from matchers.inputs import table_from_columns
from matchers.normalize import PersonRecords, normalize_records
from matchers.stable_keys import FUZZY_CUTS, edit_variants, stable_keys, unkeyed_digest

PHONE = "+8613912345678"


def _keyring() -> Keyring:
    return Keyring(DataKey(os.urandom(32)))


# --- where the key comes from -----------------------------------------------------------------------


def test_the_embedded_default_makes_one_private_key_file_beside_the_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'walk.sqlite3'}"
    with caplog.at_level(logging.INFO, logger="contactfix.privacy.keyring"):
        first = keyring_for(url)
    path = tmp_path / "walk.sqlite3.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    created = [r.getMessage() for r in caplog.records if "created a data key file" in r.getMessage()]
    assert len(created) == 1 and str(path) in created[0]
    secret = base64.b64encode(first.current.secret).decode()
    assert secret in path.read_text()
    assert all(secret not in r.getMessage() for r in caplog.records)
    assert secret not in repr(first) and secret not in repr(first.current)
    caplog.clear()
    again = keyring_for(url)  # the same process: loaded once
    assert again is first
    # Another process (no cache) reads the same file and does not create another.
    from contactfix.privacy import keyring as module

    module._CACHE.clear()
    with caplog.at_level(logging.INFO, logger="contactfix.privacy.keyring"):
        reread = keyring_for(url)
    assert reread.key_id == first.key_id and not caplog.records
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.sqlite3.key"]  # no temporary left


def test_a_configured_key_wins_and_a_server_database_needs_one(tmp_path: Path) -> None:
    key = new_data_key()
    configured = keyring_for("postgresql://127.0.0.1/nothing", key)
    assert configured.current.secret == base64.b64decode(key)
    assert keyring_for(f"sqlite:///{tmp_path / 'x.sqlite3'}", key).key_id == configured.key_id
    assert not (tmp_path / "x.sqlite3.key").exists()
    with pytest.raises(KeyringError, match="CONTACTFIX_DATA_KEY"):
        keyring_for("postgresql://127.0.0.1/nothing")


def test_a_bad_key_stops_start_up_without_quoting_it(tmp_path: Path) -> None:
    short = base64.b64encode(b"sixteen byte key").decode()
    for bad in (short, "not base64 at all!", "QUJD"):
        with pytest.raises(Exception) as caught:
            load_settings(environ={"CONTACTFIX_DATA_KEY": bad})
        assert "data_key" in str(caught.value) and bad not in str(caught.value)


def test_a_key_file_holds_the_current_key_first_and_older_ones_after(tmp_path: Path) -> None:
    current, older = new_data_key(), new_data_key()
    path = tmp_path / "data.key"
    path.write_text(f"# rotated 2026-12-07\n{current}\n\n{older}\n")
    path.chmod(0o600)
    ring = keyring_for("postgresql://127.0.0.1/x", None, str(path))
    old_id = DataKey(base64.b64decode(older)).key_id
    assert ring.current.secret == base64.b64decode(current)
    assert ring.key_ids == (ring.key_id, old_id)
    assert ring.derive("aes-gcm", key_id=old_id) != ring.derive("aes-gcm")
    assert ring.key(old_id).secret == base64.b64decode(older)
    loose = tmp_path / "loose.key"
    loose.write_text(current + "\n")
    loose.chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        keyring_for("postgresql://127.0.0.1/y", None, str(loose))
    empty = tmp_path / "empty.key"
    empty.write_text("# nothing\n")
    empty.chmod(0o600)
    with pytest.raises(KeyringError, match="holds no key"):
        keyring_for("postgresql://127.0.0.1/z", None, str(empty))


def test_a_keyed_hash_is_rfc_2104_hmac_sha256_under_the_purpose_key() -> None:
    ring = _keyring()
    hashed = ring.keyed_hash(PURPOSE_BLOCKING)
    for text in ("", "+8613912345678", "张伟\x1e350103199001021235", "x" * 500):
        expected = hmac.digest(ring.derive(PURPOSE_BLOCKING), text.encode(), "sha256")
        assert hashed.digest(text) == expected
        assert hashed.hexdigest(text, 32) == expected.hex()[:32]
        assert hashed.int64(text) == int.from_bytes(expected[:8], "big")
    assert ring.keyed_hash(PURPOSE_BLOCKING) is hashed


def test_each_purpose_has_its_own_key() -> None:
    ring = _keyring()
    derived = {
        purpose: ring.derive(purpose) for purpose in (PURPOSE_BLOCKING, PURPOSE_DISPATCH, PURPOSE_RATELIMIT)
    }
    assert len(set(derived.values())) == 3 and ring.current.secret not in derived.values()
    assert ring.keyed_hash(PURPOSE_DISPATCH).hexdigest("x") != ring.keyed_hash(PURPOSE_RATELIMIT).hexdigest(
        "x"
    )
    assert _keyring().keyed_hash(PURPOSE_DISPATCH).hexdigest("x") != ring.keyed_hash(
        PURPOSE_DISPATCH
    ).hexdigest("x")


# --- keyed hashes where plain ones were ----------------------------------------------------------------


def _plain_digests(number: str) -> set[str]:
    """Every unkeyed digest of the number an attacker would try, as hex."""
    forms = {number, number.lstrip("+"), number[3:]}
    found: set[str] = set()
    for form in forms:
        data = form.encode()
        found |= {hashlib.sha256(data).hexdigest(), hashlib.blake2b(data, digest_size=8).hexdigest()}
        found.add(hashlib.md5(data).hexdigest())
    return found


def test_a_rate_limit_key_is_not_a_plain_hash_of_the_number() -> None:
    ring = _keyring()
    with using_keyring(ring):
        bucket = recipient_key(PHONE)
        assert current_keyring() is ring
    digest = bucket.rsplit(":", 1)[1]
    assert PHONE[3:] not in bucket and PHONE[-8:] not in bucket
    for plain in _plain_digests(PHONE):
        assert plain != digest and plain[:32] != digest and digest not in plain
    assert bucket == recipient_key(PHONE, ring.keyed_hash(PURPOSE_RATELIMIT))  # stable under one key
    assert bucket != recipient_key(PHONE, _keyring().keyed_hash(PURPOSE_RATELIMIT))  # and only under it


def test_the_dispatch_key_cannot_be_computed_from_known_fields() -> None:
    fields = (7, "phone", PHONE, "sms", "repaired_contact")
    ring = _keyring()
    key = idempotency_key(*fields, ring.keyed_hash(PURPOSE_DISPATCH))
    plain = hashlib.sha256("\x1f".join(map(str, fields)).encode()).hexdigest()
    assert len(key) == 64 and key != plain
    assert key == idempotency_key(*fields, ring.keyed_hash(PURPOSE_DISPATCH))
    assert key != idempotency_key(*fields, _keyring().keyed_hash(PURPOSE_DISPATCH))


def _one_person(phone: str, id_number: str) -> PersonRecords:
    header = ["id", "name", "id_number", "phone"]
    columns = {"id": ["1"], "name": ["张伟"], "id_number": [id_number], "phone": [phone]}
    return normalize_records(table_from_columns(header, columns, "T"))


def test_blocking_keys_are_not_plain_digests_of_the_number() -> None:
    records = _one_person("13912345678", "350103199001021235")
    ring = _keyring()
    keyed = linkable_keys(records, ring.keyed_hash(PURPOSE_BLOCKING))
    stored = {key for _, _, key in key_rows(keyed, [1])}
    plain = {key for _, _, key in key_rows(stable_keys(records), [1])}
    assert keyed.rows.size and len(stored) == len(plain)
    assert not stored & plain
    # Not even one of the variants an attacker would hash (the cut keys of the phone and the ID).
    variants = edit_variants("13912345678", FUZZY_CUTS["phone"]) + edit_variants(
        "350103199001021235", FUZZY_CUTS["id"]
    )
    guesses = {f"{unkeyed_digest(prefix + v):016x}" for v in variants for prefix in ("", "\x1e")}
    assert not stored & guesses
    assert "13912345678" not in "".join(stored)
    # Stable under one key (incremental runs find what full runs wrote), different under another.
    again = {key for _, _, key in key_rows(linkable_keys(records, ring.keyed_hash(PURPOSE_BLOCKING)), [1])}
    other = {
        key for _, _, key in key_rows(linkable_keys(records, _keyring().keyed_hash(PURPOSE_BLOCKING)), [1])
    }
    assert again == stored and not other & stored


def test_records_that_share_a_number_still_share_a_keyed_blocking_key() -> None:
    ring = _keyring().keyed_hash(PURPOSE_BLOCKING)
    a = {(k, v) for _, k, v in key_rows(linkable_keys(_one_person("13912345678", ""), ring), [1])}
    b = {(k, v) for _, k, v in key_rows(linkable_keys(_one_person("13912345679", ""), ring), [2])}
    assert a & b  # one digit apart: the cut keys still meet
