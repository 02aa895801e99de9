"""The HTTP API: a face over the EPJ facade (:class:`adapter.api.Adapter`).

:func:`create_app` builds the FastAPI application from a :class:`~adapter.runtime.Runtime`;
``epj-adapter serve`` runs it with uvicorn on ``[http] listen``. Every endpoint calls the
facade (the same use cases as the CLI and the Python API), never the store; errors are
RFC 9457 problem details (:mod:`adapter.http.problems`); bearer tokens come from the file
``[http] tokens`` names (:mod:`adapter.http.auth`).
"""

from __future__ import annotations

from adapter.http.app import create_app
from adapter.http.auth import Token, TokenFileError, hash_token, load_tokens

__all__ = ["Token", "TokenFileError", "create_app", "hash_token", "load_tokens"]
