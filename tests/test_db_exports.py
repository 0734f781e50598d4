"""contactfix.db exports exactly its public names, each of which exists."""

from __future__ import annotations

import contactfix.db


def test_export_list_is_exact_and_sorted() -> None:
    exported = contactfix.db.__all__
    public = {
        name
        for name, value in vars(contactfix.db).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("contactfix.db")
    }
    public |= {"NAMING_CONVENTION"}
    assert set(exported) == public
    assert len(exported) == len(set(exported))
    assert sorted(exported, key=lambda n: (not n.isupper(), n)) == exported
