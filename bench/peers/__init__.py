"""Peer implementations the benchmarks compare contactfix against, each runnable as its own process."""

from __future__ import annotations
