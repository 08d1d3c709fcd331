"""Renders of results and meshes (PyVista, off-screen), the right way up and with units."""

from organfem.viz.animate import animate
from organfem.viz.curves import pv_curves
from organfem.viz.mesh import helix_angle_field, mesh_view, render_mesh
from organfem.viz.pv_loop import BeatMetrics, beat_metrics, pv_loop
from organfem.viz.render import offscreen_plotter, render
from organfem.viz.tavi import contact_maps, tradeoffs

__all__ = [
    "render",
    "render_mesh",
    "mesh_view",
    "helix_angle_field",
    "pv_loop",
    "pv_curves",
    "beat_metrics",
    "BeatMetrics",
    "animate",
    "offscreen_plotter",
    "contact_maps",
    "tradeoffs",
]
