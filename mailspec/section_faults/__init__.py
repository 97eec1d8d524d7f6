"""Faults added so that every RFC section the suite tests has at least one fault proving a test of it
can fail. Grouped by the part of the server they bend; `mailspec.faults.FAULTS` holds them all."""

from __future__ import annotations

from mailspec.fault_model import Fault
from mailspec.section_faults import auth, condstore, connection, mailboxes, pop3, selected

SECTION_FAULTS: tuple[Fault, ...] = (*auth.FAULTS, *mailboxes.FAULTS, *selected.FAULTS, *condstore.FAULTS,
                                     *connection.FAULTS, *pop3.FAULTS)
