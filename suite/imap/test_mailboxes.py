"""Mailbox names and the mailbox commands of the authenticated state: RFC 3501 §5.1 (INBOX, the
hierarchy delimiter, modified UTF-7 names), §6.3.3-§6.3.7 (CREATE, DELETE, RENAME, SUBSCRIBE,
UNSUBSCRIBE), §6.3.10 (STATUS) and RFC 2342 (NAMESPACE).

Every mailbox is created under the test's own prefix (the `mailboxes` fixture) and removed by the
fixture afterwards. Names are sent as the session encodes them (`mailbox_arg`), except where a test
is about the encoding itself: then the exact octets are quoted by hand, and the expected octets in
LIST are written out from RFC 3501 §5.1.3, never taken from a server.

Other modules of this area (test_list, test_append, test_quota) reuse the helpers defined here.
Suite-wide rules kept here so one server bug fails one test: only
`status-messages-matches-exists` trusts STATUS MESSAGES, only `namespace-delimiter-matches-list`
compares NAMESPACE's delimiter with LIST's, and no test here trusts UIDNEXT or APPENDUID values
beyond comparing two of them from the same source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from mailspec.fixtures_imap import Appender, ImapFactory, Mailboxes
from mailspec.protocol.imap_mutf7 import MUtf7Error, decode_mutf7
from mailspec.protocol.imap_response import (
    MailboxList,
    NamespaceData,
    NamespaceDescr,
    Response,
    StatusData,
    Tagged,
    Untagged,
)
from mailspec.targets import Account
from mailspec.wire.imap import ImapClient, Literal, mailbox_arg, quote, untagged

spec = pytest.mark.spec

# RFC 5530 §3: when a refusal carries one of these codes, the code has to be the fitting one.
RFC5530_CODES = frozenset({
    "UNAVAILABLE", "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED", "PRIVACYREQUIRED",
    "CONTACTADMIN", "NOPERM", "INUSE", "EXPUNGEISSUED", "CORRUPTION", "SERVERBUG", "CLIENTBUG",
    "CANNOT", "LIMIT", "OVERQUOTA", "ALREADYEXISTS", "NONEXISTENT",
})


# -- helpers shared by the area's modules ---------------------------------------------------------


def arg(client: ImapClient, name: str | bytes) -> bytes:
    """A mailbox argument: text is encoded as the session needs, bytes are quoted exactly as given."""
    return quote(name) if isinstance(name, bytes) else mailbox_arg(name, utf8=client.reader.utf8)


def command(client: ImapClient, verb: str, *names: str | bytes, tail: str = "") -> tuple[list[Response], Tagged]:
    """`verb name...[ tail]`, e.g. command(c, "RENAME", old, new) or command(c, "STATUS", box, tail="(UNSEEN)")."""
    line = verb.encode() + b"".join(b" " + arg(client, n) for n in names)
    return client.run(line + (b" " + tail.encode() if tail else b""))


def lists(responses: list[Response], kind: str = "LIST") -> list[MailboxList]:
    """The LIST (or LSUB) data among responses, in order."""
    return [r.data for r in untagged(responses, kind) if isinstance(r.data, MailboxList)]


def list_cmd(client: ImapClient, *parts: str | bytes, verb: str = "LIST") -> tuple[list[MailboxList], Tagged]:
    """`LIST parts...` with the parts joined by spaces (text as given, so quote names yourself)."""
    line = b" ".join(p.encode() if isinstance(p, str) else p for p in (verb, *parts))
    resps, done = client.run(line)
    return lists(resps, verb), done


def listed(client: ImapClient, pattern: str | bytes, reference: str | bytes = "",
           verb: str = "LIST") -> dict[str, MailboxList]:
    """`LIST reference pattern` (or LSUB), required to succeed -> {decoded name: entry}."""
    boxes, done = list_cmd(client, arg(client, reference), arg(client, pattern), verb=verb)
    assert done.ok, f"{verb} was refused: {done.raw!r}"
    return {b.name: b for b in boxes}


def delimiter_of(client: ImapClient) -> str:
    """The hierarchy delimiter from `LIST "" ""` (RFC 3501 §6.3.8); skips on a flat namespace."""
    boxes, done = list_cmd(client, '""', '""')
    assert done.ok, f'LIST "" "" was refused: {done.raw!r}'
    if not boxes or boxes[0].delimiter is None:
        pytest.skip("the server has a flat namespace (no hierarchy delimiter)")
    return boxes[0].delimiter


def status_items(responses: list[Response]) -> dict[str, object]:
    """The items of the (one) STATUS response among responses."""
    found = [r.data for r in untagged(responses, "STATUS") if isinstance(r.data, StatusData)]
    assert len(found) == 1, f"expected one STATUS response, got {len(found)}"
    return dict(found[0].items)


def opened(client: ImapClient, mailbox: str, *, readonly: bool = True) -> dict[str, object]:
    """EXAMINE (or SELECT) -> {"EXISTS": n, "RECENT": n, "UIDVALIDITY": v, "UIDNEXT": n} as sent."""
    resps, done = client.select(mailbox, readonly=readonly)
    assert done.ok, f"{'EXAMINE' if readonly else 'SELECT'} {mailbox} was refused: {done.raw!r}"
    out: dict[str, object] = {}
    for r in resps:
        if isinstance(r, Untagged) and r.kind in ("EXISTS", "RECENT"):
            out[r.kind] = r.number
        elif isinstance(r, Untagged) and r.kind == "OK" and r.code in ("UIDVALIDITY", "UIDNEXT"):
            out[r.code] = r.code_args
    return out


def assert_5530_code(done: Tagged, expected: str) -> None:
    """A refusal is NO; when it names an RFC 5530 code, that code is `expected` (RFC 5530 §3)."""
    assert done.status == "NO", f"expected a tagged NO, got {done.raw!r}"
    if done.code in RFC5530_CODES:
        assert done.code == expected, f"the refusal names [{done.code}], RFC 5530 §3 has [{expected}] for this"


def only_suite_messages_in_inbox(client: ImapClient) -> None:
    """Skip unless every message in INBOX is one the suite made (RENAME INBOX moves them all)."""
    every, done = client.run("SEARCH ALL")
    ours, done2 = client.run(b'SEARCH HEADER X-Mailspec-Test ""')
    assert done.ok and done2.ok, f"SEARCH in INBOX was refused: {done.raw!r} {done2.raw!r}"
    numbers = [set(r.data.numbers) for r in (*untagged(every, "SEARCH"), *untagged(ours, "SEARCH"))]  # type: ignore[attr-defined]
    if len(numbers) == 2 and numbers[0] != numbers[1]:
        pytest.skip("INBOX holds messages the suite did not create; RENAME INBOX would move them")


@dataclass
class Subscriptions:
    """Subscribes names for a test and unsubscribes them all afterwards (subscriptions outlive
    mailboxes, so the mailbox cleanup does not remove them)."""

    mailboxes: Mailboxes
    names: list[str] = field(default_factory=list)

    def subscribe(self, client: ImapClient, name: str) -> None:
        self.names.append(name)
        _, done = command(client, "SUBSCRIBE", name)
        assert done.ok, f"SUBSCRIBE {name} was refused: {done.raw!r}"

    def cleanup(self) -> None:
        if not self.names:
            return
        client = self.mailboxes.setup_client()
        for name in self.names:
            command(client, "UNSUBSCRIBE", name)


@pytest.fixture(name="subscriptions")
def subscriptions_fixture(mailboxes: Mailboxes) -> Iterator[Subscriptions]:
    """Names the test subscribes, unsubscribed again at teardown."""
    subs = Subscriptions(mailboxes)
    yield subs
    subs.cleanup()


def create(client: ImapClient, *names: str | bytes) -> None:
    """CREATE each name in order, each required to succeed (set-up of a test's hierarchy)."""
    for name in names:
        _, done = command(client, "CREATE", name)
        assert done.ok, f"CREATE {name!r} was refused: {done.raw!r}"


# -- RFC 3501 §5.1: INBOX and the hierarchy ---------------------------------------------------------


@spec("imap/3501/5.1/inbox-name-case-insensitive", "RFC3501-9-14")
def test_inbox_name_case_insensitive(imap: ImapFactory) -> None:
    """"iNbOx" names INBOX: STATUS on it reports INBOX's UIDVALIDITY."""
    client = imap()
    want, done = client.run('STATUS INBOX (UIDVALIDITY)')
    got, done2 = client.run('STATUS "iNbOx" (UIDVALIDITY)')
    assert done.ok, done.raw
    assert done2.ok, f"STATUS on a case variant of INBOX was refused: {done2.raw!r}"
    assert status_items(got) == status_items(want)


@spec("imap/3501/5.1/inbox-any-case-lists-as-inbox", "RFC3501-9-14", "RFC3501-6.3.8-03")
def test_inbox_any_case_lists_as_inbox(imap: ImapFactory) -> None:
    """LIST with the pattern "InBoX" returns INBOX, once."""
    client = imap()
    boxes, done = list_cmd(client, '""', '"InBoX"')
    assert done.ok, done.raw
    assert [b.name for b in boxes] == ["INBOX"], f"LIST \"\" InBoX returned {[b.raw_name for b in boxes]}"


@spec("imap/3501/5.1.1/hierarchy-uses-one-delimiter", "RFC3501-5.1.1-01", "RFC9051-5.1.1-01", "RFC3501-7.2.2-02")
def test_hierarchy_uses_one_delimiter(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """A child is listed as parent + one ASCII delimiter + leaf, with the delimiter LIST "" "" gives,
    and every level of the hierarchy reports the same delimiter."""
    client = imap()
    d = delimiter_of(client)
    assert len(d) == 1 and d.isascii(), f"the delimiter {d!r} is not one ASCII character"
    parent = mailboxes.name("top")
    child, grandchild = f"{parent}{d}mid", f"{parent}{d}mid{d}leaf"
    create(client, parent, child, grandchild)
    got = listed(client, f"{parent}*")
    assert set(got) == {parent, child, grandchild}, f"LIST {parent}* returned {sorted(got)}"
    assert {b.delimiter for b in got.values()} == {d}, f"delimiters differ: {[b.delimiter for b in got.values()]}"


# -- RFC 3501 §5.1.3: modified UTF-7 ------------------------------------------------------------------


def _created_raw(client: ImapClient, mailboxes: Mailboxes, raw_leaf: bytes) -> bytes:
    """CREATE prefix+raw_leaf with exactly those octets; returns the full raw name."""
    raw = mailboxes.name("u").encode() + raw_leaf
    _, done = client.run(b"CREATE " + quote(raw))
    assert done.ok, f"CREATE {raw!r} was refused: {done.raw!r}"
    return raw


def _raw_names(client: ImapClient, pattern: bytes) -> set[bytes]:
    boxes, done = list_cmd(client, '""', quote(pattern))
    assert done.ok, done.raw
    return {b.raw_name for b in boxes}


@spec("imap/3501/5.1.3/mutf7-name-kept-exactly", "RFC3501-5.1.3-01", "RFC3501-5.1.3-02", "RFC3501-5.1.3-03")
def test_mutf7_name_kept_exactly(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """A name with a modified BASE64 run ("Entw&APw-rfe", i.e. Entwürfe) is listed with the same octets."""
    client = imap()
    raw = _created_raw(client, mailboxes, b"Entw&APw-rfe")
    assert _raw_names(client, raw) == {raw}
    assert decode_mutf7(raw).endswith("Entw\u00fcrfe")


@spec("imap/3501/5.1.3/ampersand-name-encoded", "RFC3501-5.1.3-06")
def test_ampersand_name_encoded(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """A name holding "&" ("R&-D" on the wire) is listed as "R&-D" and can be opened by that name."""
    client = imap()
    raw = _created_raw(client, mailboxes, b"R&-D")
    assert _raw_names(client, raw) == {raw}
    _, done = client.run(b"EXAMINE " + quote(raw))
    assert done.ok, f"EXAMINE {raw!r} was refused: {done.raw!r}"


@spec("imap/3501/5.1.3/base64-case-is-significant", "RFC3501-5.1.3-03", "RFC3501-5.1-04")
def test_base64_case_is_significant(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """Two names whose modified BASE64 differs only in letter case are two mailboxes.

    "&AOQA9gD8-" is U+00E4 U+00F6 U+00FC; "&aoqa9Gd8-" is U+6A8A U+9AF4 U+677C (worked out by hand
    from RFC 2045's alphabet); a server folding the case of BASE64 would merge them."""
    client = imap()
    first = _created_raw(client, mailboxes, b"&AOQA9gD8-")
    second = first[:-len(b"&AOQA9gD8-")] + b"&aoqa9Gd8-"
    _, done = client.run(b"CREATE " + quote(second))
    assert done.ok, f"CREATE {second!r} was refused (taken for {first!r}?): {done.raw!r}"
    assert _raw_names(client, first[:-len(b"&AOQA9gD8-")] + b"*") == {first, second}
    assert decode_mutf7(second).endswith("\u6a8a\u9af4\u677c")


def _refused_name(client: ImapClient, mailboxes: Mailboxes, raw_leaf: bytes) -> None:
    """CREATE with an ill-formed modified UTF-7 name must fail and leave no such mailbox."""
    raw = mailboxes.name("bad").encode() + raw_leaf
    _, done = client.run(b"CREATE " + quote(raw))
    if done.ok:  # remove it at once: LIST would otherwise carry the bad name into other tests
        client.run(b"DELETE " + quote(raw))
    assert not done.ok, f"CREATE of the ill-formed name {raw!r} was accepted"


@spec("imap/3501/5.1.3/unterminated-shift-refused", "RFC3501-5.1.3-04")
def test_unterminated_shift_refused(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """CREATE of a name whose "&" run is never closed by "-" ("bad&Jjo") is refused."""
    _refused_name(imap(), mailboxes, b"bad&Jjo")


@spec("imap/3501/5.1.3/base64-for-printable-ascii-refused", "RFC3501-5.1.3-04")
def test_base64_for_printable_ascii_refused(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """CREATE of a name that encodes the printable "a" in BASE64 ("&AGE-") is refused."""
    _refused_name(imap(), mailboxes, b"&AGE-")


@spec("imap/3501/5.1.3/superfluous-shift-refused", "RFC3501-5.1.3-04")
def test_superfluous_shift_refused(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """CREATE of a name with two BASE64 runs back to back ("&AOQ-&APY-") is refused."""
    _refused_name(imap(), mailboxes, b"&AOQ-&APY-")


@spec("imap/3501/5.1/eight-bit-name-refused", "RFC3501-5.1-02")
def test_eight_bit_name_refused(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """Without UTF-8 enabled, CREATE of a name in raw 8-bit octets is refused."""
    client = imap()
    raw = mailboxes.name("raw").encode() + "Gr\u00f6\u00dfe".encode()
    _, done = client.run(b"CREATE ", Literal(raw))
    if done.ok:
        client.run(b"DELETE ", Literal(raw))
    assert not done.ok, f"CREATE of the 8-bit name {raw!r} was accepted"


# -- RFC 3501 §6.3.3: CREATE ------------------------------------------------------------------------


@spec("imap/3501/6.3.3/create-makes-selectable-mailbox")
def test_create_makes_selectable_mailbox(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """After CREATE succeeds, the new mailbox is listed and SELECT opens it, empty."""
    client = imap()
    name = mailboxes.name()
    _, done = command(client, "CREATE", name)
    assert done.ok, f"CREATE was refused: {done.raw!r}"
    assert name in listed(client, name)
    assert opened(client, name, readonly=False).get("EXISTS") == 0


@spec("imap/3501/6.3.3/create-existing-fails")
def test_create_existing_fails(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """CREATE of a name that exists fails with NO (and [ALREADYEXISTS] when an RFC 5530 code is used)."""
    client = imap()
    name = mailboxes.name()
    create(client, name)
    _, done = command(client, "CREATE", name)
    assert_5530_code(done, "ALREADYEXISTS")


@spec("imap/3501/6.3.3/create-inbox-fails")
def test_create_inbox_fails(imap: ImapFactory) -> None:
    """CREATE INBOX fails: the name INBOX always exists (RFC 3501 §6.3.3)."""
    _, done = imap().run("CREATE INBOX")
    assert_5530_code(done, "ALREADYEXISTS")


@spec("imap/3501/6.3.3/trailing-delimiter-ignored", "RFC3501-6.3.3-01", "RFC9051-6.3.4-06")
def test_trailing_delimiter_ignored(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """CREATE "name/" (trailing delimiter) on a server that does not need that hint creates the
    ordinary mailbox "name": listed without \\Noselect and selectable."""
    client = imap()
    d = delimiter_of(client)
    plain = mailboxes.name("plain")
    create(client, plain)
    _, done = command(client, "CREATE", f"{plain}{d}child")
    if not done.ok:
        pytest.skip(f"a name created without the hint cannot get children here ({done.raw!r}): "
                    "the server may need the declaration")
    name = mailboxes.name()
    _, done = command(client, "CREATE", name + d)
    assert done.ok, f"CREATE with a trailing delimiter was refused: {done.raw!r}"
    got = listed(client, name)
    assert name in got, f"LIST {name} returned {sorted(got)}"
    assert not got[name].has("\\Noselect"), f"the hint made a \\Noselect name: {got[name].flags}"
    assert opened(client, name).get("EXISTS") == 0


@spec("imap/3501/6.3.3/create-makes-superior-levels", "RFC3501-6.3.3-02", "RFC3501-6.3.3-03")
def test_create_makes_superior_levels(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """CREATE "a/b/c" where "a" does not exist also brings "a" and "a/b" into the hierarchy."""
    client = imap()
    d = delimiter_of(client)
    top = mailboxes.name()
    create(client, f"{top}{d}b{d}c")
    assert set(listed(client, f"{top}*")) == {top, f"{top}{d}b", f"{top}{d}b{d}c"}


@spec("imap/3501/6.3.3/recreated-mailbox-uids-not-reused", "RFC3501-6.3.3-04", "RFC3501-6.3.4-03",
      "RFC9051-6.3.4-09", "RFC9051-6.3.5-07", needs=("UIDPLUS",))
def test_recreated_mailbox_uids_not_reused(imap: ImapFactory, mailboxes: Mailboxes, append: Appender) -> None:
    """A mailbox deleted and created again either has a new UIDVALIDITY or gives UIDs above the old ones."""
    client = imap()
    name = mailboxes.create()
    old = append(client, name)
    _, done = command(client, "DELETE", name)
    assert done.ok, done.raw
    create(client, name)
    new = append(client, name)
    assert new.uidvalidity != old.uidvalidity or new.uid > old.uid, (
        f"UID {new.uid} reused under the same UIDVALIDITY {new.uidvalidity} (old UID {old.uid})")


# -- RFC 3501 §6.3.4: DELETE ------------------------------------------------------------------------


@spec("imap/3501/6.3.4/delete-removes-mailbox")
def test_delete_removes_mailbox(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """After DELETE succeeds the name is no longer listed and cannot be selected."""
    client = imap()
    name = mailboxes.create()
    _, done = command(client, "DELETE", name)
    assert done.ok, f"DELETE was refused: {done.raw!r}"
    assert name not in listed(client, name)
    _, done = client.select(name)
    assert not done.ok, "SELECT of a deleted mailbox succeeded"


@spec("imap/3501/6.3.4/delete-inbox-fails")
def test_delete_inbox_fails(imap: ImapFactory) -> None:
    """DELETE INBOX is an error: it fails with NO and INBOX stays."""
    client = imap()
    _, done = client.run("DELETE INBOX")
    assert done.status == "NO", f"DELETE INBOX answered {done.raw!r}"
    assert "INBOX" in listed(client, "INBOX")


@spec("imap/3501/6.3.4/delete-nonexistent-fails")
def test_delete_nonexistent_fails(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """DELETE of a name that does not exist fails with NO ([NONEXISTENT] when an RFC 5530 code is used)."""
    _, done = command(imap(), "DELETE", mailboxes.name("never-created"))
    assert_5530_code(done, "NONEXISTENT")


@spec("imap/3501/6.3.4/delete-keeps-inferiors", "RFC3501-6.3.4-01", "RFC3501-6.3.4-02",
      "RFC9051-6.3.5-02", "RFC9051-6.3.5-03")
def test_delete_keeps_inferiors(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """DELETE of a mailbox that has a child, whether allowed or refused, leaves the child in place."""
    client = imap()
    d = delimiter_of(client)
    parent = mailboxes.name()
    child = f"{parent}{d}child"
    create(client, parent, child)
    command(client, "DELETE", parent)
    assert child in listed(client, child), "the child went with its parent"
    assert opened(client, child).get("EXISTS") == 0


def _noselect_parent_or_skip(client: ImapClient, mailboxes: Mailboxes) -> str:
    """A \\Noselect name with a child: DELETE of a parent that has one (skips when refused)."""
    d = delimiter_of(client)
    parent = mailboxes.name()
    create(client, parent, f"{parent}{d}child")
    _, done = command(client, "DELETE", parent)
    if not done.ok:
        pytest.skip(f"the server refuses DELETE of a mailbox with inferiors ({done.raw!r}), as it may")
    return parent


@spec("imap/3501/6.3.4/delete-with-inferiors-leaves-noselect")
def test_delete_with_inferiors_leaves_noselect(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """When DELETE of a mailbox with a child succeeds, the name stays, listed as \\Noselect."""
    client = imap()
    parent = _noselect_parent_or_skip(client, mailboxes)
    got = listed(client, parent)
    assert parent in got and got[parent].has("\\Noselect"), f"LIST {parent} returned {list(got.values())}"


@spec("imap/3501/6.3.4/delete-noselect-with-inferiors-fails")
def test_delete_noselect_with_inferiors_fails(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """DELETE of a \\Noselect name that still has a child is an error (tagged NO)."""
    client = imap()
    parent = _noselect_parent_or_skip(client, mailboxes)
    _, done = command(client, "DELETE", parent)
    assert done.status == "NO", f"DELETE of a \\Noselect name with inferiors answered {done.raw!r}"


# -- RFC 3501 §6.3.5: RENAME ------------------------------------------------------------------------


@spec("imap/3501/6.3.5/rename-moves-mailbox")
def test_rename_moves_mailbox(imap: ImapFactory, mailboxes: Mailboxes, append: Appender) -> None:
    """After RENAME old new, only the new name is listed and it holds the old mailbox's message."""
    client = imap()
    old, new = mailboxes.create(), mailboxes.name()
    append(client, old)
    _, done = command(client, "RENAME", old, new)
    assert done.ok, f"RENAME was refused: {done.raw!r}"
    got = listed(client, f"{mailboxes.prefix}*")
    assert new in got and old not in got, f"after RENAME the prefix lists {sorted(got)}"
    assert opened(client, new).get("EXISTS") == 1


@spec("imap/3501/6.3.5/rename-moves-inferiors", "RFC3501-6.3.5-01", "RFC9051-6.3.6-02")
def test_rename_moves_inferiors(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """RENAME of a mailbox with a child renames the child along with it."""
    client = imap()
    d = delimiter_of(client)
    old, new = mailboxes.name(), mailboxes.name()
    create(client, old, f"{old}{d}kid")
    _, done = command(client, "RENAME", old, new)
    assert done.ok, f"RENAME was refused: {done.raw!r}"
    got = listed(client, f"{mailboxes.prefix}*")
    assert f"{new}{d}kid" in got, f"the child did not move: {sorted(got)}"
    assert f"{old}{d}kid" not in got, f"the child is still under the old name: {sorted(got)}"


@spec("imap/3501/6.3.5/rename-to-existing-fails")
def test_rename_to_existing_fails(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """RENAME onto a name that exists fails with NO ([ALREADYEXISTS] when an RFC 5530 code is used)
    and both mailboxes stay."""
    client = imap()
    one, two = mailboxes.name(), mailboxes.name()
    create(client, one, two)
    _, done = command(client, "RENAME", one, two)
    assert_5530_code(done, "ALREADYEXISTS")
    assert {one, two} <= set(listed(client, f"{mailboxes.prefix}*"))


@spec("imap/3501/6.3.5/rename-nonexistent-fails")
def test_rename_nonexistent_fails(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """RENAME of a name that does not exist fails with NO ([NONEXISTENT] when an RFC 5530 code is used)."""
    client = imap()
    missing, target = mailboxes.name("missing"), mailboxes.name()
    _, done = command(client, "RENAME", missing, target)
    assert_5530_code(done, "NONEXISTENT")
    assert target not in listed(client, target)


@spec("imap/3501/6.3.5/rename-inbox-moves-messages")
def test_rename_inbox_moves_messages(imap: ImapFactory, mailboxes: Mailboxes, append: Appender) -> None:
    """RENAME INBOX moves every INBOX message into the new mailbox and leaves INBOX empty."""
    client = imap()
    append(client, "INBOX")
    append(client, "INBOX")
    before = opened(client, "INBOX")
    only_suite_messages_in_inbox(client)
    client.run("CLOSE")
    new = mailboxes.name("old-inbox")
    _, done = command(client, "RENAME", "INBOX", new)
    assert done.ok, f"RENAME INBOX was refused: {done.raw!r}"
    assert opened(client, new).get("EXISTS") == before["EXISTS"], "not every INBOX message moved"
    assert opened(client, "INBOX").get("EXISTS") == 0, "INBOX still holds messages after RENAME INBOX"


@spec("imap/3501/6.3.5/rename-inbox-keeps-inbox")
def test_rename_inbox_keeps_inbox(imap: ImapFactory, mailboxes: Mailboxes, append: Appender) -> None:
    """After RENAME INBOX, INBOX still exists: it is listed and can be selected."""
    client = imap()
    append(client, "INBOX")
    opened(client, "INBOX")
    only_suite_messages_in_inbox(client)
    client.run("CLOSE")
    _, done = command(client, "RENAME", "INBOX", mailboxes.name("old-inbox"))
    assert done.ok, f"RENAME INBOX was refused: {done.raw!r}"
    assert "INBOX" in listed(client, "INBOX")
    _, done = client.select("INBOX")
    assert done.ok, f"SELECT INBOX after RENAME INBOX was refused: {done.raw!r}"


@spec("imap/3501/6.3.5/renamed-name-uids-not-reused", "RFC3501-6.3.5-04", "RFC9051-6.3.6-05",
      needs=("UIDPLUS",))
def test_renamed_name_uids_not_reused(imap: ImapFactory, mailboxes: Mailboxes, append: Appender) -> None:
    """A mailbox created under a name that was renamed away has a new UIDVALIDITY or UIDs above the old ones."""
    client = imap()
    name = mailboxes.create()
    old = append(client, name)
    _, done = command(client, "RENAME", name, mailboxes.name())
    assert done.ok, done.raw
    create(client, name)
    new = append(client, name)
    assert new.uidvalidity != old.uidvalidity or new.uid > old.uid, (
        f"UID {new.uid} reused under the same UIDVALIDITY {new.uidvalidity} (old UID {old.uid})")


@spec("imap/3501/6.3.5/rename-makes-superior-levels", "RFC3501-6.3.5-02", "RFC3501-6.3.5-03")
def test_rename_makes_superior_levels(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """RENAME to "x/y/z" where "x" does not exist also brings "x" and "x/y" into the hierarchy."""
    client = imap()
    d = delimiter_of(client)
    old, top = mailboxes.create(), mailboxes.name()
    _, done = command(client, "RENAME", old, f"{top}{d}y{d}z")
    assert done.ok, f"RENAME was refused: {done.raw!r}"
    assert set(listed(client, f"{top}*")) == {top, f"{top}{d}y", f"{top}{d}y{d}z"}


# -- RFC 3501 §6.3.6 / §6.3.7: SUBSCRIBE, UNSUBSCRIBE ------------------------------------------------


@spec("imap/3501/6.3.6/subscribe-adds-to-lsub")
def test_subscribe_adds_to_lsub(imap: ImapFactory, mailboxes: Mailboxes, subscriptions: Subscriptions) -> None:
    """After SUBSCRIBE, LSUB lists the name."""
    client = imap()
    name = mailboxes.create()
    subscriptions.subscribe(client, name)
    assert name in listed(client, name, verb="LSUB")


@spec("imap/3501/6.3.7/unsubscribe-removes-from-lsub")
def test_unsubscribe_removes_from_lsub(imap: ImapFactory, mailboxes: Mailboxes,
                                       subscriptions: Subscriptions) -> None:
    """After UNSUBSCRIBE, LSUB no longer lists the name."""
    client = imap()
    name = mailboxes.create()
    subscriptions.subscribe(client, name)
    _, done = command(client, "UNSUBSCRIBE", name)
    assert done.ok, f"UNSUBSCRIBE was refused: {done.raw!r}"
    assert name not in listed(client, name, verb="LSUB")


@spec("imap/3501/6.3.6/subscription-outlives-mailbox", "RFC3501-6.3.6-02", "RFC3501-6.3.9-03")
def test_subscription_outlives_mailbox(imap: ImapFactory, mailboxes: Mailboxes,
                                       subscriptions: Subscriptions) -> None:
    """Deleting a subscribed mailbox does not take its name off the subscription list."""
    client = imap()
    name = mailboxes.create()
    subscriptions.subscribe(client, name)
    _, done = command(client, "DELETE", name)
    assert done.ok, done.raw
    assert name in listed(client, name, verb="LSUB"), "DELETE removed the subscription"


@spec("imap/3501/6.3.7/unsubscribe-name-without-mailbox")
def test_unsubscribe_name_without_mailbox(imap: ImapFactory, mailboxes: Mailboxes,
                                          subscriptions: Subscriptions) -> None:
    """A subscribed name whose mailbox was deleted can still be unsubscribed."""
    client = imap()
    name = mailboxes.create()
    subscriptions.subscribe(client, name)
    command(client, "DELETE", name)
    _, done = command(client, "UNSUBSCRIBE", name)
    assert done.ok, f"UNSUBSCRIBE of a name without a mailbox was refused: {done.raw!r}"
    assert name not in listed(client, name, verb="LSUB")


# -- RFC 3501 §6.3.10: STATUS ------------------------------------------------------------------------


@spec("imap/3501/6.3.10/status-messages-matches-exists")
def test_status_messages_matches_exists(imap: ImapFactory, mailbox: str, append: Appender) -> None:
    """STATUS MESSAGES is the number of messages, the same figure SELECT reports as EXISTS."""
    client = imap()
    append(client, mailbox)
    append(client, mailbox)
    resps, done = command(client, "STATUS", mailbox, tail="(MESSAGES)")
    assert done.ok, done.raw
    assert status_items(resps)["MESSAGES"] == 2
    assert opened(client, mailbox)["EXISTS"] == 2


@spec("imap/3501/6.3.10/status-returns-requested-items", "RFC9051-6.3.11-01")
def test_status_returns_requested_items(imap: ImapFactory, mailbox: str) -> None:
    """STATUS with every RFC 3501 item answers one STATUS response naming the mailbox and each item."""
    client = imap()
    items = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN")
    resps, done = command(client, "STATUS", mailbox, tail=f"({' '.join(items)})")
    assert done.ok, done.raw
    found = [r.data for r in untagged(resps, "STATUS") if isinstance(r.data, StatusData)]
    assert len(found) == 1 and found[0].mailbox == mailbox, f"STATUS responses: {found}"
    assert set(found[0].items) == set(items)


@spec("imap/3501/6.3.10/status-unseen-counts-unseen")
def test_status_unseen_counts_unseen(imap: ImapFactory, mailbox: str, append: Appender) -> None:
    """STATUS UNSEEN counts the messages without \\Seen."""
    client = imap()
    append(client, mailbox)
    append(client, mailbox, flags=("\\Seen",))
    append(client, mailbox)
    resps, done = command(client, "STATUS", mailbox, tail="(UNSEEN)")
    assert done.ok, done.raw
    assert status_items(resps)["UNSEEN"] == 2


@spec("imap/3501/6.3.10/status-recent-counts-new")
def test_status_recent_counts_new(imap: ImapFactory, mailbox: str, append: Appender) -> None:
    """STATUS RECENT counts messages appended since no session had the mailbox open."""
    client = imap()
    append(client, mailbox)
    append(client, mailbox)
    resps, done = command(client, "STATUS", mailbox, tail="(RECENT)")
    assert done.ok, done.raw
    assert status_items(resps)["RECENT"] == 2


@spec("imap/3501/6.3.10/status-keeps-recent", "RFC3501-6.3.10-01")
def test_status_keeps_recent(imap: ImapFactory, mailbox: str, append: Appender) -> None:
    """STATUS does not take \\Recent away: the next SELECT still reports the message as recent."""
    client = imap()
    append(client, mailbox)
    command(client, "STATUS", mailbox, tail="(RECENT UNSEEN MESSAGES)")
    assert opened(client, mailbox, readonly=False)["RECENT"] == 1


@spec("imap/3501/6.3.10/status-keeps-selected-mailbox", "RFC3501-6.3.10-01")
def test_status_keeps_selected_mailbox(imap: ImapFactory, mailboxes: Mailboxes, append: Appender) -> None:
    """STATUS on another mailbox leaves the selected one selected: FETCH still reads its one message."""
    client = imap()
    selected, other = mailboxes.create(), mailboxes.create()
    append(client, selected)
    append(client, other)
    append(client, other)
    opened(client, selected, readonly=False)
    before = _fetched_uids(client)
    _, done = command(client, "STATUS", other, tail="(UIDNEXT UNSEEN)")
    assert done.ok, done.raw
    after = _fetched_uids(client)
    assert len(before) == 1 and after == before, f"FETCH 1:* gave UIDs {before} before STATUS, {after} after"


def _fetched_uids(client: ImapClient) -> list[object]:
    fetched, done = client.run("FETCH 1:* (UID)")
    assert done.ok, f"FETCH was refused: {done.raw!r}"
    return [r.data.get("UID") for r in untagged(fetched, "FETCH") if isinstance(r.data, dict)]


@spec("imap/3501/6.3.10/status-on-selected-mailbox", "RFC9051-6.3.11-03")
def test_status_on_selected_mailbox(imap: ImapFactory, mailbox: str, append: Appender) -> None:
    """STATUS on the selected mailbox works and agrees with SELECT's UIDVALIDITY and UIDNEXT."""
    client = imap()
    append(client, mailbox)
    selected = opened(client, mailbox, readonly=False)
    resps, done = command(client, "STATUS", mailbox, tail="(UIDVALIDITY UIDNEXT)")
    assert done.ok, f"STATUS on the selected mailbox was refused: {done.raw!r}"
    got = status_items(resps)
    assert got == {"UIDVALIDITY": selected["UIDVALIDITY"], "UIDNEXT": selected["UIDNEXT"]}


@spec("imap/3501/6.3.10/status-matches-select")
def test_status_matches_select(imap: ImapFactory, mailbox: str, append: Appender) -> None:
    """STATUS UIDVALIDITY and UIDNEXT are the values a SELECT right after reports."""
    client = imap()
    append(client, mailbox)
    resps, done = command(client, "STATUS", mailbox, tail="(UIDVALIDITY UIDNEXT)")
    assert done.ok, done.raw
    selected = opened(client, mailbox)
    assert status_items(resps) == {"UIDVALIDITY": selected["UIDVALIDITY"], "UIDNEXT": selected["UIDNEXT"]}


@spec("imap/3501/6.3.10/status-nonexistent-fails")
def test_status_nonexistent_fails(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """STATUS of a name that does not exist fails with NO ([NONEXISTENT] when an RFC 5530 code is used)."""
    resps, done = command(imap(), "STATUS", mailboxes.name("never-created"), tail="(UIDNEXT)")
    assert_5530_code(done, "NONEXISTENT")
    assert not untagged(resps, "STATUS"), "a STATUS response came for a mailbox that does not exist"


@spec("imap/9051/6.3.11/status-size-covers-messages", "RFC9051-6.3.11-05", needs=("STATUS=SIZE",))
def test_status_size_covers_messages(imap: ImapFactory, mailbox: str, append: Appender) -> None:
    """STATUS SIZE is at least the octets of the messages in the mailbox."""
    client = imap()
    total = len(append(client, mailbox).message) + len(append(client, mailbox).message)
    resps, done = command(client, "STATUS", mailbox, tail="(SIZE)")
    assert done.ok, done.raw
    size = status_items(resps)["SIZE"]
    assert isinstance(size, int) and size >= total, f"SIZE {size} is below the {total} octets appended"


# -- RFC 2342: NAMESPACE ----------------------------------------------------------------------------


def namespaces(client: ImapClient) -> NamespaceData:
    resps, done = client.run("NAMESPACE")
    assert done.ok, f"NAMESPACE was refused: {done.raw!r}"
    found = [r.data for r in untagged(resps, "NAMESPACE") if isinstance(r.data, NamespaceData)]
    assert len(found) == 1, f"expected one NAMESPACE response, got {len(found)}"
    return found[0]


def _descriptions(data: NamespaceData) -> list[NamespaceDescr]:
    return [d for group in (data.personal, data.other_users, data.shared) for d in group or ()]


@spec("imap/2342/5/namespace-delimiter-matches-list", needs=("NAMESPACE",))
def test_namespace_delimiter_matches_list(imap: ImapFactory) -> None:
    """The personal namespace's delimiter is the one LIST reports for that part of the hierarchy."""
    client = imap()
    data = namespaces(client)
    assert data.personal, "NAMESPACE reports no personal namespace"
    first = data.personal[0]
    boxes, done = list_cmd(client, quote(first.prefix), '""')
    assert done.ok, done.raw
    assert boxes, "LIST <personal prefix> \"\" returned nothing"
    assert first.delimiter == boxes[0].delimiter, (
        f"NAMESPACE says {first.delimiter!r}, LIST says {boxes[0].delimiter!r}")


@spec("imap/2342/2/inbox-in-personal-namespace", "RFC2342-2-01", "RFC9051-5.1.2-01", needs=("NAMESPACE",))
def test_inbox_in_personal_namespace(imap: ImapFactory) -> None:
    """INBOX lies in a personal namespace: some personal prefix is empty or starts INBOX's name."""
    data = namespaces(imap())
    assert data.personal, "NAMESPACE reports no personal namespace although INBOX exists"
    prefixes = [d.prefix for d in data.personal]
    assert any(b"INBOX".startswith(p.upper()) or p.upper().startswith(b"INBOX") for p in prefixes), (
        f"no personal namespace prefix covers INBOX: {prefixes}")


@spec("imap/2342/4/namespace-command-advertised", "RFC2342-4-01")
def test_namespace_command_advertised(imap: ImapFactory) -> None:
    """A server that answers NAMESPACE advertises the NAMESPACE capability."""
    client = imap()
    _, done = client.run("NAMESPACE")
    if not done.ok:
        pytest.skip(f"the server does not implement NAMESPACE ({done.raw!r})")
    assert client.has_capability("NAMESPACE"), f"NAMESPACE works but is not advertised: {client.capabilities}"


@spec("imap/2342/5/namespace-extensions-x-prefixed", "RFC2342-5-02", needs=("NAMESPACE",))
def test_namespace_extensions_x_prefixed(imap: ImapFactory) -> None:
    """Namespace response extensions are either standards-track ones or start with "X-"."""
    standard = {b"TRANSLATION"}  # RFC 5255 §3.4, the one standards-track extension
    for descr in _descriptions(namespaces(imap())):
        for name, _values in descr.extensions:
            assert name.upper() in standard or name.upper().startswith(b"X-"), (
                f"namespace {descr.prefix!r} carries the unregistered extension {name!r}")


@spec("imap/2342/6/namespace-prefixes-mutf7", "RFC2342-6-01", needs=("NAMESPACE",))
def test_namespace_prefixes_mutf7(imap: ImapFactory) -> None:
    """Every namespace prefix is in modified UTF-7 (RFC 3501 §5.1.3)."""
    for descr in _descriptions(namespaces(imap())):
        try:
            decode_mutf7(descr.prefix)
        except MUtf7Error as exc:
            pytest.fail(f"namespace prefix {descr.prefix!r} is not modified UTF-7: {exc}")


@spec("imap/2342/2/other-users-mailboxes-need-rights", "RFC2342-2-03", "RFC9051-5.1.2-03",
      needs=("NAMESPACE",))
def test_other_users_mailboxes_need_rights(imap: ImapFactory, mailboxes: Mailboxes, second_account: Account) -> None:
    """Without rights granted, another user's mailbox does not show through the Other Users' Namespace."""
    client = imap()
    data = namespaces(client)
    if not data.other_users:
        pytest.skip("the server has no Other Users' Namespace")
    theirs = mailboxes.create(account=second_account)
    for descr in data.other_users:
        d = descr.delimiter or ""
        root = descr.prefix + second_account.user.encode() + d.encode()
        boxes, _done = list_cmd(client, quote(root), quote(b"*"))
        seen = [b.raw_name for b in boxes if b.raw_name.endswith(theirs.encode())]
        assert not seen, f"{second_account.user}'s mailbox shows up without any rights granted: {seen}"
