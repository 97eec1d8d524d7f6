"""APPEND (RFC 3501 §6.3.11, RFC 9051 §6.3.12): literals and their handshake (RFC 3501 §4.3,
RFC 7888 LITERAL+ / LITERAL-), flags and date-time, failures that must leave the mailbox as it was,
8-bit and NUL content, and APPENDUID (RFC 4315 §3).

Messages are appended to the test's own mailbox and read back with BODY.PEEK[] in an EXAMINE
session, so no other flag or \\Seen rule is involved. Only `appenduid-matches-message` trusts the
UID inside APPENDUID; only `nonsync-literal-no-continuation` cares whether "+" follows a
non-synchronising literal (other tests use whatever the client negotiates).
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta, timezone

import pytest

from mailspec.fixtures_imap import ImapCapabilities, ImapFactory, Mailboxes
from mailspec.plugin import Spec, build_test_message
from mailspec.protocol.imap_response import Continuation, ImapProtocolViolation, Response, Tagged, Untagged
from mailspec.wire.imap import ImapClient, Literal, untagged
from suite.imap.test_mailboxes import arg, listed, opened

spec = pytest.mark.spec

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


def message(test_id: str, *, body: list[str] | None = None, headers: dict[str, str] | None = None) -> bytes:
    """A small marked test message (the suite's own header, so cleanup can find it)."""
    raw, _ = build_test_message(test_id, "mailspec", body_lines=body, headers=headers)
    return raw


def fetch_first(client: ImapClient, mailbox: str, items: str) -> dict[str, object]:
    """EXAMINE mailbox and FETCH 1 (items) -> the data items of message 1."""
    assert opened(client, mailbox).get("EXISTS") == 1, f"{mailbox} does not hold exactly one message"
    resps, done = client.run(f"FETCH 1 ({items})")
    assert done.ok, f"FETCH was refused: {done.raw!r}"
    merged: dict[str, object] = {}
    for r in untagged(resps, "FETCH"):
        if r.number == 1 and isinstance(r.data, dict):
            merged.update(r.data)
    return merged


def exists_in(client: ImapClient, mailbox: str) -> object:
    """The EXISTS count EXAMINE reports (then the mailbox is closed again)."""
    count = opened(client, mailbox).get("EXISTS")
    client.run("CLOSE")
    return count


def start_command(client: ImapClient, line: bytes) -> str:
    """Send `tag line` as it is (CRLF and literal data included); returns the tag."""
    tag = client.next_tag()
    client.reader.command_sent(tag)
    client.send_raw(tag.encode() + b" " + line)
    return tag


def until_tagged(client: ImapClient, tag: str) -> tuple[list[Response], Tagged]:
    """Every response up to the tagged completion of `tag`, continuations included."""
    got: list[Response] = []
    while True:
        resp = client.read_response()
        if isinstance(resp, Tagged) and resp.tag == tag:
            return got, resp
        got.append(resp)


# -- storing a message ----------------------------------------------------------------------------


@spec("imap/3501/6.3.11/append-stores-message-exactly", "RFC7888-3-01")
def test_append_stores_message_exactly(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """An appended message is stored octet for octet: BODY[] returns what was sent (in a literal of
    the synchronising form, the only one a server may send)."""
    client = imap()
    raw = message(spec.test_id, body=["line one", "", "line three after an empty line"])
    _, done = client.append(mailbox, raw)
    assert done.ok, f"APPEND was refused: {done.raw!r}"
    assert fetch_first(client, mailbox, "BODY.PEEK[]")["BODY[]"] == raw


@spec("imap/3501/4.3/sync-literal-gets-continuation")
def test_sync_literal_gets_continuation(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """For a synchronising literal the server asks for the data with "+" before anything else."""
    client = imap()
    raw = message(spec.test_id)
    tag = start_command(client, b"APPEND " + arg(client, mailbox) + b" {%d}\r\n" % len(raw))
    first = client.read_response()
    assert isinstance(first, Continuation), f"expected a '+' continuation, got {first.raw!r}"
    client.send_raw(raw + b"\r\n")
    _, done = client.complete(tag)
    assert done.ok, f"APPEND was refused after the continuation: {done.raw!r}"


@spec("imap/7888/3/nonsync-literal-no-continuation", "RFC7888-3-02", "RFC7888-3-03", needs=("LITERAL+",))
def test_nonsync_literal_no_continuation(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """A non-synchronising literal ({n+}) is read without a "+" continuation and the APPEND succeeds."""
    client = imap()
    raw = message(spec.test_id)
    tag = start_command(client, b"APPEND " + arg(client, mailbox) + b" {%d+}\r\n" % len(raw) + raw + b"\r\n")
    resps, done = until_tagged(client, tag)
    assert not [r for r in resps if isinstance(r, Continuation)], "the server sent '+' for a {n+} literal"
    assert done.ok, f"APPEND with a non-synchronising literal was refused: {done.raw!r}"


@spec("imap/7888/3/nonsync-literal-kept-after-syntax-error", "RFC7888-3-02", "RFC7888-3-03", needs=("LITERAL+",))
def test_nonsync_literal_kept_after_syntax_error(imap: ImapFactory, mailbox: str) -> None:
    """When a command with a {n+} literal is refused for a syntax error, the literal's octets still
    belong to that command: text inside it that looks like a command is never run."""
    client = imap()
    inner = b"INJ1 NOOP\r\n"
    line = (b"APPEND " + arg(client, mailbox) + b' "31-Foo-2020 10:00:00 +0000" {%d+}\r\n' % len(inner)
            + inner + b"\r\n")
    tag = start_command(client, line)
    try:
        _, done = until_tagged(client, tag)
        _, after = client.run("NOOP")
    except ImapProtocolViolation as exc:
        if exc.rule == "tag-echo":
            pytest.fail(f"the literal's text was run as a command of its own: {exc.line!r}")
        raise
    assert not done.ok, f"APPEND with an invalid date-time was accepted: {done.raw!r}"
    assert after.ok, f"the session did not recover: {after.raw!r}"


@spec("imap/7888/5/literal-minus-small-nonsync-accepted", "RFC7888-5-01", "RFC7888-3-03", needs=("LITERAL-",))
def test_literal_minus_small_nonsync_accepted(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """With LITERAL-, a {n+} literal of at most 4096 octets is accepted without a continuation."""
    client = imap()
    raw = message(spec.test_id)
    assert len(raw) <= 4096
    tag = start_command(client, b"APPEND " + arg(client, mailbox) + b" {%d+}\r\n" % len(raw) + raw + b"\r\n")
    resps, done = until_tagged(client, tag)
    assert not [r for r in resps if isinstance(r, Continuation)], "the server sent '+' for a {n+} literal"
    assert done.ok, f"APPEND was refused: {done.raw!r}"


@spec("imap/7888/5/literal-minus-large-nonsync-toobig", "RFC7888-5-03", "RFC7888-5-02", needs=("LITERAL-",))
def test_literal_minus_large_nonsync_toobig(imap: ImapFactory, mailbox: str) -> None:
    """With LITERAL-, APPEND announcing a {n+} literal over 4096 octets is refused: BAD [TOOBIG]
    (or BYE, after which nothing more is read)."""
    client = imap()
    tag = start_command(client, b"APPEND " + arg(client, mailbox) + b" {5000+}\r\n")
    resp = client.read_response()
    if isinstance(resp, Untagged) and resp.kind == "BYE":
        return
    assert isinstance(resp, Tagged) and resp.tag == tag, f"expected the tagged refusal, got {resp.raw!r}"
    assert resp.status == "BAD" and resp.code == "TOOBIG", f"answered {resp.raw!r}"


@spec("imap/7888/5/not-both-literal-plus-and-minus", "RFC7888-5-05")
def test_not_both_literal_plus_and_minus(imap_capabilities: ImapCapabilities) -> None:
    """A server advertises LITERAL+ or LITERAL-, never both at once."""
    for stage in (imap_capabilities.before_tls, imap_capabilities.before_login, imap_capabilities.after_login):
        upper = {c.upper() for c in stage or ()}
        assert not {"LITERAL+", "LITERAL-"} <= upper, f"both advertised together: {sorted(stage or ())}"


# -- flags and date-time ----------------------------------------------------------------------------


@spec("imap/3501/6.3.11/append-system-flags-kept", "RFC3501-6.3.11-06", "RFC9051-6.3.12-05")
def test_append_system_flags_kept(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """The system flags given to APPEND are set on the new message."""
    client = imap()
    flags = ("\\Answered", "\\Flagged", "\\Seen", "\\Draft")
    _, done = client.append(mailbox, message(spec.test_id), flags)
    assert done.ok, done.raw
    got = fetch_first(client, mailbox, "FLAGS")["FLAGS"]
    assert isinstance(got, tuple) and set(flags) <= set(got), f"FLAGS {got} lack some of {flags}"


@spec("imap/3501/6.3.11/append-keyword-kept", "RFC3501-6.3.11-06", "RFC9051-6.3.12-05")
def test_append_keyword_kept(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """A keyword given to APPEND is set on the new message when the mailbox takes new keywords."""
    client = imap()
    _, done = client.append(mailbox, message(spec.test_id), ("$MailspecKeyword",))
    assert done.ok, done.raw
    resps, done = client.select(mailbox)
    permanent = next((r.code_args for r in resps if isinstance(r, Untagged) and r.code == "PERMANENTFLAGS"), ())
    if "\\*" not in permanent and "$MailspecKeyword" not in permanent:  # type: ignore[operator]
        pytest.skip(f"the mailbox does not keep new keywords (PERMANENTFLAGS {permanent})")
    fetched, _ = client.run("FETCH 1 (FLAGS)")
    flags = [f for r in untagged(fetched, "FETCH") if isinstance(r.data, dict) for f in r.data.get("FLAGS", ())]
    assert "$MailspecKeyword" in flags, f"FLAGS {flags} lack the appended keyword"


@spec("imap/3501/6.3.11/append-without-flags-sets-none")
def test_append_without_flags_sets_none(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """A message appended without a flag list has no flags (\\Recent aside)."""
    client = imap()
    _, done = client.append(mailbox, message(spec.test_id))
    assert done.ok, done.raw
    got = fetch_first(client, mailbox, "FLAGS")["FLAGS"]
    assert isinstance(got, tuple) and set(got) <= {"\\Recent"}, f"a message appended without flags has {got}"


@spec("imap/3501/6.3.11/append-date-time-kept", "RFC3501-6.3.11-07", "RFC9051-6.3.12-06")
def test_append_date_time_kept(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """The date-time given to APPEND becomes the message's INTERNALDATE (the same instant)."""
    client = imap()
    _, done = client.append(mailbox, message(spec.test_id), date="01-Jan-2020 10:00:00 +0100")
    assert done.ok, done.raw
    got = fetch_first(client, mailbox, "INTERNALDATE")["INTERNALDATE"]
    want = datetime(2020, 1, 1, 10, 0, 0, tzinfo=timezone(timedelta(hours=1)))
    assert got == want, f"INTERNALDATE {got} is not the appended 01-Jan-2020 10:00:00 +0100"


# -- failures -----------------------------------------------------------------------------------------


@spec("imap/3501/6.3.11/append-missing-mailbox-trycreate", "RFC3501-6.3.11-10", "RFC9051-6.3.12-09")
def test_append_missing_mailbox_trycreate(imap: ImapFactory, mailboxes: Mailboxes, spec: Spec) -> None:
    """APPEND to a mailbox that does not exist fails with NO [TRYCREATE]."""
    client = imap()
    _, done = client.append(mailboxes.name("missing"), message(spec.test_id), non_sync=False)
    assert done.status == "NO" and done.code == "TRYCREATE", f"answered {done.raw!r}"


@spec("imap/3501/6.3.11/append-missing-mailbox-not-created", "RFC3501-6.3.11-09", "RFC9051-6.3.12-08")
def test_append_missing_mailbox_not_created(imap: ImapFactory, mailboxes: Mailboxes, spec: Spec) -> None:
    """APPEND to a mailbox that does not exist fails and does not create the mailbox."""
    client = imap()
    name = mailboxes.name("missing")
    _, done = client.append(name, message(spec.test_id), non_sync=False)
    assert not done.ok, f"APPEND to a missing mailbox succeeded: {done.raw!r}"
    assert name not in listed(client, name), "APPEND created the missing mailbox"


@spec("imap/3501/6.3.11/bad-date-append-stores-nothing", "RFC3501-6.3.11-08", "RFC9051-6.3.12-07")
def test_bad_date_append_stores_nothing(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """APPEND with a malformed date-time is refused and the mailbox stays empty."""
    client = imap()
    _, done = client.append(mailbox, message(spec.test_id), date="31-Foo-2020 10:00:00 +0000", non_sync=False)
    assert not done.ok, f"APPEND with date-time month 'Foo' was accepted: {done.raw!r}"
    assert exists_in(client, mailbox) == 0


@spec("imap/3501/6.3.11/multiappend-all-or-nothing", "RFC3501-6.3.11-08", "RFC9051-6.3.12-07",
      needs=("MULTIAPPEND",))
def test_multiappend_all_or_nothing(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """When one message of a MULTIAPPEND (RFC 3502) cannot be stored, none is: the second message
    here is empty, which a server refuses."""
    client = imap()
    _, done = client.run(b"APPEND " + arg(client, mailbox) + b" ", Literal(message(spec.test_id)), b" ", Literal(b""))
    if done.ok:
        pytest.skip("the server stores an empty message, so this APPEND cannot fail part-way")
    assert exists_in(client, mailbox) == 0, "the first message of a failed MULTIAPPEND was stored"


@spec("imap/3501/6.3.11/oversized-literal-refused")
def test_oversized_literal_refused(imap: ImapFactory, mailbox: str) -> None:
    """APPEND announcing a 4 GB message is refused before the data is sent (NO or BAD; [TOOBIG] for
    an IMAP4rev2 server, RFC 9051 §7.1); the session goes on."""
    client = imap()
    tag = start_command(client, b"APPEND " + arg(client, mailbox) + b" {4000000000}\r\n")
    resp = client.read_response()
    if isinstance(resp, Continuation):
        client.close()
        pytest.skip("the server is willing to read a 4 GB literal")
    assert isinstance(resp, Tagged) and resp.tag == tag, f"expected the tagged refusal, got {resp.raw!r}"
    assert resp.status in ("NO", "BAD"), f"answered {resp.raw!r}"
    if client.has_capability("IMAP4rev2"):
        assert resp.code == "TOOBIG", f"refusal without [TOOBIG]: {resp.raw!r}"
    _, done = client.run("NOOP")
    assert done.ok, f"the session did not go on: {done.raw!r}"


# -- selected mailbox, 8-bit and NUL ----------------------------------------------------------------


def _exists_values(responses: list[Response]) -> list[int]:
    return [r.number for r in responses if isinstance(r, Untagged) and r.kind == "EXISTS" and r.number is not None]


@spec("imap/3501/5.2/append-to-selected-reports-exists", "RFC3501-5.2-03", "RFC3501-5.2-01")
def test_append_to_selected_reports_exists(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """APPEND to the selected mailbox is announced with EXISTS 1, at the latest by the next NOOP."""
    client = imap()
    opened(client, mailbox, readonly=False)
    resps, done = client.append(mailbox, message(spec.test_id))
    assert done.ok, done.raw
    later, _ = client.run("NOOP")
    assert 1 in _exists_values(resps + later), "no EXISTS 1 after APPEND to the selected mailbox"


@spec("imap/3501/6.3.11/append-to-selected-exists-at-once", "RFC3501-6.3.11-11", "RFC3501-6.3.11-12",
      "RFC9051-6.3.12-13")
def test_append_to_selected_exists_at_once(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """APPEND to the selected mailbox sends EXISTS among its own responses."""
    client = imap()
    opened(client, mailbox, readonly=False)
    resps, done = client.append(mailbox, message(spec.test_id))
    assert done.ok, done.raw
    assert 1 in _exists_values(resps), "APPEND to the selected mailbox sent no EXISTS"


@spec("imap/3501/6.3.11/eight-bit-message-preserved", "RFC3501-6.3.11-03", "RFC9051-6.3.12-04")
def test_eight_bit_message_preserved(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """An 8-bit message comes back unchanged, or re-encoded in 7 bits so that decoding gives the same text."""
    client = imap()
    text = "Gr\u00fc\u00dfe aus K\u00f6ln \u2013 \u00e7a va?"
    raw = message(spec.test_id, body=[text], headers={
        "MIME-Version": "1.0", "Content-Type": "text/plain; charset=utf-8", "Content-Transfer-Encoding": "8bit"})
    assert any(b >= 0x80 for b in raw)
    _, done = client.append(mailbox, raw)
    assert done.ok, f"APPEND of an 8-bit message was refused: {done.raw!r}"
    got = fetch_first(client, mailbox, "BODY.PEEK[]")["BODY[]"]
    assert isinstance(got, bytes)
    if got != raw:
        decoded = email.message_from_bytes(got, policy=email.policy.default)
        assert decoded.get_content().rstrip("\r\n") == text, "the 8-bit text did not survive the conversion"


@spec("imap/3501/9/nul-in-append-never-stored", "RFC3501-9-04", "RFC3501-6.3.11-08")
def test_nul_in_append_never_stored(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """APPEND of a message holding a NUL octet is refused with the mailbox left empty, or stored
    without the NUL: a NUL is never sent back."""
    client = imap()
    raw = message(spec.test_id, body=["before\x00after"])
    _, done = client.append(mailbox, raw, non_sync=False)
    if not done.ok:
        assert exists_in(client, mailbox) == 0, "a refused APPEND left a message behind"
        return
    got = fetch_first(client, mailbox, "BODY.PEEK[]")["BODY[]"]
    assert isinstance(got, bytes) and b"\x00" not in got, "the stored message holds a NUL octet"


# -- RFC 4315: APPENDUID ------------------------------------------------------------------------------


def _appenduid(done: Tagged) -> tuple[int, tuple[tuple[int, int], ...]]:
    assert done.ok and done.code == "APPENDUID", f"APPEND answered without APPENDUID: {done.raw!r}"
    return done.code_args  # type: ignore[return-value]


@spec("imap/4315/3/appenduid-matches-message", needs=("UIDPLUS",))
def test_appenduid_matches_message(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """APPENDUID names the mailbox's UIDVALIDITY and the UID the appended message really has
    (RFC 4315 §3): UID FETCH of that UID returns the message."""
    client = imap()
    raw, marker = build_test_message(spec.test_id, "mailspec")
    _, done = client.append(mailbox, raw)
    uidvalidity, uids = _appenduid(done)
    uid = uids[0][0]
    assert opened(client, mailbox).get("UIDVALIDITY") == uidvalidity, "APPENDUID names another UIDVALIDITY"
    resps, done = client.run(f"UID FETCH {uid} (BODY.PEEK[HEADER.FIELDS (X-Mailspec-Test)])")
    assert done.ok, done.raw
    headers = [r.data.get("BODY[HEADER.FIELDS (X-MAILSPEC-TEST)]") for r in untagged(resps, "FETCH")
               if isinstance(r.data, dict)]
    assert len(headers) == 1 and isinstance(headers[0], bytes) and marker.encode() in headers[0], (
        f"UID {uid} from APPENDUID does not fetch the appended message: {headers}")


@spec("imap/4315/3/appenduid-single-uid-form", "RFC4315-3-04", "RFC4315-3-05", "RFC9051-7.1-05",
      "RFC9051-7.1-06", needs=("UIDPLUS",))
def test_appenduid_single_uid_form(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """For one appended message APPENDUID carries a single UID, not a set or a range like 5:5."""
    client = imap()
    _, done = client.append(mailbox, message(spec.test_id))
    _, uids = _appenduid(done)
    assert len(uids) == 1 and uids[0][0] == uids[0][1], f"APPENDUID for one message: {done.raw!r}"
    assert b":" not in done.raw.split(b"]")[0], f"APPENDUID uses the range form: {done.raw!r}"
