"""Transcatheter aortic valve planning: deployment, clinical metrics and sweeps.

:func:`deploy` expands a frame of :mod:`organfem.devices` in an aortic root
(:func:`organfem.meshing.aortic_root` or a root meshed from CT) with the
contact terms of :mod:`organfem.mechanics` and measures what a TAVI team
asks: contact pressure on the conduction system, frame shape, paravalvular
leak channels, wall stress and coronary clearance (:mod:`.metrics`).
"""

from .deploy import Deployment, RootTissue, deploy, describe
from .plan import DEFINITIONS, write_plan
from .sweep import CORONARY_RISK_MM, CPI_FLAG, Outcome, Scenario, rank, scenarios, sweep

__all__ = [
    "Deployment", "RootTissue", "deploy", "describe",
    "Scenario", "Outcome", "scenarios", "sweep", "rank", "CORONARY_RISK_MM", "CPI_FLAG",
    "write_plan", "DEFINITIONS",
]
