"""Privacy: the deployment's key material and the keyed hashes derived from it.

See :mod:`contactfix.privacy.keyring`. Encryption at rest, key rotation and erasure build on the same
:class:`Keyring` (one data key, one derived key per purpose, every key known by its id).
"""

from __future__ import annotations

from contactfix.privacy.keyring import (
    KEY_BYTES,
    PURPOSE_BLOCKING,
    PURPOSE_DISPATCH,
    PURPOSE_RATELIMIT,
    DataKey,
    KeyedHash,
    Keyring,
    KeyringError,
    current_keyring,
    decode_data_key,
    install_keyring,
    keyring_for,
    new_data_key,
    using_keyring,
)

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
    "keyed_hash",
    "keyring_for",
    "new_data_key",
    "using_keyring",
]


def keyed_hash(purpose: str) -> KeyedHash:
    """The process keyring's :class:`KeyedHash` for ``purpose``."""
    return current_keyring().keyed_hash(purpose)
