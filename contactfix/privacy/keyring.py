"""Key material: the deployment's data key, and the keys derived from it, one per purpose.

The data key (32 random bytes) comes from ``CONTACTFIX_DATA_KEY`` (setting ``data_key``, base64) or a
key file (setting ``data_key_file``). The embedded default, a SQLite file, makes its own: a key file
beside the database (``<database>.key``, mode 0600), created once and logged once (never the key).
Any other database without a configured key stops with the name of the setting to set: a key made
up per process would give every worker its own rate-limit buckets and every run its own blocking keys.

Nothing uses the data key directly. Each purpose gets its own key from it through HKDF-SHA-256
(RFC 5869; ``info`` names the purpose and a version), so a key for hashing never doubles as a key for
encryption and one purpose's key says nothing about another's:

- ``blocking``, ``dispatch``, ``ratelimit``: HMAC-SHA-256 keys for :class:`KeyedHash` (blocking keys,
  the dispatch idempotency key, Redis rate-limit keys); a number cannot be found again from them by
  trying every number, as it could from a plain SHA-256 or BLAKE2b.
- encryption at rest (:mod:`contactfix.privacy.sealing`) derives its AES-GCM and nonce keys with
  :meth:`Keyring.derive` the same way and stores :attr:`DataKey.key_id` beside each ciphertext.

Rotation: a key file holds the current key on its first line and older keys on the lines after it
(``#`` comments and blank lines are skipped); a line ``next <key>`` is a rotation's target, the key
``contactfix keys rotate`` is re-encrypting everything under: every process can open what it sealed
(:meth:`Keyring.reload` reads the file again when a value names a key it does not hold), but nothing
new is sealed with it until the rotation is complete and it becomes the first line. Everything new is
keyed with the current key; older keys stay available by their id (:meth:`Keyring.key`) to read what
they wrote. Keyed hashes move to a new key by recomputation: a full reconcile (``contactfix reconcile
--full``) rewrites every blocking key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.engine import make_url

from contactfix.errors import SettingsError

__all__ = [
    "KEY_BYTES",
    "PURPOSE_BLOCKING",
    "PURPOSE_DISPATCH",
    "PURPOSE_RATELIMIT",
    "DataKey",
    "KeyedHash",
    "Keyring",
    "KeyringError",
    "current_keyring",
    "decode_data_key",
    "install_keyring",
    "keyring_for",
    "new_data_key",
    "using_keyring",
    "write_key_file",
]

log = logging.getLogger(__name__)

KEY_BYTES = 32
PURPOSE_BLOCKING = "blocking"
PURPOSE_DISPATCH = "dispatch"
PURPOSE_RATELIMIT = "ratelimit"
# Bumped only if the derivation itself changes (every keyed hash would change with it).
_DERIVATION = b"contactfix/v1/"
_SHA256_BLOCK = 64


class KeyringError(SettingsError):
    """No usable data key: the message names the setting or file to fix (never a key)."""


def decode_data_key(text: str, where: str) -> bytes:
    """The 32 bytes of a base64 key; :class:`KeyringError` naming ``where`` otherwise."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"{where}: not base64 (expected base64 of {KEY_BYTES} random bytes)") from None
    if len(raw) != KEY_BYTES:
        raise KeyringError(f"{where}: {len(raw)} bytes, expected {KEY_BYTES} (base64 of random bytes)")
    return raw


def new_data_key() -> str:
    """A fresh data key, base64 (e.g. for ``CONTACTFIX_DATA_KEY`` or a key file)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


@dataclass(frozen=True, repr=False)
class DataKey:
    """One data key and its id: eight hex digits derived from the key, safe to store and log."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise KeyringError(f"a data key has {KEY_BYTES} bytes, not {len(self.secret)}")
        # Computed once: every sealed value read asks which key sealed it.
        object.__setattr__(self, "_key_id", _hkdf(self.secret, b"key-id", 4).hex())

    @property
    def key_id(self) -> str:
        """The key's id (a one-way digest of it): which key wrote a value, without revealing it."""
        return self._key_id  # type: ignore[attr-defined,no-any-return]

    def __repr__(self) -> str:
        return f"DataKey(key_id={self.key_id!r})"


def _hkdf(secret: bytes, purpose: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=_DERIVATION + purpose).derive(
        secret
    )


class KeyedHash:
    """HMAC-SHA-256 under one purpose's key: the same text gives the same digest in every process
    that shares the data key, and nobody without it can compute or invert one.

    The HMAC is RFC 2104's, with the padded key's inner and outer SHA-256 states computed once and
    copied per text: a full reconcile hashes millions of blocking-key variants, and a one-shot
    ``hmac.digest`` (which sets the key up again each time) costs 2.5 times as much.
    """

    __slots__ = ("_inner", "_outer", "key_id", "purpose")

    def __init__(self, key: bytes, purpose: str, key_id: str) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        padded = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
        self.purpose = purpose
        self.key_id = key_id

    def digest(self, text: str) -> bytes:
        """The 32-byte HMAC of ``text`` (UTF-8)."""
        inner = self._inner.copy()
        inner.update(text.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def hexdigest(self, text: str, chars: int = 64) -> str:
        """The HMAC as hex, its first ``chars`` digits (16 to 64): truncated to what a column holds."""
        if not 16 <= chars <= 64:
            raise ValueError("a keyed hex digest keeps 16 to 64 digits")
        return self.digest(text).hex()[:chars]

    def int64(self, text: str) -> int:
        """The HMAC's first 64 bits as an unsigned integer (blocking keys are stored as 16 hex digits)."""
        return int.from_bytes(self.digest(text)[:8], "big")

    def __repr__(self) -> str:
        return f"KeyedHash(purpose={self.purpose!r}, key_id={self.key_id!r})"


class Keyring:
    """The current data key, older ones by id, and the keys derived from them per purpose."""

    def __init__(
        self,
        current: DataKey,
        previous: Sequence[DataKey] = (),
        *,
        source: str = "",
        pending: DataKey | None = None,
        path: Path | None = None,
    ) -> None:
        self.current = current
        self.pending = pending  # a rotation's target: opens values, seals nothing new yet
        self.source = source  # where the key came from, for messages (a setting or a path, never a key)
        self.path = path  # the key file, when the keys come from one (rotation writes it)
        self._keys = {key.key_id: key for key in (*previous, *([pending] if pending else []), current)}
        self._previous = tuple(previous)
        self._hashes: dict[str, KeyedHash] = {}
        self._lock = threading.Lock()
        self._stamp = _file_stamp(path)
        self._checked = time.monotonic()

    @property
    def previous(self) -> tuple[DataKey, ...]:
        """The older keys, kept to open what they sealed."""
        return self._previous

    def reload(self) -> bool:
        """Read the key file again (a rotation may have added or promoted a key); True if it changed.

        A key once known stays known: a value sealed under it still opens.
        """
        if self.path is None:
            return False
        fresh = _read_key_file(self.path)
        self._checked = time.monotonic()
        self._stamp = _file_stamp(self.path)
        with self._lock:
            changed = fresh.current.key_id != self.current.key_id or (
                (fresh.pending and fresh.pending.key_id) != (self.pending and self.pending.key_id)
            )
            kept = [key for kid, key in self._keys.items() if kid not in fresh._keys]
            self._keys.update(fresh._keys)
            self._previous = (*fresh._previous, *[k for k in kept if k.key_id != fresh.current.key_id])
            if fresh.current.key_id != self.current.key_id:
                self._hashes.clear()
            self.current, self.pending = fresh.current, fresh.pending
        return changed

    def refresh(self, every: float = 5.0) -> None:
        """Reload the key file if it changed since it was read, looking at most every ``every`` seconds:
        long-running processes start sealing with a new key soon after a rotation completes."""
        if self.path is None or time.monotonic() - self._checked < every:
            return
        self._checked = time.monotonic()
        if _file_stamp(self.path) != self._stamp:
            self.reload()

    @property
    def key_id(self) -> str:
        """The id of the current key, the one everything new is keyed with."""
        return self.current.key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key's id, current first."""
        return (self.key_id, *(kid for kid in self._keys if kid != self.key_id))

    def key(self, key_id: str) -> DataKey:
        """The data key with ``key_id`` (to read what an older key wrote); KeyError when unknown."""
        return self._keys[key_id]

    def derive(self, purpose: str, *, key_id: str | None = None, length: int = KEY_BYTES) -> bytes:
        """The key for ``purpose`` (HKDF-SHA-256 of the data key ``key_id``, the current one by default)."""
        if not purpose or not purpose.isascii():
            raise ValueError("a purpose is a non-empty ASCII name")
        data_key = self.current if key_id is None else self.key(key_id)
        return _hkdf(data_key.secret, purpose.encode("ascii"), length)

    def keyed_hash(self, purpose: str) -> KeyedHash:
        """The :class:`KeyedHash` of ``purpose`` under the current key (made once, then reused)."""
        with self._lock:
            found = self._hashes.get(purpose)
            if found is None:
                found = self._hashes[purpose] = KeyedHash(self.derive(purpose), purpose, self.key_id)
            return found

    def __repr__(self) -> str:
        return f"Keyring(key_id={self.key_id!r}, keys={len(self._keys)}, source={self.source!r})"


def _read_key_file(path: Path) -> Keyring:
    try:
        info = path.stat()
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyringError(f"data_key_file: {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyringError(f"data_key_file: cannot read {path}: {type(exc).__name__}") from None
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyringError(f"data_key_file: {path} is readable by others; chmod 600 it")
    lines = [line.strip() for line in text.splitlines()]
    keys = [line for line in lines if line and not line.startswith("#") and not line.startswith(_NEXT)]
    nexts = [line[len(_NEXT) :] for line in lines if line.startswith(_NEXT)]
    if not keys:
        raise KeyringError(f"data_key_file: {path} holds no key")
    decoded = [
        DataKey(decode_data_key(key, f"data_key_file {path}, key {n + 1}")) for n, key in enumerate(keys)
    ]
    pending = DataKey(decode_data_key(nexts[0], f"data_key_file {path}, next key")) if nexts else None
    return Keyring(decoded[0], decoded[1:], source=str(path), pending=pending, path=path)


_NEXT = "next "


def _file_stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def write_key_file(
    path: Path, current: DataKey, previous: Sequence[DataKey], pending: DataKey | None
) -> None:
    """Replace the key file at ``path`` atomically (mode 0600): ``current`` first, ``pending`` as the
    ``next`` line, then ``previous``. A crash leaves the old file or the new one, never half of one."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as fh:
            fh.write("# contactfix data key (base64). Keep it secret and back it up with the database.\n")
            fh.write(base64.b64encode(current.secret).decode("ascii") + "\n")
            if pending is not None:
                fh.write("# the key `contactfix keys rotate` is moving everything to\n")
                fh.write(_NEXT + base64.b64encode(pending.secret).decode("ascii") + "\n")
            if previous:
                fh.write("# older keys, to open what they sealed\n")
            for key in previous:
                fh.write(base64.b64encode(key.secret).decode("ascii") + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _create_key_file(path: Path) -> None:
    """Write a new key to ``path`` atomically, mode 0600; a key another process wrote first wins."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as fh:
            fh.write("# contactfix data key (base64). Keep it secret and back it up with the database.\n")
            fh.write(new_data_key() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temporary, path)  # fails if the file exists: never overwrite a key
        except FileExistsError:
            return
        log.warning("created a data key file %s (mode 0600): back it up with the database", path)
    finally:
        temporary.unlink(missing_ok=True)


def _sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database or another kind of database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


_CACHE: dict[tuple[str, str, str], Keyring] = {}
_CACHE_LOCK = threading.Lock()


def keyring_for(database_url: str, data_key: str | None = None, data_key_file: str | None = None) -> Keyring:
    """The keyring of a deployment: ``data_key`` (base64), else ``data_key_file``, else — for a SQLite
    file only — the key file beside the database, created on first use. Loaded once per process."""
    cache_key = (data_key or "", data_key_file or "", "" if data_key or data_key_file else database_url)
    with _CACHE_LOCK:
        found = _CACHE.get(cache_key)
        if found is None:
            found = _CACHE[cache_key] = _load(database_url, data_key, data_key_file)
        return found


def _load(database_url: str, data_key: str | None, data_key_file: str | None) -> Keyring:
    if data_key:
        return Keyring(
            DataKey(decode_data_key(data_key, "data_key (CONTACTFIX_DATA_KEY)")), source="data_key"
        )
    if data_key_file:
        return _read_key_file(Path(data_key_file))
    try:
        url = make_url(database_url)
    except Exception:
        raise KeyringError("database_url: unreadable, so no data key file beside it") from None
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # The database lives as long as the process: so may its key.
        return Keyring(DataKey(secrets.token_bytes(KEY_BYTES)), source="in-memory database")
    database = _sqlite_file(database_url)
    if database is None:
        raise KeyringError(
            "data_key: no data key for this database; set CONTACTFIX_DATA_KEY (base64 of 32 random "
            "bytes: `openssl rand -base64 32`) or data_key_file, the same for every process of the "
            "deployment"
        )
    path = database.with_name(database.name + ".key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_key_file(path)
    return _read_key_file(path)


_installed: Keyring | None = None


def install_keyring(keyring: Keyring | None) -> None:
    """Make ``keyring`` the process's keyring (None: back to the one the settings give)."""
    global _installed
    _installed = keyring


@contextmanager
def using_keyring(keyring: Keyring) -> Iterator[Keyring]:
    """``keyring`` as the process's keyring within the block (the demo's own database, tests)."""
    global _installed
    before = _installed
    _installed = keyring
    try:
        yield keyring
    finally:
        _installed = before


def current_keyring() -> Keyring:
    """The process's keyring: the installed one, else the one the service settings give.

    Components that compute keyed hashes take a :class:`KeyedHash` argument and fall back to this, the
    way they fall back to :func:`contactfix.settings.get_settings`.
    """
    if _installed is not None:
        return _installed
    global _from_settings, _get_settings
    if _get_settings is None:
        from contactfix.settings import get_settings

        _get_settings = get_settings
    settings = _get_settings()
    # Asked once per sealed value read or written: the keyring of the same settings object is reused
    # (an import statement and a locked cache lookup per value cost more than the AES call).
    found = _from_settings
    if found is not None and found[0] is settings:
        return found[1]
    keyring = keyring_for(settings.database_url, settings.data_key_value, settings.data_key_file or None)
    _from_settings = (settings, keyring)
    return keyring


_from_settings: tuple[object, Keyring] | None = None
_get_settings: Callable[[], Any] | None = None
