"""connectors: channel adapters (SMS, calls, carrier lost-contact repair).

Each adapter turns a provider's API into one small protocol, and the provider's statuses and errors
into ours. Knows nothing of the database and never imports :mod:`contactfix` or :mod:`matchers`.
"""

from __future__ import annotations

from connectors.errors import ConfigurationError, ConnectorError, PermanentError, RetryableError

__all__ = ["ConfigurationError", "ConnectorError", "PermanentError", "RetryableError"]
