"""SMS adapters: ``smpp`` (SMPP 3.4 to an operator's SMSC, extra ``contactfix[smpp]``) and ``aliyun-sms``
(Alibaba Cloud SendSms over HTTPS, no extra).

The embedded default, ``outbox``, lives in :mod:`connectors.outbox`. Delivery-receipt parsing, which
needs no extra, is in :mod:`connectors.sms.receipts`.
"""

from __future__ import annotations
