"""The one error root of :mod:`connectors`. The core never sees a vendor exception: adapters map
provider errors at the boundary to one of these.

    ConnectorError
    ├── ConfigurationError   a missing extra or option; raised at start-up, naming what to install or set
    ├── RetryableError       try again later (timeouts, throttling, a dropped connection)
    └── PermanentError       never retry (invalid number, rejected content, missing authorisation)
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of every error a connector raises."""


class ConfigurationError(ConnectorError):
    """A connector cannot start: a missing optional dependency or setting, named in the message."""


class RetryableError(ConnectorError):
    """The provider may accept the same request later."""


class PermanentError(ConnectorError):
    """The provider will never accept this request; retrying is pointless."""
