"""Section faults: mailboxes (see mailspec/section_faults/__init__.py)."""

from __future__ import annotations

from mailspec.fault_model import Fault

FAULTS: tuple[Fault, ...] = (
    Fault("imap-list-inner-percent-crosses", "imap",
          "LIST treats a \"%\" inside a pattern (not at its end) like \"*\", so \"a%c\" crosses hierarchy levels",
          caught_by=(
              "imap/3501/6.3.8/wildcard-inside-pattern",
          )),
    Fault("imap-list-children-only-on-request", "imap",
          "plain LIST (without RETURN (CHILDREN)) marks every mailbox \\HasNoChildren without looking for inferiors",
          caught_by=(
              "imap/3348/3/children-attributes-accurate",
          )),
    Fault("imap-list-return-children-leaf-unmarked", "imap",
          "with RETURN (CHILDREN), LIST marks parents \\HasChildren but gives leaves no children attribute",
          caught_by=(
              "imap/5258/4/children-return-option-reports-children",
              "imap/9051/6.3.9.2/children-and-status-return-options",
          )),
    Fault("imap-lsub-star-adds-parents", "imap",
          "LSUB also returns unsubscribed superiors of subscribed names that match, even with \"*\"",
          caught_by=(
              "imap/3501/6.3.9/lsub-lists-only-subscribed",
          )),
)
