"""Throughput of the materials kernel: stress and tangent per second.

Measures :func:`organfem.materials.evaluate` (float64, NumPy in and out, as
the finite-element layer calls it at its quadrature points) for each law, on
the CPU and, where JAX sees one, on a GPU, as the median over repeats after
a warm-up call that compiles.  The row ``HolzapfelOgden (naive autodiff)`` is
the textbook ``vmap(jacfwd(grad(psi)))`` of the same energy, for comparison;
the row ``HolzapfelOgden+ActiveStress (per-point Ta)`` gives the active
tension one value per point (:func:`organfem.materials.with_parameters`), as a
time-dependent activation does.
Needs JAX and organfem, not DOLFINx::

    PYTHONPATH=. python benchmarks/materials.py --points 200000 --json out.json

The JSON maps each law name to ``{"cpu_points_per_s": ..., "gpu_points_per_s":
...}``, the GPU entry only where one was measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from organfem.materials import (
    ActiveStress,
    Guccione,
    HolzapfelOgden,
    Law,
    NeoHookean,
    VolumetricPenalty,
    evaluate,
    with_parameters,
)

__all__ = ["benchmark_laws", "naive_evaluate", "main"]

NAIVE = "HolzapfelOgden (naive autodiff)"
PER_POINT = "HolzapfelOgden+ActiveStress (per-point Ta)"


def benchmark_laws() -> dict[str, Law]:
    """The laws in the table, by name."""
    ho = HolzapfelOgden.holzapfel_ogden_2009()
    laws = [
        NeoHookean(mu=10.0, lmbda=100.0),
        Guccione.land2015_problem1(),
        ho,
        ho + VolumetricPenalty(kappa=1000.0),
        ActiveStress(Ta=60.0),
    ]
    return {law.name: law for law in laws}


def _strain_tensor(e: jax.Array) -> jax.Array:
    h = 0.5
    return jnp.array(
        [[e[0], h * e[5], h * e[4]], [h * e[5], e[1], h * e[3]], [h * e[4], h * e[3], e[2]]]
    )


def _naive_point(law: Law, e: jax.Array, R: jax.Array):
    def psi(e):
        return law.energy(_strain_tensor(e), R)

    return jax.grad(psi)(e), jax.jacfwd(jax.grad(psi))(e)


_naive_batch = jax.jit(jax.vmap(_naive_point, in_axes=(None, 0, 0)))


def naive_evaluate(law: Law, e: np.ndarray, R: np.ndarray, *, device: jax.Device):
    """``vmap(jacfwd(grad(psi)))`` over the whole batch, float64, NumPy in and out."""
    with jax.enable_x64(True), jax.default_device(device):
        law64 = jax.tree.map(lambda p: np.asarray(p, dtype=np.float64), law)
        S, D = _naive_batch(law64, e, R)
        return np.asarray(S), np.asarray(D)


def random_state(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Voigt strains of size about 0.05 and random orthonormal bases (rows f0, s0, n0)."""
    rng = np.random.default_rng(seed)
    e = 0.05 * rng.standard_normal((n, 6))
    Q, T = np.linalg.qr(rng.standard_normal((n, 3, 3)))
    Q = Q * np.sign(np.diagonal(T, axis1=1, axis2=2))[:, None, :]  # unique QR
    Q[np.linalg.det(Q) < 0, :, 2] *= -1  # proper rotations
    return e, np.ascontiguousarray(np.swapaxes(Q, 1, 2))


def points_per_second(run: Callable[[], object], n: int, repeats: int) -> float:
    """Median throughput over ``repeats`` timed calls, after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return n / statistics.median(times)


def _devices() -> dict[str, jax.Device]:
    devices = {"cpu": jax.devices("cpu")[0]}
    try:
        devices["gpu"] = jax.devices("gpu")[0]
    except RuntimeError:  # no GPU backend
        pass
    return devices


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200_000, help="quadrature points")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per law")
    parser.add_argument(
        "--workers", type=int, default=1, help="CPU threads for evaluate (see its docstring)"
    )
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args(argv)

    e, R = random_state(args.points)
    devices = _devices()
    laws = benchmark_laws()

    def fast(law, e, R, *, device):
        workers = args.workers if device.platform == "cpu" else 1
        return evaluate(law, e, R, device=device, workers=workers)

    rows = {name: (law, fast) for name, law in laws.items()}
    rows[NAIVE] = (laws["HolzapfelOgden"], naive_evaluate)
    active = laws["HolzapfelOgden"] + ActiveStress(Ta=0.0)
    rows[PER_POINT] = (with_parameters(active, Ta=np.linspace(0.0, 60.0, args.points)), fast)
    results: dict[str, dict[str, float]] = {}
    for name, (law, fn) in rows.items():
        results[name] = {
            f"{kind}_points_per_s": points_per_second(
                lambda law=law, fn=fn, device=device: fn(law, e, R, device=device),
                args.points,
                args.repeats,
            )
            for kind, device in devices.items()
        }

    columns = [f"{kind}_points_per_s" for kind in devices]
    print(
        f"{args.points} points, median of {args.repeats}, {args.workers} CPU worker(s) "
        "(float64, stress + tangent)"
    )
    print(f"{'law':<44}" + "".join(f"{c:>22}" for c in columns))
    for name, row in results.items():
        print(f"{name:<44}" + "".join(f"{row[c]:>22.3e}" for c in columns))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
