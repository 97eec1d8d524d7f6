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
    Fault("imap-unsubscribe-needs-mailbox", "imap",
          "UNSUBSCRIBE of a name whose mailbox no longer exists is refused with NO",
          caught_by=(
              "imap/3501/6.3.7/unsubscribe-name-without-mailbox",
          )),
    Fault("imap-list-hash-pattern-refused", "imap",
          "LIST answers NO when one pattern names an unknown \"#\" namespace, instead of ignoring that pattern",
          caught_by=(
              "imap/5258/3/unaccepted-pattern-ignored",
          )),
    Fault("imap-list-recursivematch-remote-accepted", "imap",
          "LIST (REMOTE RECURSIVEMATCH) is accepted: only RECURSIVEMATCH alone is refused as lacking a base option",
          caught_by=(
              "imap/5258/3.1/recursivematch-with-remote-only-bad",
          )),
    Fault("imap-list-return-subscribed-ignored", "imap",
          "LIST ... RETURN (SUBSCRIBED) marks no name \\Subscribed (only the SUBSCRIBED selection option does)",
          caught_by=(
              "imap/5258/3.2/subscribed-return-marks-subscribed",
          )),
    Fault("imap-list-no-childinfo", "imap",
          "LIST (SUBSCRIBED RECURSIVEMATCH) lists the unsubscribed parent but without its CHILDINFO extended data",
          caught_by=(
              "imap/5258/3.5/recursivematch-gives-childinfo",
          )),
    Fault("imap-list-status-after-all-lists", "imap",
          "LIST RETURN (STATUS) sends every STATUS response after the last LIST, not each after its LIST",
          caught_by=(
              "imap/5819/2/status-follows-each-list",
              "imap/5819/2/list-status-matches-status",
              "imap/9051/6.3.9.2/children-and-status-return-options",
          )),
    Fault("imap-list-reference-doubles-delimiter", "imap",
          "LIST puts a delimiter between reference and pattern even when the reference already ends with one",
          caught_by=(
              "imap/3501/6.3.8/reference-prefixes-pattern",
              "imap/3501/7.2.2/listed-name-works-as-reference",
          )),
    Fault("imap-list-repeated-option-bad", "imap",
          "LIST answers BAD when a selection option is given twice, e.g. (SUBSCRIBED SUBSCRIBED)",
          caught_by=(
              "imap/5258/3/repeated-option-counts-once",
          )),
)
