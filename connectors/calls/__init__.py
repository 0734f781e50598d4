"""Call adapters: ``aliyun-axb`` (privacy-number AXB bindings through Alibaba Cloud 号码隐私保护).

The embedded default, ``outbox``, lives in :mod:`connectors.outbox`. Call-record parsing, which needs
no extra, is :func:`connectors.calls.axb.parse_axb_call_records`.
"""

from __future__ import annotations
