"""A user's LV mesh file, ready for a scenario: tags checked, fibres present."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import MeshError, ParameterError, without_path
from ..meshing import MeshData
from .ldrb import ldrb_fibres

__all__ = ["LV_TAGS", "load_lv_mesh"]

log = logging.getLogger(__name__)

#: The facet tags of an LV mesh, as ``organfem mesh --anatomy lv`` writes them.
LV_TAGS = ("endo", "epi", "base")


def load_lv_mesh(path: str | Path, *, label: str = "mesh", alpha_endo: float = 60.0,
                 alpha_epi: float = -60.0) -> tuple[MeshData, str]:
    """Read an LV mesh file and give it fibres if it has none.

    Not collective (call it on one rank and distribute the mesh with
    ``Domain.from_meshdata``).

    Args:
        path: a MeshData ``.h5`` file with facet tags ``endo``, ``epi``, ``base``.
        label: how messages name the file (its role and hash, e.g.
            ``organfem.io.input_label(path, "mesh")``): never its path, which
            may identify the patient.
        alpha_endo, alpha_epi: helix angles [deg] of the LDRB fibres computed
            when the file has none.

    Returns:
        ``(mesh, fibres)``: the mesh with fibres, and where its fibres came from.

    Raises:
        ParameterError: if there is no such file.
        MeshError: if it is not a mesh file or lacks a tag (naming the tags it has).
    """
    if not Path(path).is_file():
        raise ParameterError(f"{label}: no such file (give a mesh .h5 written by "
                             "`organfem mesh`)")
    if not MeshData.is_file(path):
        raise MeshError(f"{label}: not a mesh file written by `organfem mesh` (MeshData.save)")
    try:
        mesh = MeshData.load(path)
    except MeshError as err:
        raise without_path(err, path, label) from None
    missing = [tag for tag in LV_TAGS if tag not in mesh.facet_names]
    if missing:
        raise MeshError(
            f"{label}: the mesh has no facet tag {', '.join(map(repr, missing))}; its facet "
            f"tags are {', '.join(mesh.facet_names) or 'none'}. An LV mesh needs "
            f"{', '.join(LV_TAGS)}, as `organfem mesh --anatomy lv` makes"
        )
    log.info("mesh:   %s, %s cells", label, f"{mesh.num_cells:,}")
    if mesh.fibres is not None:
        return mesh, "from the mesh file"
    rule = f"LDRB (Bayer 2012), helix {alpha_endo:+g}/{alpha_epi:+g} deg"
    log.info("fibres: the mesh has none; computing %s", rule)
    return mesh.with_fibres(ldrb_fibres(mesh, alpha_endo=alpha_endo, alpha_epi=alpha_epi)), rule
