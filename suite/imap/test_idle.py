"""IDLE (RFC 2177): the continuation, DONE, updates pushed while idling, and input other than DONE.

Pushes are awaited with a short poll window (PUSH_WINDOW, returning as soon as the update comes),
never a sleep. A push test that sees nothing in the window ends IDLE and asks again: an update
that only comes then was not pushed (the test fails); one that never comes is another test's
rule (EXISTS, EXPUNGE and FETCH reaching other sessions at all), so the test skips naming it.
Pushes of EXPUNGE and FETCH first check that a new message is pushed, so a server that pushes
nothing fails only imap/2177/3/idle-pushes-new-messages.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import pytest

from mailspec.protocol.imap_response import Continuation, Response, Tagged, Untagged
from mailspec.wire.imap import ImapClient, ImapTimeout, mailbox_arg, untagged
from suite.imap._selected import mailbox_exists, open_box, uids
from suite.imap.test_sessions import filled, noop, remove

spec = pytest.mark.spec

PUSH_WINDOW = 5.0  # seconds an update may take to be pushed (Dovecot: about 0.5 s)
QUIET_WINDOW = 0.5  # seconds of silence that show the server is waiting for DONE

Match = Callable[[Response], bool]


def exists(n: int) -> Match:
    return lambda r: isinstance(r, Untagged) and r.kind == "EXISTS" and r.number == n


def expunge(n: int) -> Match:
    return lambda r: isinstance(r, Untagged) and r.kind == "EXPUNGE" and r.number == n


def flags_with(n: int, flag: str) -> Match:
    return lambda r: (isinstance(r, Untagged) and r.kind == "FETCH" and r.number == n and isinstance(r.data, dict)
                      and flag.lower() in {f.lower() for f in r.data.get("FLAGS", ())})  # type: ignore[union-attr]


def pushed(client: ImapClient, match: Match, window: float = PUSH_WINDOW) -> bool:
    """Whether a response matching `match` arrives within the window (other responses are dropped)."""
    deadline = time.monotonic() + window
    while (remaining := deadline - time.monotonic()) > 0:
        resp = client.poll(remaining)
        if resp is None:
            return False
        if match(resp):
            return True
    return False


def expect_push(client: ImapClient, match: Match, what: str, owner: str) -> None:
    """Pass when `what` is pushed while idling. Otherwise end IDLE: fail if DONE or the next
    NOOP brings it (it was held back), skip if it never comes (test `owner` covers that)."""
    if pushed(client, match):
        return
    after, done = client.done()
    assert done.ok, f"DONE was not answered OK: {done.raw!r}"
    if any(match(r) for r in [*after, *noop(client)]):
        pytest.fail(f"{what} was not pushed during IDLE within {PUSH_WINDOW}s; it came only after DONE")
    pytest.skip(f"{what} never reached this session, even after IDLE; {owner} covers that")


def require_push_of_new_message(client: ImapClient, other: ImapClient, mailbox: str, append, count: int) -> None:
    """`other` appends a message; skip unless the idling `client` is pushed EXISTS `count`
    (imap/2177/3/idle-pushes-new-messages owns that rule)."""
    append(other, mailbox)
    if not pushed(client, exists(count)):
        pytest.skip("a new message was not pushed during IDLE; imap/2177/3/idle-pushes-new-messages covers that")


def idling_with_peer(imap, mailbox: str, append, account, count: int) -> tuple[ImapClient, ImapClient]:
    """`count` messages in `mailbox`; session "a" idling on it and session "b" with it selected,
    once a message "b" appends has been pushed to "a" (skipped otherwise)."""
    filled(append, account, mailbox, count)
    a, b = imap(label="a"), imap(label="b")
    open_box(a, mailbox)
    open_box(b, mailbox)
    a.idle()
    require_push_of_new_message(a, b, mailbox, append, count + 1)
    return a, b


def start_idle(client: ImapClient) -> str:
    """Send IDLE and read up to its continuation (which must come); returns the IDLE tag."""
    tag = client.send_command("IDLE")
    while True:
        resp = client.read_response()
        if isinstance(resp, Continuation):
            return tag
        assert not (isinstance(resp, Tagged) and resp.tag == tag), f"IDLE was refused: {resp.raw!r}"


# -- the command itself --------------------------------------------------------------------------------


@spec("imap/2177/3/idle-answers-continuation", needs=("IDLE",))
def test_idle_answers_continuation(imap, mailbox):
    """IDLE in the selected state is answered by a "+" continuation, not by a tagged response."""
    client = imap()
    open_box(client, mailbox)
    tag = client.send_command("IDLE")
    resp = client.read_response()
    while isinstance(resp, Untagged):
        resp = client.read_response()
    assert isinstance(resp, Continuation), f"expected a '+' continuation for IDLE, got {resp.raw!r}"
    client.send_raw(b"DONE\r\n")
    assert client.complete(tag)[1].ok


@spec("imap/2177/3/done-ends-idle-with-ok", "RFC2177-3-03", needs=("IDLE",))
def test_done_ends_idle_with_ok(imap, mailbox):
    """DONE ends IDLE: the server answers the IDLE command's tag with OK."""
    client = imap()
    open_box(client, mailbox)
    client.idle()
    _, done = client.done()
    assert done.ok, f"DONE was not answered with OK for the IDLE tag: {done.raw!r}"


@spec("imap/2177/3/commands-work-after-done", "RFC2177-3-03", needs=("IDLE",))
def test_commands_work_after_done(imap, mailbox, append, account):
    """After DONE the session takes commands as before: FETCH of the selected mailbox works."""
    filled(append, account, mailbox, 1)
    client = imap()
    open_box(client, mailbox)
    client.idle()
    client.done()
    resps, done = client.run("FETCH 1 (FLAGS)")
    assert done.ok, f"FETCH after IDLE failed: {done.raw!r}"
    assert [r.number for r in untagged(resps, "FETCH")] == [1]


@spec("imap/2177/3/done-in-any-case", "RFC2177-3-03", needs=("IDLE",))
def test_done_in_any_case(imap, mailbox):
    """'done' in lower case ends IDLE like DONE (ABNF strings are case-insensitive)."""
    client = imap()
    open_box(client, mailbox)
    tag = start_idle(client)
    client.send_raw(b"done\r\n")
    _, done = client.complete(tag)
    assert done.ok, f"'done' did not end IDLE with OK: {done.raw!r}"


@spec("imap/2177/3/idle-waits-for-done", needs=("IDLE",))
def test_idle_waits_for_done(imap, mailbox):
    """Without DONE (and with nothing changing) the IDLE command is not completed."""
    client = imap()
    open_box(client, mailbox)
    tag = start_idle(client)
    while (resp := client.poll(QUIET_WINDOW)) is not None:
        assert not (isinstance(resp, Tagged) and resp.tag == tag), f"IDLE completed without DONE: {resp.raw!r}"
    client.send_raw(b"DONE\r\n")
    _, done = client.complete(tag)
    assert done.ok


@spec("imap/2177/3/idle-in-authenticated-state", needs=("IDLE",))
def test_idle_in_authenticated_state(imap):
    """IDLE is also allowed with no mailbox selected: "+" and, after DONE, OK."""
    client = imap()
    client.idle()
    _, done = client.done()
    assert done.ok, f"IDLE in the authenticated state did not end with OK: {done.raw!r}"


@spec("imap/2177/3/input-other-than-done-is-an-error", needs=("IDLE",))
def test_input_other_than_done_is_an_error(imap, mailboxes):
    """A command line sent while idling is not run: the server answers BAD (for IDLE or for that
    line), and the mailbox the line would have created does not exist."""
    client = imap()
    name = mailboxes.name("not-created")
    idle_tag = start_idle(client)
    stray_tag = client.next_tag()
    client.send_raw(stray_tag.encode() + b" CREATE " + mailbox_arg(name) + b"\r\n")
    while True:
        resp = client.read_response()
        if isinstance(resp, Tagged) and resp.tag in (idle_tag, stray_tag):
            assert resp.status == "BAD", f"a command line sent during IDLE was answered {resp.raw!r}, not BAD"
            idling = resp.tag != idle_tag
            break
        if isinstance(resp, Untagged) and resp.kind == "BAD":
            idling = True
            break
    if idling:  # the server rejected the line but still waits for DONE
        client.send_raw(b"DONE\r\n")
        with contextlib.suppress(ImapTimeout):
            client.complete(idle_tag, timeout=QUIET_WINDOW * 4)
    assert not mailbox_exists(client, name), "the command sent during IDLE was run (the mailbox exists)"


# -- pushes ------------------------------------------------------------------------------------------


@spec("imap/2177/3/idle-pushes-new-messages", needs=("IDLE",))
def test_idle_pushes_new_messages(imap, mailbox, append, account):
    """While a session idles, a message another session appends is pushed as EXISTS with the new
    count, without waiting for DONE."""
    filled(append, account, mailbox, 1)
    a, b = imap(label="a"), imap(label="b")
    open_box(a, mailbox)
    a.idle()
    append(b, mailbox)
    expect_push(a, exists(2), "EXISTS 2", "imap/3501/7.3.1/exists-reaches-other-sessions")
    _, done = a.done()
    assert done.ok


@spec("imap/2177/3/idle-pushes-expunge", needs=("IDLE",))
def test_idle_pushes_expunge(imap, mailbox, append, account):
    """While a session idles, a message another session expunges is pushed as EXPUNGE."""
    a, b = idling_with_peer(imap, mailbox, append, account, 2)
    remove(b, [uids(b)[0]])
    expect_push(a, expunge(1), "EXPUNGE 1", "imap/3501/7.4.1/expunge-reaches-other-sessions")
    _, done = a.done()
    assert done.ok


@spec("imap/2177/3/idle-pushes-flag-changes", needs=("IDLE",))
def test_idle_pushes_flag_changes(imap, mailbox, append, account):
    """While a session idles, a flag change another session makes is pushed as FETCH FLAGS."""
    a, b = idling_with_peer(imap, mailbox, append, account, 1)
    b.ok("STORE 1 +FLAGS (\\Flagged)")
    expect_push(a, flags_with(1, "\\Flagged"), "FETCH 1 (FLAGS (\\Flagged))",
                "imap/3501/7.4.2/flag-changes-reach-other-sessions")
    _, done = a.done()
    assert done.ok


@spec("imap/2177/3/idle-pushes-to-every-idler", needs=("IDLE",))
def test_idle_pushes_to_every_idler(imap, mailbox, append):
    """Two sessions idling on one mailbox are both pushed another session's new message."""
    a, c, b = imap(label="a"), imap(label="c"), imap(label="b")
    for client in (a, c):
        open_box(client, mailbox)
        client.idle()
    append(b, mailbox)
    got = {client.label: pushed(client, exists(1)) for client in (a, c)}
    if not any(got.values()):
        pytest.skip("neither idling session was pushed the new message; "
                    "imap/2177/3/idle-pushes-new-messages covers that")
    assert all(got.values()), f"only some idling sessions were pushed EXISTS: {got}"
    for client in (a, c):
        assert client.done()[1].ok
