"""Encryption at rest of ID numbers, phones and addresses: deterministic AES-GCM, one value at a time.

A sealed value is text: ``e1.<key id>.<base64 of nonce | ciphertext | tag>``. The key id (eight hex
digits, :attr:`DataKey.key_id`) says which data key sealed it, so a value can be opened after the key
changed and a rotation finds the rows it has not rewritten yet by their prefix.

Why deterministic: the code looks rows up by phone and ID (``WHERE value = :phone``), keeps them
unique (``UNIQUE (source_record_id, channel, value)``, ``ON CONFLICT`` upserts) and joins tables on
them (contacts to dispatches, do-not-contact, outcomes). A random nonce would break every one of
those. So the nonce is a 12-byte keyed BLAKE2b (a PRF, as HMAC is) of the plaintext under a key of
its own (the SIV construction, RFC 5297's idea with GCM): the same plaintext under the same data key always
gives the same sealed text, and different plaintexts never share a nonce (up to a collision of the PRF).
What it leaks is equality, which the keyed hashes of blocking keys already leak; it reveals nothing
of a value without the data key, and a value cannot be found again by sealing every phone number
without it either.

One nonce key and one AES key for every column (not one per column): a phone is the same sealed
text in contacts, contact_rankings, dispatches, outcomes and do_not_contact, so the joins between
them work on sealed values as they worked on plain ones.

Values written before encryption existed (no ``e1.`` prefix) are read as they are: the migration
that introduced encryption seals them, and ``contactfix keys rotate`` seals any it finds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contactfix.errors import ContactfixError
from contactfix.privacy.keyring import DataKey, Keyring, current_keyring

__all__ = [
    "PURPOSE_SEAL_AES",
    "PURPOSE_SEAL_NONCE",
    "SEALED_PREFIX",
    "FieldCipher",
    "SealError",
    "field_cipher",
    "is_sealed",
    "open_value",
    "seal_value",
    "sealed_key_id",
]

PURPOSE_SEAL_AES = "seal-aes-gcm"
PURPOSE_SEAL_NONCE = "seal-nonce"
SEALED_PREFIX = "e1."  # the format's version; a new format gets a new prefix
_KEY_ID_CHARS = 8
_HEAD = len(SEALED_PREFIX) + _KEY_ID_CHARS + 1  # "e1." + key id + "."
_NONCE = 12
# Values per memo before it starts again: bounded memory (some 60 MiB) in a long-running worker.
_MEMO = 1 << 18


class SealError(ContactfixError, ValueError):
    """A sealed value does not open: its key is not in the keyring, or it was altered. The message
    names the key id, never the value."""


def is_sealed(stored: str) -> bool:
    """Whether ``stored`` is a sealed value (of any key)."""
    return stored.startswith(SEALED_PREFIX) and len(stored) > _HEAD and stored[_HEAD - 1] == "."


def sealed_key_id(stored: str) -> str | None:
    """The id of the key that sealed ``stored``; None for a value stored in clear."""
    return stored[len(SEALED_PREFIX) : _HEAD - 1] if is_sealed(stored) else None


class _Sealer:
    """AES-GCM and the nonce PRF of one data key."""

    __slots__ = ("_aes", "_nonce", "head", "key_id")

    def __init__(self, keyring: Keyring, key_id: str) -> None:
        self.key_id = key_id
        self.head = f"{SEALED_PREFIX}{key_id}."
        self._aes = AESGCM(keyring.derive(PURPOSE_SEAL_AES, key_id=key_id))
        # Keyed BLAKE2b is a PRF (a MAC by design, RFC 7693): one C call where HMAC takes four. Set up
        # once, copied per value.
        self._nonce = hashlib.blake2b(
            key=keyring.derive(PURPOSE_SEAL_NONCE, key_id=key_id), digest_size=_NONCE
        )

    def seal(self, text: str) -> str:
        plain = text.encode("utf-8")
        prf = self._nonce.copy()
        prf.update(plain)
        nonce = prf.digest()
        return self.head + base64.b64encode(nonce + self._aes.encrypt(nonce, plain, None)).decode("ascii")

    def open(self, stored: str) -> str:
        try:
            raw = base64.b64decode(stored[_HEAD:])
            return self._aes.decrypt(raw[:_NONCE], raw[_NONCE:], None).decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError):
            raise SealError(
                f"a value sealed under key {self.key_id} does not open: altered or damaged"
            ) from None


class FieldCipher:
    """Seals under the keyring's current key and opens under whichever key sealed a value."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._sealers: dict[str, _Sealer] = {}
        self._lock = threading.Lock()
        self._writer = self.sealer(keyring.key_id)
        # Memos both ways: a reconciliation reads and writes the same phones and IDs many times over
        # (records, observations, rankings, dispatches), and one AES-GCM call costs microseconds.
        self._sealed: dict[str, str] = {}
        self._opened: dict[str, str] = {}

    @property
    def key_id(self) -> str:
        """The id of the key new values are sealed with."""
        return self._writer.key_id

    def sealer(self, key_id: str) -> _Sealer:
        """The sealer of the key ``key_id`` (:class:`SealError` if the keyring does not hold it)."""
        found = self._sealers.get(key_id)
        if found is not None:
            return found
        with self._lock:
            if key_id not in self.keyring.key_ids:
                # A rotation elsewhere may have added the key since this process read the key file.
                self.keyring.reload()
            if key_id not in self.keyring.key_ids:
                raise SealError(f"a value is sealed under key {key_id}, which the keyring does not hold")
            found = self._sealers[key_id] = _Sealer(self.keyring, key_id)
            return found

    def seal(self, text: str) -> str:
        """``text`` sealed under the current key (the same text always gives the same sealed text)."""
        found = self._sealed.get(text)
        if found is None:
            if len(self._sealed) >= _MEMO:
                self._sealed.clear()
            found = self._sealed[text] = self._writer.seal(text)
        return found

    def seal_once(self, text: str) -> str:
        """``text`` sealed under the current key, not memoised: for values seen once (intake)."""
        return self._writer.seal(text)

    def seal_with(self, key_id: str, text: str) -> str:
        """``text`` sealed under the key ``key_id`` (rotation)."""
        return self.sealer(key_id).seal(text)

    def open(self, stored: str) -> str:
        """The plaintext of ``stored``; a value stored in clear (before encryption) as it is."""
        found = self._opened.get(stored)
        if found is not None:
            return found
        if not is_sealed(stored):
            return stored
        key_id = stored[len(SEALED_PREFIX) : _HEAD - 1]
        writer = self._writer
        found = (writer if writer.key_id == key_id else self.sealer(key_id)).open(stored)
        if len(self._opened) >= _MEMO:
            self._opened.clear()
        self._opened[stored] = found
        return found

    def seal_optional(self, text: str | None) -> str | None:
        return None if text is None else self.seal(text)

    def open_optional(self, stored: str | None) -> str | None:
        return None if stored is None else self.open(stored)

    def open_all(self, values: Iterable[str]) -> list[str]:
        """Every value of ``values`` opened (bulk reads)."""
        return [self.open(value) for value in values]


_CIPHERS: dict[int, tuple[Keyring, FieldCipher]] = {}
_CIPHERS_LOCK = threading.Lock()
_last: tuple[Keyring, DataKey, FieldCipher] | None = None


def field_cipher(keyring: Keyring | None = None) -> FieldCipher:
    """The :class:`FieldCipher` of ``keyring`` (the process's keyring by default), made once per
    keyring and current key (a rotation that completes makes a new one)."""
    global _last
    keyring = keyring or current_keyring()
    keyring.refresh()
    last = _last
    if last is not None and last[0] is keyring and last[1] is keyring.current:
        return last[2]  # the common case, asked once per value: no lock, no lookup
    with _CIPHERS_LOCK:
        found = _CIPHERS.get(id(keyring))
        if found is None or found[0] is not keyring or found[1].key_id != keyring.key_id:
            found = _CIPHERS[id(keyring)] = (keyring, FieldCipher(keyring))
        _last = (keyring, keyring.current, found[1])
        return found[1]


def seal_value(text: str | None) -> str | None:
    """``text`` sealed under the process keyring's current key (None stays None)."""
    return None if text is None else field_cipher().seal(text)


def open_value(stored: str | None) -> str | None:
    """The plaintext of a stored value (None stays None)."""
    return None if stored is None else field_cipher().open(stored)
