"""Entity tags on what can change (appointments, slots): a stale write is a 412.

The tag is a strong validator: the SHA-256 of the resource's JSON as the API shows it,
so any change of what a client sees changes it. A write with ``If-Match`` that does not
name the current tag (or ``*``) is refused with a ``stale`` problem and changes
nothing; the comparison and the write run under the facade's lock, so no other write of
this process comes between them.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Header
from pydantic import BaseModel

from adapter.http.problems import ProblemError

#: ``If-Match``: the ETag the client last read; the write is refused (412) if it changed.
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="the ETag you last read (412 if it has changed)"),
]


def etag_of(model: BaseModel) -> str:
    """The quoted strong entity tag of a resource."""
    digest = hashlib.sha256(model.model_dump_json().encode("utf-8")).hexdigest()
    return f'"{digest[:32]}"'


def check_if_match(if_match: str | None, current: BaseModel) -> None:
    """Refuse a write whose ``If-Match`` does not name ``current``'s tag.

    Raises:
        ProblemError: ``stale`` (412) when ``if_match`` is given and names neither the
            current tag nor ``*``.
    """
    if if_match is None:
        return
    wanted = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if "*" in wanted:
        return
    tag = etag_of(current)
    if tag not in wanted:
        raise ProblemError(
            "stale", f"If-Match {if_match} is not the current ETag {tag}: read it again"
        )
