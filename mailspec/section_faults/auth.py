"""Section faults: auth (see mailspec/section_faults/__init__.py)."""

from __future__ import annotations

from mailspec.fault_model import Fault

FAULTS: tuple[Fault, ...] = (
    Fault("imap-greeting-caps-stale", "imap",
          "the greeting's CAPABILITY code omits STARTTLS while CAPABILITY lists it",
          ("imap/3501/7.2.1/greeting-capability-code-is-current",)),
    Fault("imap-auth-cancel-no", "imap",
          "an AUTHENTICATE cancelled with '*' ends with NO instead of BAD",
          ("imap/3501/6.2.2/authenticate-cancel-is-bad",)),
    Fault("imap-plain-short-fields", "imap",
          "AUTHENTICATE PLAIN rejects as malformed (BAD) any field longer than 64 octets",
          ("imap/2595/6/plain-accepts-255-octet-fields",)),
    Fault("imap-sasl-ir-refused", "imap",
          "SASL-IR is advertised but an AUTHENTICATE initial response is answered BAD",
          ("imap/4959/3/authenticate-plain-initial-response",)),
    Fault("imap-enable-echoes-unknown", "imap",
          "ENABLED echoes unknown (X-) extension names as if they were enabled",
          ("imap/5161/3.1/enable-unknown-ignored",)),
    Fault("imap-id-name-twice", "imap",
          "the server's ID response sends the field name \"name\" twice",
          ("imap/2971/3.3/id-response-within-limits",)),
    Fault("imap-logout-no-bye-before-login", "imap",
          "LOGOUT in the not-authenticated state closes after the OK without an untagged BYE",
          ("imap/3501/6.1.3/logout-before-login",)),
    Fault("imap-tag-reuse-refused", "imap",
          "a command that reuses the previous command's tag is answered BAD",
          ("imap/9051/2.2.1/tag-reuse-accepted",)),
    Fault("imap-copy-without-selection-ok", "imap",
          "COPY in the authenticated state (no mailbox selected) answers OK",
          ("imap/3501/3/message-commands-need-selected-state",)),
    Fault("imap-expunge-without-selection-ok", "imap",
          "EXPUNGE in the authenticated state (no mailbox selected) answers OK",
          ("imap/3501/3.2/message-commands-refused-without-selection",
           "imap/3501/3/message-commands-need-selected-state")),
)
