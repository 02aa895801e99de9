"""Cursor pagination, the same on every list.

A list answers ``{"items": [...], "next_cursor": "..."}``; ``next_cursor`` is null on
the last page. The cursor is opaque to clients (URL-safe base64 of the last item's sort
key); pass it back as ``?cursor=`` with the same filters. A cursor that cannot be read
is a 422 problem. Items are ordered by a key that never repeats (an id ends each key),
so a page never skips nor repeats an item present on both reads.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from adapter.http.problems import ProblemError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

SortKey = tuple[str | int, ...]

#: ``?limit=``: how many items a page holds.
Limit = Annotated[int, Query(ge=1, le=1000, description="items per page (1..1000)")]
#: ``?cursor=``: ``next_cursor`` of the page before.
Cursor = Annotated[
    str | None, Query(max_length=500, description="next_cursor of the previous page")
]


class Page(BaseModel, Generic[M]):
    """One page of a list."""

    items: list[M]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null on the last page"
    )


def encode_cursor(key: SortKey) -> str:
    """The opaque cursor for a sort key."""
    raw = json.dumps(list(key), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    """The sort key in a cursor.

    Raises:
        ProblemError: ``validation``, the cursor is not one this API made.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):
        raise ProblemError("validation", "cursor: not a cursor this API gave") from None
    if not isinstance(key, list) or not all(
        isinstance(k, str | int) and not isinstance(k, bool) for k in key
    ):
        raise ProblemError("validation", "cursor: not a cursor this API gave")
    return tuple(key)


def paginate(
    items: Iterable[T],
    key: Callable[[T], SortKey],
    render: Callable[[T], M],
    *,
    cursor: str | None,
    limit: int,
) -> Page[M]:
    """The page after ``cursor`` of ``items`` sorted by ``key``, each item rendered."""
    ordered = sorted(items, key=key)
    if cursor is not None:
        after = decode_cursor(cursor)
        try:
            ordered = [i for i in ordered if key(i) > after]
        except TypeError:
            raise ProblemError("validation", "cursor: not a cursor of this list") from None
    page = ordered[:limit]
    more = len(ordered) > limit
    return Page[M](
        items=[render(i) for i in page],
        next_cursor=encode_cursor(key(page[-1])) if more and page else None,
    )
