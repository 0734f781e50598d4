"""Benchmarks for contactfix: intake and linkage, each measured against a named peer in the same run.

Figures are written to ``bench/RESULTS.md``; generated data and run logs go to ``bench/out/``
(ignored by git).
"""

from __future__ import annotations
