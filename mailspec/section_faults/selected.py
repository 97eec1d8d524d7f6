"""Section faults: selected (see mailspec/section_faults/__init__.py)."""

from __future__ import annotations

from mailspec.fault_model import Fault

FAULTS: tuple[Fault, ...] = ()
