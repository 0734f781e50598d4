"""The base of every HTTP provider adapter: one transport, one error mapping, one fixed sequence.

A subclass fills in hooks; :class:`HttpConnectorBase` does the rest once:

    build_payload(message) → post(request) → parse_status(response) → SendResult

and turns every failure on the way into our errors at the boundary:

    timeout, connection refused/reset, DNS failure, HTTP 408/429/5xx  → RetryableError
    HTTP 4xx, a provider rejection code not listed as retryable       → PermanentError
    TLS certificate failure                                           → PermanentError
    an answer we cannot read (not JSON, fields missing)               → RetryableError

An unreadable answer is retryable on purpose: the provider may have taken the message, and the core
must treat the outcome as unknown rather than as a refusal. Only the standard library is used, so
HTTP adapters need no extra; proxies are never taken from the environment (settings are explicit).
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from connectors.base import SendResult, SmsMessage
from connectors.errors import ConfigurationError, ConnectorError, PermanentError, RetryableError
from connectors.masking import mask_text

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class HttpRequest:
    """One request to the provider; ``path`` is joined to the connector's endpoint."""

    method: str
    path: str
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpResponse:
    """The provider's answer, whatever its status."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON; :class:`RetryableError` when it is not JSON (outcome unknown)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise RetryableError(f"unreadable answer (HTTP {self.status}, not JSON)") from exc


class HttpConnectorBase:
    """Transport and error mapping shared by HTTP adapters. Subclasses set :attr:`provider`."""

    provider: ClassVar[str] = "http"

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = 10.0,
        retryable_codes: Iterable[str] = (),
        proxy: str | None = None,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigurationError(f"{self.provider}: endpoint must start with http:// or https://")
        self.endpoint = endpoint.rstrip("/")
        self.timeout = float(timeout)
        self.retryable_codes = frozenset(str(code) for code in retryable_codes)
        proxies = {"http": proxy, "https": proxy} if proxy else {}
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler(proxies))

    def post(self, request: HttpRequest) -> HttpResponse:
        """Send ``request``; return the answer when its status is 2xx/3xx, else raise our error."""
        response = self._transport(request)
        if response.status in (408, 429) or response.status >= 500:
            raise RetryableError(f"{self.provider} answered HTTP {response.status}; try again later")
        if response.status >= 400:
            code = self._safe_error_code(response)
            if code is not None:
                raise self.provider_error(*code)
            raise PermanentError(f"{self.provider} refused the request with HTTP {response.status}")
        return response

    def exchange(self, request: HttpRequest, parse: Callable[[HttpResponse], T]) -> T:
        """``parse(post(request))``; an answer of an unexpected shape becomes :class:`RetryableError`."""
        response = self.post(request)
        try:
            return parse(response)
        except ConnectorError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RetryableError(
                f"{self.provider} answered in an unexpected shape ({type(exc).__name__}); outcome unknown"
            ) from exc

    def provider_error(self, code: str, message: str = "") -> ConnectorError:
        """The error for a provider rejection code: retryable when listed in ``retryable_codes``."""
        kind = RetryableError if code in self.retryable_codes else PermanentError
        detail = f": {mask_text(message)}" if message else ""
        return kind(f"{self.provider} refused with code {code}{detail}")

    def error_code(self, response: HttpResponse) -> tuple[str, str] | None:
        """Hook: the provider's (code, message) in an HTTP error answer, when it gives one."""
        return None

    def close(self) -> None:
        """Nothing to release: every request opens and closes its own connection."""

    def _safe_error_code(self, response: HttpResponse) -> tuple[str, str] | None:
        # An error page that the hook cannot read must not turn a refusal into something else.
        try:
            return self.error_code(response)
        except (ConnectorError, KeyError, TypeError, ValueError, AttributeError):
            return None

    def _transport(self, request: HttpRequest) -> HttpResponse:
        url = f"{self.endpoint}/{request.path.lstrip('/')}" if request.path else self.endpoint
        outgoing = urllib.request.Request(
            url, data=request.body, headers=dict(request.headers), method=request.method
        )
        try:
            with self._opener.open(outgoing, timeout=self.timeout) as answer:
                return HttpResponse(answer.status, answer.read(), dict(answer.headers.items()))
        except urllib.error.HTTPError as exc:
            with exc:
                return HttpResponse(exc.code, exc.read(), dict(exc.headers.items()))
        except urllib.error.URLError as exc:
            raise self._transport_error(exc.reason) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise self._transport_error(exc) from exc

    def _transport_error(self, reason: object) -> ConnectorError:
        if isinstance(reason, ssl.SSLCertVerificationError):
            return PermanentError(f"{self.provider}: TLS certificate not trusted ({reason.verify_message})")
        what = type(reason).__name__ if isinstance(reason, BaseException) else mask_text(str(reason))
        log.warning("%s: transport failure (%s)", self.provider, what)
        return RetryableError(f"{self.provider} could not be reached ({what}); try again later")


class HttpSmsConnectorBase(HttpConnectorBase):
    """An SMS provider over HTTP: the fixed sequence of :meth:`send`; subclasses fill two hooks."""

    def send(self, message: SmsMessage) -> SendResult:
        """Build the provider's request, post it, and map its answer to one :class:`SendResult`."""
        return self.exchange(self.build_payload(message), lambda answer: self.parse_status(answer, message))

    def build_payload(self, message: SmsMessage) -> HttpRequest:
        """Hook: the provider's request for ``message``."""
        raise NotImplementedError

    def parse_status(self, response: HttpResponse, message: SmsMessage) -> SendResult:
        """Hook: the provider's answer as a :class:`SendResult`; raise :meth:`provider_error` on refusal."""
        raise NotImplementedError
