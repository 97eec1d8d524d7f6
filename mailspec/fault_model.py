"""One injectable fault: a deliberate bug of the reference server and the tests that must catch it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    protocol: str
    description: str
    caught_by: tuple[str, ...]  # test ids that must fail with the fault on
