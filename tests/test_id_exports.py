"""matchers.identifiers exports exactly the public names of its submodules, and refdata loads."""

from __future__ import annotations

import inspect

import matchers.identifiers as identifiers
from matchers import refdata
from matchers.identifiers import case_number, credit_code, names, phone, resident_id


def test_every_public_name_is_exported_from_one_place() -> None:
    expected: set[str] = set()
    for module in (case_number, credit_code, names, phone, resident_id):
        expected.update(module.__all__)
    assert set(identifiers.__all__) == expected
    assert sorted(identifiers.__all__) == sorted(set(identifiers.__all__))
    for name in identifiers.__all__:
        assert getattr(identifiers, name) is not None


def test_every_public_function_has_a_docstring() -> None:
    for name in identifiers.__all__:
        member = getattr(identifiers, name)
        if inspect.isfunction(member) or inspect.isclass(member):
            assert inspect.getdoc(member), name


def test_reference_data_loads_once() -> None:
    assert refdata.provinces()["35"] == "福建省"
    assert refdata.cities()["3501"] == "福州市"
    assert refdata.areas()["350103"] == refdata.Area("台江区", "3501", "35")
    assert len(refdata.areas()) > 2900
    assert set(refdata.hk_mo_tw()) == {"香港特别行政区", "澳门特别行政区", "台湾省"}
    assert len(refdata.family_names()) == 1074
    assert refdata.family_names()["欧阳"] > 0
    assert refdata.areas() is refdata.areas()
