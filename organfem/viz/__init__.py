"""Renders of results and meshes (PyVista, off-screen)."""

from organfem.viz.mesh import render_mesh
from organfem.viz.render import render

__all__ = ["render", "render_mesh"]
