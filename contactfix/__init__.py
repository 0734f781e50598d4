"""contactfix: lost-contact repair and debtor contact engine (失联修复).

The application package: settings, database, intake, the pipeline and the command line.
It is the only package that imports :mod:`matchers` and :mod:`connectors`.
"""

from __future__ import annotations

__version__ = "0.1.0"
