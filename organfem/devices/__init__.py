"""Transcatheter valve frames and their placement (numpy only).

``CATALOGUE`` holds SAPIEN 3-like balloon-expandable frames ("S3-20" to
"S3-29") and Evolut-like self-expanding frames ("EV-23" to "EV-34");
:class:`Placement` sets implant depth and tilt; :func:`frame_pose` turns a
placement and the root's landmarks into the frame's axis.
"""

from .catalogue import CATALOGUE, Device, Placement, RadialForce, device, devices, frame_pose

__all__ = ["CATALOGUE", "Device", "Placement", "RadialForce", "device", "devices", "frame_pose"]
