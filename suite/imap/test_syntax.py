"""Command syntax and robustness (RFC 3501 §2.2, §3, §4.3, §5.5, §6.5.1, §7.1.3, §9).

What the server does with commands it cannot accept: the rejection, that nothing happens, and that
the session goes on. Only `syntax-error-is-bad` insists that the rejection is BAD (RFC 3501 §2.2.2
and §7.1.3); the other tests accept BAD or NO, so a server that answers NO fails that one test.

Malformed commands go out with `send_raw`. A line that starts with a valid tag is registered with
the reader first, so its tagged completion is accepted; a line without one gets an untagged BAD.
"""

from __future__ import annotations

from typing import cast

import pytest

from mailspec.fixtures_imap import authenticate
from mailspec.protocol.imap_response import Continuation, Response, Tagged, Untagged
from mailspec.wire.imap import ImapClient, ImapConnectionClosed, Literal, mailbox_arg, untagged
from suite.imap.test_condstore import fetched, filled, flags_of, select

spec = pytest.mark.spec
# Kept to these rows: rejected input must leave the session usable, and a server that gives up
# must say BYE before it closes (RFC3501-3.4-02).
REJECTED = ("RFC3501-2.2.2-03", "RFC3501-3.4-02")


# -- helpers ------------------------------------------------------------------------------------------


def send_line(client: ImapClient, tag: str, rest: bytes) -> None:
    """Send `tag rest CRLF` as given, the tag registered so its completion is accepted."""
    client.reader.command_sent(tag)
    client.send_raw(tag.encode() + b" " + rest + b"\r\n")


def answer(client: ImapClient, tag: str) -> tuple[list[Response], Tagged | None]:
    """The responses up to `tag`'s completion; (responses, None) when the server closed instead."""
    try:
        return client.complete(tag)
    except ImapConnectionClosed as exc:
        return exc.responses, None


def rejected(client: ImapClient, tag: str, rest: bytes) -> Tagged:
    """Send a command that must be refused; returns its completion (BAD or NO, never OK)."""
    send_line(client, tag, rest)
    _, done = client.complete(tag)
    assert done.status in ("BAD", "NO"), f"{rest!r} was accepted: {done.raw!r}"
    return done


def still_usable(client: ImapClient) -> None:
    """NOOP completes with OK: the session survived what came before."""
    _, done = client.run("NOOP")
    assert done.ok, f"NOOP after the rejected command: {done.raw!r}"


def bye_before_close(responses: list[Response]) -> None:
    byes = [r for r in responses if isinstance(r, Untagged) and r.kind == "BYE"]
    assert byes, "the server closed the connection without an untagged BYE"


# -- BAD for syntax errors -----------------------------------------------------------------------------


@spec("imap/3501/7.1.3/syntax-error-is-bad", "RFC3501-2.2.2-03", "RFC3501-9-02")
def test_syntax_error_is_bad(imap, mailbox, append, account):
    """Commands that break the grammar or that the server does not know are answered with tagged BAD."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    for n, bad in enumerate((b"MAILSPECFROB", b"SELECT", b"FETCH 1 (FLAGS", b"FETCH 0 (FLAGS)",
                             b"STORE 1 +FLAGS", b"SELECT {abc}")):
        tag = f"s{n}"
        send_line(client, tag, bad)
        _, done = client.complete(tag)
        assert done.status == "BAD", f"{bad!r}: expected a tagged BAD, got {done.raw!r}"


# -- rejected input leaves the session usable -----------------------------------------------------------


@spec("imap/3501/2.2.2/unknown-command-rejected", *REJECTED)
def test_unknown_command_rejected(imap):
    """An unknown command is refused and the session goes on."""
    client = imap()
    rejected(client, "u1", b"MAILSPECFROB now")
    still_usable(client)


@spec("imap/3501/2.2.2/missing-argument-rejected", *REJECTED)
def test_missing_argument_rejected(imap):
    """SELECT without its mailbox is refused, selects nothing, and the session goes on."""
    client = imap()
    rejected(client, "m1", b"SELECT")
    _, done = client.run("CHECK")
    assert not done.ok, "CHECK worked, so the refused SELECT selected a mailbox"
    still_usable(client)


@spec("imap/3501/2.2.2/extra-argument-rejected", "RFC3501-2.2.2-03")
def test_extra_argument_rejected(imap):
    """Commands given arguments they do not take are refused (CAPABILITY x, NOOP x)."""
    client = imap()
    for n, bad in enumerate((b"CAPABILITY now", b"NOOP now")):
        rejected(client, f"e{n}", bad)
    still_usable(client)


@spec("imap/3501/2.2.2/extra-space-rejected", "RFC3501-2.2.2-03")
def test_extra_space_rejected(imap, mailbox):
    """A doubled space between arguments is a syntax error: SELECT  <mailbox> is refused."""
    client = imap()
    rejected(client, "d1", b"SELECT  " + mailbox_arg(mailbox))
    still_usable(client)


@spec("imap/3501/2.2.2/unbalanced-parenthesis-rejected", *REJECTED)
def test_unbalanced_parenthesis_rejected(imap, mailbox, append, account):
    """FETCH with an unclosed parenthesised list is refused; a correct FETCH then works."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    rejected(client, "p1", b"FETCH 1 (FLAGS UID")
    rejected(client, "p2", b"FETCH 1 FLAGS UID)")
    resps, _ = client.ok("FETCH 1 (FLAGS UID)")
    assert 1 in fetched(resps), "FETCH 1 (FLAGS UID) after the refused ones answered nothing"


@spec("imap/3501/2.2.2/rejected-store-changes-nothing", *REJECTED)
def test_rejected_store_changes_nothing(imap, mailbox, append, account):
    """A STORE refused for its syntax leaves the message's flags as they were."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    rejected(client, "r1", b"STORE 1 +FLAGS (\\Flagged")
    rejected(client, "r2", b"STORE 1 +FLAGS \\Flagged)")
    rejected(client, "r3", b"STORE 1 +FROBS (\\Flagged)")
    resps, _ = client.ok("FETCH 1 (FLAGS)")
    assert "\\flagged" not in flags_of(fetched(resps)[1]), "a refused STORE set \\Flagged"


@spec("imap/3501/7.1.3/invalid-tag-answered-untagged", *REJECTED)
def test_invalid_tag_answered_untagged(imap):
    """A line whose tag is invalid gets an untagged BAD (there is no tag to answer), then NOOP works."""
    client = imap()
    for line in (b'a"b NOOP\r\n', b"* NOOP\r\n", b"+ NOOP\r\n"):
        client.send_raw(line)
        resp = client.read_response()
        assert isinstance(resp, Untagged) and resp.kind == "BAD", (
            f"{line!r}: expected an untagged BAD, got {resp.raw!r}")
    still_usable(client)


@spec("imap/3501/7.1.3/empty-line-does-not-disturb", *REJECTED)
def test_empty_line_does_not_disturb(imap):
    """An empty line is ignored or answered with an untagged BAD; the next command completes normally."""
    client = imap()
    client.send_raw(b"\r\n")
    resps, done = client.run("NOOP")
    assert done.ok, f"NOOP after an empty line: {done.raw!r}"
    odd = [r.raw for r in resps if not (isinstance(r, Untagged) and r.kind in ("BAD", "OK"))]
    assert not odd, f"unexpected responses after an empty line: {odd}"


@spec("imap/3501/9/nul-in-quoted-string-rejected", "RFC3501-9-04", "RFC3501-2.2.2-03")
def test_nul_in_quoted_string_rejected(imap, mailbox):
    """A quoted string holding NUL is refused (NUL is never valid) and the session goes on."""
    client = imap()
    rejected(client, "n1", b'SELECT "' + mailbox.encode() + b'\x00x"')
    still_usable(client)


@spec("imap/3501/9/zero-message-number-rejected", *REJECTED, "RFC3501-9-02")
def test_zero_message_number_rejected(imap, mailbox, append, account):
    """Message number 0 is not a number the grammar allows: FETCH 0 is refused."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    rejected(client, "z1", b"FETCH 0 (FLAGS)")
    still_usable(client)


@spec("imap/3501/9/oversized-number-rejected", *REJECTED, "RFC3501-9-02")
def test_oversized_number_rejected(imap, mailbox, append, account):
    """A message number beyond 32 bits is refused without harm to the session."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    rejected(client, "o1", b"FETCH 99999999999999999999 (FLAGS)")
    rejected(client, "o2", b"UID FETCH 4294967296 (FLAGS)")
    still_usable(client)


# -- literals ---------------------------------------------------------------------------------------------


@spec("imap/3501/4.3/bad-literal-size-rejected", *REJECTED)
def test_bad_literal_size_rejected(imap):
    """A literal whose size is not a number ({abc}, {-1}) is refused without a continuation."""
    client = imap()
    for n, bad in enumerate((b"SELECT {abc}", b"SELECT {-1}")):
        send_line(client, f"b{n}", bad)
        _, done = client.complete(f"b{n}")  # a '+' here fails the test: no literal may follow
        assert not done.ok, f"{bad!r} was accepted: {done.raw!r}"
    still_usable(client)


@spec("imap/3501/4.3/huge-literal-refused", "RFC3501-3.4-02")
def test_huge_literal_refused(imap):
    """A 20-digit literal size gets no continuation: a refusal, or BYE before the server closes."""
    client = imap()
    send_line(client, "h1", b"CREATE {99999999999999999999}")
    try:
        _, done = client.complete("h1")
    except ImapConnectionClosed as exc:
        bye_before_close(exc.responses)
        return
    assert not done.ok, f"a 20-digit literal was accepted: {done.raw!r}"
    still_usable(client)


@spec("imap/3501/4.3/synchronizing-literal-gets-continuation", "RFC3501-4.3-01", "RFC3501-9-02")
def test_synchronizing_literal_gets_continuation(imap, mailbox):
    """SELECT with the mailbox name as a synchronising literal: '+', then the command completes OK."""
    client = imap()
    name = mailbox.encode()
    send_line(client, "l1", b"SELECT {%d}" % len(name))
    first = client.read_response()
    assert isinstance(first, Continuation), f"expected a '+' continuation before the literal, got {first.raw!r}"
    client.send_raw(name + b"\r\n")
    resps, done = client.complete("l1")
    assert done.ok, f"SELECT with a literal mailbox name: {done.raw!r}"
    assert untagged(resps, "EXISTS"), "SELECT with a literal name sent no EXISTS"


@spec("imap/3501/4.3/empty-literal-gets-continuation", "RFC3501-4.3-02")
def test_empty_literal_gets_continuation(imap):
    """A zero-length literal is still a synchronising literal: the server sends '+' for {0}."""
    client = imap()
    send_line(client, "z1", b'LIST "" {0}')
    first = client.read_response()
    assert isinstance(first, Continuation), f"expected '+' for a {{0}} literal, got {first.raw!r}"
    client.send_raw(b"\r\n")
    _, done = client.complete("z1")
    assert done.ok, f'LIST "" {{0}} (the delimiter query): {done.raw!r}'


@spec("imap/3501/5.5/continuation-negotiated-before-next-command", "RFC3501-5.5-03")
def test_continuation_negotiated_before_next_command(imap, mailbox):
    """Pipelined NOOP then SELECT {n}: NOOP completes, '+' comes for the literal, then SELECT completes."""
    client = imap()
    name = mailbox.encode()
    client.reader.command_sent("q1")
    client.reader.command_sent("q2")
    client.send_raw(b"q1 NOOP\r\nq2 SELECT {%d}\r\n" % len(name))
    order: list[str] = []
    while not order or order[-1] != "+":
        resp = client.read_response()
        if isinstance(resp, Continuation):
            order.append("+")
        elif isinstance(resp, Tagged):
            order.append(resp.tag)
    assert order == ["q1", "+"], f"expected q1's completion, then '+'; got {order}"
    client.send_raw(name + b"\r\n")
    _, done = client.complete("q2")
    assert done.ok, f"SELECT with the literal name after pipelining: {done.raw!r}"


@spec("imap/3501/7.1.3/overlong-line-handled", "RFC3501-3.4-02")
def test_overlong_line_handled(imap):
    """SELECT of a 100 000-character name: refused (NO, or BAD maybe with [TOOBIG]), or BYE then close.

    Servers may limit the line length (RFC 7162 §4); either way the session must not hang, and a
    server that gives up says BYE first.
    """
    client = imap()
    send_line(client, "x1", b'SELECT "' + b"x" * 100_000 + b'"')
    resps, done = answer(client, "x1")
    if done is None:
        bye_before_close(resps)
        return
    assert not done.ok, f"SELECT of a mailbox nobody created succeeded: {done.raw!r}"
    still_usable(client)


# -- case, tags, order ------------------------------------------------------------------------------------


@spec("imap/3501/9/command-names-case-insensitive", "RFC3501-9-03")
def test_command_names_case_insensitive(imap, mailbox, append, account):
    """Command names and data item names work in any case: noop, Select, fetch ... (flags uid)."""
    filled(append, account, mailbox, 1)
    client = imap()
    for command in (b"noop", b"CaPaBiLiTy", b"Select " + mailbox_arg(mailbox), b"fetch 1 (flags uid)",
                    b"uid fetch 1:* (Flags)", b"store 1 +flags.silent (\\Seen)", b"check", b"close"):
        _, done = client.run(command)
        assert done.ok, f"{command!r} was refused: {done.raw!r}"


@spec("imap/3501/9/system-flags-case-insensitive", "RFC3501-9-03")
def test_system_flags_case_insensitive(imap, mailbox, append, account):
    """A system flag stored as \\fLaGgEd is \\Flagged: FETCH reports it, SEARCH FLAGGED finds it."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    client.ok("STORE 1 +FLAGS (\\fLaGgEd)")
    resps, _ = client.ok("FETCH 1 (FLAGS)")
    assert "\\flagged" in flags_of(fetched(resps)[1]), f"\\fLaGgEd did not set \\Flagged: {fetched(resps)[1]}"


@spec("imap/3501/9/inbox-any-case-is-inbox", "RFC3501-9-14")
def test_inbox_any_case_is_inbox(imap):
    """"iNbOx" names INBOX: STATUS gives the same UIDVALIDITY as for INBOX."""
    client = imap()
    values = []
    for name in (b"INBOX", b"iNbOx", b'"inbox"'):
        resps, _ = client.ok(b"STATUS " + name + b" (UIDVALIDITY)")
        found = [r for r in untagged(resps, "STATUS")]
        assert len(found) == 1, f"STATUS {name!r} gave {len(found)} STATUS responses"
        values.append(cast(dict[str, object], found[0].data.items)["UIDVALIDITY"])  # type: ignore[union-attr]
    assert len(set(values)) == 1, f"UIDVALIDITY of INBOX, iNbOx, \"inbox\": {values}"


@spec("imap/3501/9/literal-accepted-for-astring", "RFC3501-9-02")
def test_literal_accepted_for_astring(imap, mailbox, append, account):
    """Any astring may be a literal: STATUS with the mailbox name sent as a literal works."""
    filled(append, account, mailbox, 1)
    client = imap()
    resps, done = client.run("STATUS ", Literal(mailbox.encode(), non_sync=False), " (UIDNEXT)")
    assert done.ok, f"STATUS with a literal mailbox name: {done.raw!r}"
    assert untagged(resps, "STATUS"), "no STATUS response"


@spec("imap/3501/5.5/pipelined-commands-run-in-order", "RFC3501-5.5-05")
def test_pipelined_commands_run_in_order(imap, mailbox, append, account):
    """Pipelined STORE/FETCH pairs on one message run in the order sent, completions in that order."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    tags = ("o1", "o2", "o3", "o4")
    for tag in tags:
        client.reader.command_sent(tag)
    client.send_raw(b"o1 STORE 1 +FLAGS.SILENT (\\Flagged)\r\no2 FETCH 1 (FLAGS)\r\n"
                    b"o3 STORE 1 -FLAGS.SILENT (\\Flagged)\r\no4 FETCH 1 (FLAGS)\r\n")
    seen: list[str] = []
    flagged: list[bool] = []
    while len(seen) < len(tags):
        resp = client.read_response()
        if isinstance(resp, Tagged):
            seen.append(resp.tag)
        elif isinstance(resp, Untagged) and resp.kind == "FETCH":
            flagged.append("\\flagged" in flags_of(cast(dict[str, object], resp.data)))
    assert seen == list(tags), f"completions came in the order {seen}"
    assert flagged[:1] == [True] and flagged[-1:] == [False], (
        f"FETCH saw \\Flagged as {flagged}; expected set after o1 and cleared after o3")


@spec("imap/3501/5.5/pipelined-select-then-fetch", "RFC3501-5.5-05")
def test_pipelined_select_then_fetch(imap, mailboxes, mailbox, append, account):
    """FETCH pipelined right after SELECT of a bigger mailbox applies to the newly selected one."""
    bigger = mailboxes.create("bigger")
    filled(append, account, mailbox, 1)
    filled(append, account, bigger, 2)
    client = imap()
    select(client, mailbox)
    client.reader.command_sent("w1")
    client.reader.command_sent("w2")
    client.send_raw(b"w1 SELECT " + mailbox_arg(bigger) + b"\r\nw2 FETCH 2 (UID)\r\n")
    _, first = client.complete("w1")
    assert first.ok, f"SELECT {bigger}: {first.raw!r}"
    resps, second = client.complete("w2")
    assert second.ok and 2 in fetched(resps), (
        f"FETCH 2 after SELECT of the two-message mailbox: {second.raw!r}")


# -- states -----------------------------------------------------------------------------------------------


@spec("imap/3501/3/select-before-login-refused", "RFC3501-3.1-01")
def test_select_before_login_refused(imap, account):
    """Before login, SELECT and LIST are refused; logging in then still works."""
    client = imap(login=False)
    for command in ("SELECT INBOX", 'LIST "" "*"'):  # two: some servers hang up after a few refusals
        _, done = client.run(command)
        assert not done.ok, f"{command} was accepted before login: {done.raw!r}"
    done = authenticate(client, account)
    assert done.ok, f"logging in failed after the refused commands: {done.raw!r}"


@spec("imap/3501/3/message-commands-need-selected-state", "RFC3501-3.2-01")
def test_message_commands_need_selected_state(imap):
    """Without a selected mailbox, FETCH, STORE, SEARCH, COPY, EXPUNGE, CLOSE and UID FETCH are refused."""
    client = imap()
    for command in ("FETCH 1 (FLAGS)", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "COPY 1 INBOX",
                    "EXPUNGE", "CLOSE", "UID FETCH 1 (FLAGS)", "CHECK"):
        _, done = client.run(command)
        assert not done.ok, f"{command} was accepted in the authenticated state: {done.raw!r}"
    still_usable(client)


# RFC 3501 §6.2 limits these commands to the not-authenticated state without a keyword: no catalogue row.
@spec("imap/3501/3/login-commands-refused-when-selected")
def test_login_commands_refused_when_selected(imap, mailbox, append, account):
    """With a mailbox selected, LOGIN and STARTTLS are refused and the mailbox stays selected."""
    filled(append, account, mailbox, 1)
    client = imap()
    select(client, mailbox)
    assert not client.login(account.user, account.password).ok, "LOGIN was accepted in the selected state"
    _, done = client.run("STARTTLS")
    assert not done.ok, f"STARTTLS was accepted in the selected state: {done.raw!r}"
    resps, _ = client.ok("FETCH 1 (UID)")
    assert 1 in fetched(resps), "FETCH 1 answered nothing after the refused commands"


# RFC 3501 §6.2.2/§6.2.3 limit LOGIN and AUTHENTICATE to the not-authenticated state without a keyword.
@spec("imap/3501/3/login-after-login-refused")
def test_login_after_login_refused(imap, account):
    """A second LOGIN in the authenticated state is refused and the session stays logged in."""
    client = imap()
    assert not client.login(account.user, account.password).ok, "a second LOGIN was accepted"
    _, done = client.run('LIST "" ""')
    assert done.ok, f"LIST after the refused second LOGIN: {done.raw!r}"


@spec("imap/3501/6.5.1/no-unrequested-extension-responses", "RFC3501-6.5.1-03", "RFC3501-7.2.1-04",
      "RFC9051-6.5-02", "RFC9051-7.2.2-05")
def test_no_unrequested_extension_responses(imap, mailbox, append, account):
    """A plain RFC 3501 session gets only responses RFC 3501 defines (none of an extension's own)."""
    filled(append, account, mailbox, 2)
    client = imap()
    resps: list[Response] = []
    for command in (b"CAPABILITY", b"NOOP", b'LIST "" "*"', b"SELECT " + mailbox_arg(mailbox),
                    b"FETCH 1:* (FLAGS UID RFC822.SIZE)", b"SEARCH ALL", b"STORE 1 +FLAGS (\\Seen)",
                    b"CHECK", b"CLOSE"):
        more, _ = client.ok(command)
        resps += more
    base = {"OK", "NO", "BAD", "BYE", "CAPABILITY", "LIST", "FLAGS", "EXISTS", "RECENT", "FETCH",
            "SEARCH", "EXPUNGE"}
    odd = sorted({r.kind for r in resps if isinstance(r, Untagged) and r.kind not in base})
    assert not odd, f"untagged responses no command of this session asked for: {odd}"
