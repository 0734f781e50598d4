"""What every v1 route receives, as ``Annotated`` dependencies (routes → queries → models):

    CallerDep   — the :class:`~contactfix.access.Caller` behind ``Authorization: Bearer …`` (401 if none)
    SessionDep  — a SQLAlchemy session for the request, closed after it
    SettingsDep — the settings the app was built with
    TokenDep    — the bearer token alone (401 if none), for routes that use :func:`as_caller`

The engine and settings live on the app's ``state`` (:func:`contactfix.api.v1.create_v1_app` puts
them there). One sync dependency opens the session and looks the caller up (FastAPI runs it in its
threadpool, off the event loop); the route shares that session.

The most frequent reads (``GET /debtors/{reference}``) take :data:`TokenDep` instead and do all their
work in :func:`as_caller`: one trip to the threadpool instead of three (the dependency's entry, the
route, the dependency's exit), on an autocommit connection (no BEGIN/COMMIT round trips; the audit
entry's INSERT commits itself before the answer leaves). The caller is looked up on every request all
the same: a revoked token fails at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from contactfix.access.caller import Caller, authenticate, bearer_token
from contactfix.access.policy import ContactView
from contactfix.settings import Settings

__all__ = ["CallerDep", "SessionDep", "SettingsDep", "TokenDep", "as_caller", "view_of"]

T = TypeVar("T")

bearer = HTTPBearer(auto_error=False, description="The API token `contactfix users add` printed.")


@dataclass(frozen=True, slots=True)
class _Request:
    session: Session
    caller: Caller


def _request(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Iterator[_Request]:
    # One sync dependency opens the session and authenticates: one trip to the threadpool, not two.
    header = f"{credentials.scheme} {credentials.credentials}" if credentials is not None else None
    token = bearer_token(header)
    with Session(request.app.state.engine) as session:
        yield _Request(session, authenticate(session.connection(), token))


async def _token(credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> str:
    # Parsing the header needs no database: on the event loop, before any trip to the threadpool.
    return bearer_token(
        f"{credentials.scheme} {credentials.credentials}" if credentials is not None else None
    )


async def as_caller(request: Request, token: str, work: Callable[[Connection, Caller], T]) -> T:
    """``work(connection, caller)`` for the caller behind ``token``, in one trip to the threadpool, on
    an autocommit connection (each statement its own transaction: for reads, and the one INSERT of
    their audit entry). :class:`~contactfix.access.Unauthenticated` for an unknown or revoked token."""
    engine = request.app.state.engine

    def run() -> T:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return work(connection, authenticate(connection, token))

    return await run_in_threadpool(run)


async def _session(context: Annotated[_Request, Depends(_request)]) -> Session:
    return context.session


async def _caller(context: Annotated[_Request, Depends(_request)]) -> Caller:
    return context.caller


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(_session)]
SettingsDep = Annotated[Settings, Depends(_settings)]
CallerDep = Annotated[Caller, Depends(_caller)]
TokenDep = Annotated[str, Depends(_token)]


def view_of(settings: Settings, organization_id: int) -> ContactView:
    """What the bank ``organization_id`` is shown of identities other banks' records are part of."""
    return ContactView(organization_id, settings.share_contacts_across_banks)
