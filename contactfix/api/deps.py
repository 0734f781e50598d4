"""What every v1 route receives, as ``Annotated`` dependencies (routes → queries → models):

    CallerDep   — the :class:`~contactfix.access.Caller` behind ``Authorization: Bearer …`` (401 if none)
    SessionDep  — a SQLAlchemy session for the request, closed after it
    SettingsDep — the settings the app was built with

The engine and settings live on the app's ``state`` (:func:`contactfix.api.v1.create_v1_app` puts
them there). One sync dependency opens the session and looks the caller up (FastAPI runs it in its
threadpool, off the event loop); the route shares that session.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from contactfix.access.caller import Caller, authenticate, bearer_token
from contactfix.access.policy import ContactView
from contactfix.settings import Settings

__all__ = ["CallerDep", "SessionDep", "SettingsDep", "view_of"]

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


def view_of(settings: Settings, organization_id: int) -> ContactView:
    """What the bank ``organization_id`` is shown of identities other banks' records are part of."""
    return ContactView(organization_id, settings.share_contacts_across_banks)
