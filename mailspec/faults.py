"""The fault catalogue: deliberate bugs the reference server can inject on request.

Each fault names the conformance tests that must fail when it is switched on. The project's own
tests (tests/test_sensitivity.py) run the suite once per fault and check exactly that, which proves
the suite can see the bug. `mailspec faults` prints this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    protocol: str
    description: str
    caught_by: tuple[str, ...]  # test ids that must fail with the fault on


POP3_FAULTS: tuple[Fault, ...] = (
    Fault("pop3-no-byte-stuffing", "pop3",
          "RETR and TOP send lines that begin with '.' without doubling the dot",
          ("pop3/1939/3/multiline-byte-stuffing",)),
    Fault("pop3-multiline-bare-lf", "pop3",
          "multi-line responses end lines and the terminator with LF instead of CRLF",
          ("pop3/1939/3/multiline-lines-end-crlf",)),
    Fault("pop3-status-lowercase", "pop3",
          "positive responses after login use '+ok' instead of '+OK'",
          ("pop3/1939/3/status-indicators-upper-case",)),
    Fault("pop3-unknown-command-ok", "pop3",
          "an unknown command is answered +OK",
          ("pop3/1939/3/unknown-command-err",)),
    Fault("pop3-greeting-not-ok", "pop3",
          "the greeting line lacks the +OK status indicator",
          ("pop3/1939/4/greeting-is-positive",)),
    Fault("pop3-no-maildrop-lock", "pop3",
          "a second session for the same maildrop is let in while the first holds it",
          ("pop3/1939/4/maildrop-lock-exclusive",)),
    Fault("pop3-stat-in-authorization", "pop3",
          "STAT is answered +OK in the AUTHORIZATION state",
          ("pop3/1939/5/stat-refused-in-authorization",)),
    Fault("pop3-list-size-lf-only", "pop3",
          "LIST and STAT sizes count LF line ends as one octet (off by the CRLF count)",
          ("pop3/1939/5/list-size-matches-retr", "pop3/1939/5/stat-size-matches-retr")),
    Fault("pop3-deleted-still-listed", "pop3",
          "LIST and UIDL without argument still show messages marked as deleted",
          ("pop3/1939/5/list-omits-deleted", "pop3/1939/7/uidl-omits-deleted")),
    Fault("pop3-retr-deleted-allowed", "pop3",
          "RETR of a message marked as deleted returns the message",
          ("pop3/1939/5/retr-deleted-message-err",)),
    Fault("pop3-dele-twice-ok", "pop3",
          "DELE of a message already marked as deleted answers +OK",
          ("pop3/1939/5/dele-already-deleted-err",)),
    Fault("pop3-rset-ignored", "pop3",
          "RSET answers +OK but leaves messages marked as deleted",
          ("pop3/1939/5/rset-unmarks-deleted",)),
    Fault("pop3-dele-immediate", "pop3",
          "DELE removes the message at once, so a dropped connection still loses it",
          ("pop3/1939/6/dropped-connection-deletes-nothing",)),
    Fault("pop3-quit-keeps-deleted", "pop3",
          "QUIT in TRANSACTION answers +OK but does not remove messages marked as deleted",
          ("pop3/1939/6/quit-removes-deleted",)),
    Fault("pop3-top-ignores-lines", "pop3",
          "TOP returns the whole body whatever line count is asked for",
          ("pop3/1939/7/top-returns-header-and-n-body-lines",)),
    Fault("pop3-uidl-unstable", "pop3",
          "UIDL gives a message a new unique-id in every session",
          ("pop3/1939/7/uidl-stable-across-sessions",)),
    Fault("pop3-uidl-bad-chars", "pop3",
          "unique-ids contain a space-free but out-of-range octet (0x7F)",
          ("pop3/1939/7/uidl-unique-id-syntax",)),
    Fault("pop3-apop-fixed-timestamp", "pop3",
          "the greeting's APOP timestamp is the same in every greeting",
          ("pop3/1939/7/apop-timestamp-unique",)),
    Fault("pop3-pass-without-user", "pop3",
          "PASS is accepted without a preceding successful USER (logs in the first account)",
          ("pop3/1939/7/pass-requires-user",)),
    Fault("pop3-capa-missing-uidl", "pop3",
          "CAPA omits UIDL although the UIDL command works",
          ("pop3/2449/5/capa-lists-supported-commands",)),
    Fault("pop3-short-command-limit", "pop3",
          "commands longer than 100 octets are refused (RFC 2449 requires 255)",
          ("pop3/2449/4/accepts-255-octet-command",)),
    Fault("pop3-pipelining-drops", "pop3",
          "only the first of several commands in one packet is answered, although PIPELINING is advertised",
          ("pop3/2449/6.6/pipelined-commands-answered-in-order",)),
    Fault("pop3-in-use-no-code", "pop3",
          "the maildrop-locked refusal lacks the [IN-USE] response code although RESP-CODES is advertised",
          ("pop3/2449/8.1.2/in-use-response-code",)),
    Fault("pop3-stls-after-login", "pop3",
          "STLS is accepted in the TRANSACTION state",
          ("pop3/2595/4/stls-refused-in-transaction",)),
    Fault("pop3-auth-star-ignored", "pop3",
          "an AUTH exchange answered with '*' is not cancelled (the server waits for more)",
          ("pop3/5034/4/auth-cancelled-by-star",)),
    Fault("pop3-auth-bad-base64-accepted", "pop3",
          "AUTH PLAIN responses with characters outside the base64 alphabet are decoded leniently",
          ("pop3/5034/4/auth-rejects-invalid-base64",)),
    Fault("pop3-auth-twice-ok", "pop3",
          "a second AUTH after a successful one is not rejected",
          ("pop3/5034/4/auth-after-login-rejected",)),
)

FAULTS: dict[str, Fault] = {f.name: f for f in POP3_FAULTS}


def fault_names(protocol: str | None = None) -> list[str]:
    return [f.name for f in FAULTS.values() if protocol is None or f.protocol == protocol]


def validate_faults(names: list[str] | tuple[str, ...]) -> None:
    """Raise ValueError naming the first unknown fault."""
    for n in names:
        if n not in FAULTS:
            raise ValueError(f"unknown fault {n!r}; `mailspec faults` lists them")
