"""Dispatch: getting a repaired contact to its mediator, lawfully and once.

A repair writes a dispatch row in its own transaction (``planning``: the transactional outbox), the
relay enqueues due rows (``relay``), and a worker sends one (``sender``): the policy gate for the
mediator and the debtor (``gate``), the shared rate limits (``ratelimit``), a call path and the text
(``message``) through the configured connectors (``channels``). Providers' receipts and call records
come back through ``receipts``; ``status`` counts and requeues; ``mediators`` holds who gets what;
``states`` the moves a dispatch may make; ``service`` builds a worker's sender from the settings.
"""

from __future__ import annotations
