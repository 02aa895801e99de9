"""FastAPI dependencies: the app's :class:`~adapter.http.context.Api`, and who may call.

* :data:`Reader`: any token for the path's clinic (a token for another clinic gets 404,
  as an unknown clinic does: it cannot learn which clinics exist);
* :data:`Writer`: an ``epj`` or ``admin`` token for the clinic (``read`` gets 403);
* :data:`Admin`: an ``admin`` token for the clinic.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapter.http.auth import Token
from adapter.http.context import Api
from adapter.http.problems import ProblemError

_bearer = HTTPBearer(auto_error=False, description="a token from [http] tokens")


def api_of(request: Request) -> Api:
    """The :class:`Api` the app was built with."""
    api = request.app.state.api
    assert isinstance(api, Api)
    return api


ApiDep = Annotated[Api, Depends(api_of)]


def authenticated(
    api: ApiDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Token:
    """The token presented as ``Authorization: Bearer``; 401 without a known one."""
    if credentials is None:
        raise ProblemError("unauthorized", "a bearer token is required")
    token = api.tokens.find(credentials.credentials)
    if token is None:
        raise ProblemError("unauthorized", "the bearer token is not known")
    return token


def for_clinic(
    api: ApiDep,
    clinic: Annotated[str, Path(description="the clinic's key")],
    token: Annotated[Token, Depends(authenticated)],
) -> Token:
    """A token that may reach the path's clinic; 404 otherwise."""
    if clinic != api.clinic or clinic not in token.clinics:
        raise ProblemError("not-found", f"no clinic {clinic}")
    return token


def writer(token: Annotated[Token, Depends(for_clinic)]) -> Token:
    """A token of the clinic that may change things; 403 for a ``read`` token."""
    if not token.may_write:
        raise ProblemError("forbidden", f"token {token.name} may only read")
    return token


def admin(token: Annotated[Token, Depends(for_clinic)]) -> Token:
    """An ``admin`` token of the clinic; 403 for any other role."""
    if token.role != "admin":
        raise ProblemError("forbidden", f"token {token.name} is not an admin token")
    return token


Reader = Annotated[Token, Depends(for_clinic)]
Writer = Annotated[Token, Depends(writer)]
Admin = Annotated[Token, Depends(admin)]
