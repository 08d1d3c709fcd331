"""The ``organfem`` command.

    organfem run lv-inflation [scenario options]   run a scenario of solvers/
    organfem run --list                            list the scenarios
    organfem render results.vtkhdf [--field ...]   PNG of a results file
    organfem info results.vtkhdf                   steps, scalars and provenance

Scenarios are the literate scripts in ``solvers/`` (next to the package in a
source checkout or the Docker image; set ``ORGANFEM_SOLVERS`` to point
elsewhere).  Each runs unchanged under ``mpirun -n N organfem run ...``.
Logging goes to rank 0 only.
"""

from __future__ import annotations

import argparse
import logging
import os
import runpy
import sys
from pathlib import Path

__all__ = ["main", "scenarios"]

log = logging.getLogger("organfem")


def _solvers_dir() -> Path:
    env = os.environ.get("ORGANFEM_SOLVERS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "solvers"


def scenarios() -> dict[str, Path]:
    """Scenario name (``lv-inflation``) -> script path."""
    folder = _solvers_dir()
    if not folder.is_dir():
        return {}
    return {
        p.stem.replace("_", "-"): p for p in sorted(folder.glob("*.py")) if not p.stem.startswith("_")
    }


def _rank() -> int:
    # Read from the environment so that `organfem --help` does not start MPI.
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"):
        if var in os.environ:
            return int(os.environ[var])
    return 0


def _setup_logging(verbose: bool) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    if _rank() != 0:
        level = logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _run(args: argparse.Namespace, rest: list[str]) -> int:
    available = scenarios()
    if args.list or not args.scenario:
        if _rank() == 0:
            print("scenarios (from %s):" % _solvers_dir())
            for name, path in available.items():
                doc = (path.read_text().split('"""')[1].strip().splitlines() or [""])[0]
                print(f"  {name:<24} {doc}")
        return 0
    path = Path(args.scenario)
    if not path.suffix == ".py":
        if args.scenario not in available:
            print(
                f"organfem run: unknown scenario {args.scenario!r}; available: "
                f"{', '.join(available) or 'none (set ORGANFEM_SOLVERS)'}",
                file=sys.stderr,
            )
            return 2
        path = available[args.scenario]
    namespace = runpy.run_path(str(path), run_name="organfem_scenario")
    return int(namespace["main"](rest) or 0)


def _render(args: argparse.Namespace) -> int:
    from .viz import render

    out = args.out or str(Path(args.results).with_suffix(".png"))
    png = render(args.results, out, field=args.field, step=args.step, scale=args.scale)
    print(png)
    return 0


def _info(args: argparse.Namespace) -> int:
    from .io import read_results

    results = read_results(args.results)
    print(f"{results.path}: {len(results.times)} steps, t = {results.times.tolist()}")
    for name, values in results.scalars.items():
        print(f"  {name}: {values.tolist()}")
    for key, value in sorted(results.attributes.items()):
        print(f"  {key} = {value}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="organfem",
        allow_abbrev=False,
        description="organfem: patient-specific organ digital twins (cardiac mechanics on "
        "DOLFINx, materials in JAX). Run a scenario, then render or inspect its results.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        allow_abbrev=False,
        help="run a scenario (options after the name go to the scenario)",
        description="Run a scenario script of solvers/ by name or path. Options after the "
        "name are the scenario's own; see `organfem run NAME --help`. Use under "
        "`mpirun -n N` for parallel runs.",
    )
    run.add_argument("scenario", nargs="?", help="scenario name (e.g. lv-inflation) or a .py path")
    run.add_argument("--list", action="store_true", help="list the scenarios and exit")

    render = sub.add_parser(
        "render",
        help="render a results file to PNG",
        description="Off-screen PNG of the deformed geometry of one step of a results file, "
        "coloured by a field (vector fields by magnitude).",
    )
    render.add_argument("results", help="a .vtkhdf results file")
    render.add_argument("--out", help="PNG path (default: next to the results)")
    render.add_argument("--field", default="displacement", help="field to colour by")
    render.add_argument("--step", type=int, default=-1, help="step index (default: last)")
    render.add_argument("--scale", type=float, default=1.0, help="displacement warp factor")

    info = sub.add_parser("info", help="print the steps, scalars and provenance of a results file")
    info.add_argument("results", help="a .vtkhdf results file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``organfem`` console script."""
    args, rest = _parser().parse_known_args(argv)
    if rest and args.command != "run":
        _parser().error(f"unrecognised arguments: {' '.join(rest)}")
    _setup_logging(args.verbose)
    from .errors import OrganfemError

    try:
        if args.command == "run":
            return _run(args, rest)
        if args.command == "render":
            return _render(args)
        return _info(args)
    except OrganfemError as error:
        log.error("%s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
