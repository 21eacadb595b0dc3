"""Finished shorts to a platform through its official API (YouTube Data API first): resumable uploads, slots
filled around the channel's scheduled videos, a ledger so nothing is uploaded twice, a clean stop at the quota.

``shortskit.publish("shorts/", schedule=True)`` (or ``shortskit publish shorts/ --schedule``). The rooms: ``base``
(shorts on disk, the :class:`Publisher` protocol), ``metadata`` (OUT.json within YouTube's limits, the synthetic
label), ``slots`` (the slot plan), ``ledger`` (SQLite), ``auth`` (logins and tokens), ``youtube`` (the client),
``run`` (the whole run). ``shortskit.publish`` is this package and can be called as :func:`publish`.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from shortskit.publish.base import Publisher, Short, Uploaded, VideoMeta, find_shorts
from shortskit.publish.metadata import MetaOptions
from shortskit.publish.run import PlanRow, PublishResult, publish
from shortskit.publish.slots import SlotPlan

__all__ = [
    "MetaOptions",
    "PlanRow",
    "PublishResult",
    "Publisher",
    "Short",
    "SlotPlan",
    "Uploaded",
    "VideoMeta",
    "find_shorts",
    "publish",
]


class _CallablePackage(types.ModuleType):
    """``shortskit.publish`` stays this package (the house rule: no function hides a module) and
    ``shortskit.publish(...)`` still publishes."""

    def __call__(self, *args: Any, **kwargs: Any) -> PublishResult:
        return publish(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
