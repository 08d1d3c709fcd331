"""Renders of results and meshes (PyVista, off-screen), the right way up and with units."""

from organfem.viz.mesh import helix_angle_field, mesh_view, render_mesh
from organfem.viz.render import render

__all__ = ["render", "render_mesh", "mesh_view", "helix_angle_field"]
