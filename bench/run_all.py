"""Run every benchmark in bench/ that exists: ``python -m bench.run_all [--quick]`` (``make bench``).

Each benchmark's ``main`` is called in turn; one that fails or is missing is reported and the rest still run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import time
import traceback
from collections.abc import Callable

BENCHMARKS = ("bench.intake_bench", "bench.link_bench", "bench.dispatch_bench")


def _call_main(main: Callable[..., object], argv: list[str]) -> int:
    """Call ``main(argv)``, or ``main()`` for a benchmark whose main takes no arguments."""
    try:
        takes_argv = bool(inspect.signature(main).parameters)
    except (TypeError, ValueError):
        takes_argv = True
    try:
        result = main(argv) if takes_argv else main()
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return result if isinstance(result, int) else 0


def run(module_name: str, quick: bool) -> str:
    if importlib.util.find_spec(module_name) is None:
        return "not present, skipped"
    started = time.perf_counter()
    try:
        module = importlib.import_module(module_name)
        main = module.main
        code = _call_main(main, ["--quick"] if quick else [])
    except Exception:
        traceback.print_exc()
        return f"crashed after {time.perf_counter() - started:.0f} s"
    outcome = "ok" if code == 0 else f"exit {code}"
    return f"{outcome} in {time.perf_counter() - started:.0f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    args = parser.parse_args(argv)
    summary = {}
    for module_name in BENCHMARKS:
        print(f"== {module_name}", flush=True)
        summary[module_name] = run(module_name, args.quick)
    print("\n== summary")
    for module_name, outcome in summary.items():
        print(f"{module_name}: {outcome}")
    return 0 if all(o.startswith(("ok", "not present")) for o in summary.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
