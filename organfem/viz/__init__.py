"""Renders of results (PyVista, off-screen)."""

from organfem.viz.render import render

__all__ = ["render"]
