"""MLLP transport for HL7 v2: an asyncio listener in front of the intake pipeline.

``dmp-gateway mllp --port 2575 --client <client id>`` runs :class:`MllpServer` with an
:class:`IntakeHandler` bound to one registered client (MLLP carries no token: see
:mod:`gateway.intake.registered` for how its identity is built).
"""

from __future__ import annotations

from gateway.mllp.client import MllpClient
from gateway.mllp.framing import Frame, FrameDecoder, frame
from gateway.mllp.handler import IntakeHandler
from gateway.mllp.server import MllpServer

__all__ = ["Frame", "FrameDecoder", "IntakeHandler", "MllpClient", "MllpServer", "frame"]
