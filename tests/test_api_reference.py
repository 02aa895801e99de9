"""``help(Adapter)`` is the vendor's reference: every public method says what it does,
each one that raises says what (a Raises section naming the errors), and no public
signature is typed ``Any``."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any, get_type_hints

import pytest

from adapter.api import Adapter
from adapter.store.records import Event, UpsertResult

#: The public methods whose behaviour raises, and the errors each one's Raises names.
RAISES: dict[str, tuple[str, ...]] = {
    "load_slots": ("NotFound", "InvalidValue"),
    "generate_slots": ("ValueError",),
    "set_patient_list": ("NotFound", "InvalidPersonId"),
    "block_patient": ("InvalidPersonId",),
    "unblock_patient": ("InvalidPersonId",),
    "ics": ("NotFound",),
    "withdraw_slot": ("NotFound", "InvalidValue"),
    "restore_slot": ("NotFound", "InvalidValue"),
    "confirm": ("NotFound", "InvalidTransition", "InvalidValue"),
    "reject": ("NotFound", "InvalidTransition", "InvalidValue"),
    "answer_wish": ("NotFound", "InvalidTransition", "InvalidValue"),
    "book": ("NotFound", "InvalidPersonId", "InvalidValue"),
    "move": ("NotFound", "InvalidTransition", "InvalidValue"),
    "cancel": ("NotFound", "InvalidTransition"),
    "no_show": ("NotFound", "InvalidTransition"),
    "complete": ("NotFound", "InvalidTransition", "InvalidValue"),
}


def _public() -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(Adapter)
        if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property))
    }


def _raises_section(doc: str) -> str:
    _, found, rest = doc.partition("\nRaises:\n")
    return rest if found else ""


def test_every_public_member_of_adapter_has_a_docstring() -> None:
    missing = [name for name, member in _public().items() if not inspect.getdoc(member)]
    assert missing == []


@pytest.mark.parametrize(("name", "errors"), sorted(RAISES.items()))
def test_a_method_that_raises_documents_each_error_in_a_raises_section(
    name: str, errors: tuple[str, ...]
) -> None:
    section = _raises_section(inspect.getdoc(getattr(Adapter, name)) or "")
    assert section, f"Adapter.{name} has no Raises: section"
    assert [error for error in errors if error not in section] == []


def test_the_raises_check_finds_a_docstring_without_the_section() -> None:
    assert _raises_section("Do it.\n\nRaises:\n    NotFound: no such thing.") != ""
    assert _raises_section("Do it. Raises NotFound when it is not there.") == ""


def _mentions_any(hint: object) -> bool:
    return hint is Any or any(_mentions_any(arg) for arg in typing.get_args(hint))


def test_no_public_signature_of_adapter_is_typed_any() -> None:
    typed_any = []
    for name, member in _public().items():
        function = member.fget if isinstance(member, property) else member
        hints = get_type_hints(function)
        typed_any += [f"{name}.{arg}" for arg, hint in hints.items() if _mentions_any(hint)]
    assert typed_any == []
    assert _mentions_any(dict[str, Any])  # the check sees Any inside a generic


def test_the_event_feed_and_slot_loading_are_typed() -> None:
    assert get_type_hints(Adapter.iter_events)["return"] == Iterator[Event]
    assert get_type_hints(Adapter.load_slots)["return"] is UpsertResult
    assert get_type_hints(Adapter.subscribe)["callback"] == Callable[[Event], None]
    assert Event.__annotations__["payload"] == "dict[str, JsonValue]"
