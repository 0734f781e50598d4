"""Dispatch: getting a repaired contact to its mediator, lawfully and once.

Modules: ``ratelimit`` (token buckets shared by every worker, in Redis), ``errors``.
"""

from __future__ import annotations
