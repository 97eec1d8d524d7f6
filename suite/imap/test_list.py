"""LIST and LSUB (RFC 3501 §6.3.8, §6.3.9, §7.2.2), the CHILDREN attributes (RFC 3348), LIST-EXTENDED
(RFC 5258), SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819).

Each test builds a small hierarchy under its own prefix and lists only that prefix, so other
mailboxes of the account never change the expected set. Expected names and attributes are written
from the RFCs. Only `list-shows-special-use` asserts that special-use attributes appear (other
tests find special-use mailboxes through the SPECIAL-USE selection option instead), and LIST-STATUS
tests never ask for MESSAGES, whose value `status-messages-matches-exists` owns.
"""

from __future__ import annotations

import pytest

from mailspec.fixtures_imap import Appender, ImapFactory, Mailboxes
from mailspec.protocol.imap_response import MailboxList, StatusData, Untagged
from mailspec.targets import Target
from mailspec.wire.imap import ImapClient
from suite.imap.test_mailboxes import (
    Subscriptions,
    arg,
    command,
    create,
    delimiter_of,
    list_cmd,
    listed,
    lists,
    status_items,
    subscriptions_fixture,  # noqa: F401  (the `subscriptions` fixture)
)

spec = pytest.mark.spec

SPECIAL_USES = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash", "\\Important")
# Every mailbox attribute a standards-track document defines (RFC 3501, 3348, 5258, 6154, 8457).
KNOWN_ATTRIBUTES = frozenset(a.upper() for a in (
    "\\Noinferiors", "\\Noselect", "\\Marked", "\\Unmarked", "\\HasChildren", "\\HasNoChildren",
    "\\NonExistent", "\\Subscribed", "\\Remote", *SPECIAL_USES))


def tree(client: ImapClient, mailboxes: Mailboxes) -> tuple[str, str, str, str, str]:
    """Creates prefix"a", "a/b", "a/b/c" and "ab"; returns (delimiter, a, a/b, a/b/c, ab)."""
    d = delimiter_of(client)
    a = mailboxes.name("a")
    ab = mailboxes.name("ab")
    create(client, a, f"{a}{d}b", f"{a}{d}b{d}c", ab)
    return d, a, f"{a}{d}b", f"{a}{d}b{d}c", ab


def names(client: ImapClient, *parts: str | bytes) -> list[str]:
    """The names LIST (with these arguments) returns, in order; the command must succeed."""
    boxes, done = list_cmd(client, *parts)
    assert done.ok, f"LIST {parts} was refused: {done.raw!r}"
    return [b.name for b in boxes]


def by_name(boxes: list[MailboxList]) -> dict[str, MailboxList]:
    return {b.name: b for b in boxes}


# -- RFC 3501 §6.3.8: LIST ------------------------------------------------------------------------


@spec("imap/3501/6.3.8/empty-pattern-returns-delimiter")
def test_empty_pattern_returns_delimiter(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """LIST "" "" answers one LIST response whose delimiter is the one the hierarchy uses."""
    client = imap()
    boxes, done = list_cmd(client, '""', '""')
    assert done.ok, done.raw
    assert len(boxes) == 1, f'LIST "" "" gave {len(boxes)} responses'
    parent = mailboxes.create()
    child = f"{parent}{boxes[0].delimiter or ''}kid"
    create(client, child)
    got = listed(client, child)
    assert child in got and got[child].delimiter == boxes[0].delimiter


@spec("imap/3501/6.3.8/star-matches-every-level", "RFC3501-6.3.8-03", "RFC9051-6.3.9-03")
def test_star_matches_every_level(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """A trailing "*" matches names at every level below."""
    client = imap()
    _, a, b, c, ab = tree(client, mailboxes)
    assert sorted(names(client, '""', arg(client, f"{a}*"))) == sorted([a, b, c, ab])


@spec("imap/3501/6.3.8/percent-stops-at-delimiter", "RFC3501-6.3.8-03", "RFC9051-6.3.9-03")
def test_percent_stops_at_delimiter(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """A trailing "%" matches one level only: "a/%" gives "a/b" but not "a/b/c"."""
    client = imap()
    d, a, b, _, _ = tree(client, mailboxes)
    assert names(client, '""', arg(client, f"{a}{d}%")) == [b]


@spec("imap/3501/6.3.8/wildcard-inside-pattern", "RFC3501-6.3.8-03", "RFC9051-6.3.9-03")
def test_wildcard_inside_pattern(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """Wildcards also work inside a pattern: "a*c" crosses levels, "a%c" does not."""
    client = imap()
    _d, a, _, c, _ = tree(client, mailboxes)
    assert names(client, '""', arg(client, f"{a}*c")) == [c]
    assert names(client, '""', arg(client, f"{a}%c")) == []


@spec("imap/3501/6.3.8/pattern-without-wildcard-matches-itself", "RFC3501-6.3.8-03", "RFC9051-6.3.9-03")
def test_pattern_without_wildcard_matches_itself(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """A pattern without wildcards returns that one name, not names that merely start with it."""
    client = imap()
    _, a, _, _, _ = tree(client, mailboxes)
    assert names(client, '""', arg(client, a)) == [a]


@spec("imap/3501/6.3.8/reference-prefixes-pattern", "RFC3501-6.3.8-03", "RFC3501-6.3.8-07")
def test_reference_prefixes_pattern(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """LIST "a/" "%" lists the children of "a", named in full."""
    client = imap()
    d, a, b, _, _ = tree(client, mailboxes)
    assert names(client, arg(client, f"{a}{d}"), '"%"') == [b]


@spec("imap/3501/6.3.8/no-match-is-ok-and-empty")
def test_no_match_is_ok_and_empty(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """A pattern that matches nothing gives no LIST response and a tagged OK."""
    client = imap()
    assert names(client, '""', arg(client, mailboxes.name("none") + "*")) == []


@spec("imap/3501/7.2.2/listed-name-works-as-reference", "RFC3501-7.2.2-03")
def test_listed_name_works_as_reference(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """A name exactly as LIST sent it, followed by its delimiter, works as LIST's reference."""
    client = imap()
    d, a, b, _, _ = tree(client, mailboxes)
    raw = {x.name: x for x in lists(client.run(b'LIST "" ' + arg(client, a))[0])}[a]
    assert names(client, arg(client, raw.raw_name + d.encode()), '"%"') == [b]


@spec("imap/3501/7.2.2/listed-names-selectable", "RFC3501-7.2.2-04")
def test_listed_names_selectable(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """Every listed name without \\Noselect can be opened with EXAMINE, by the octets LIST sent."""
    client = imap()
    tree(client, mailboxes)
    boxes, done = list_cmd(client, '""', arg(client, f"{mailboxes.prefix}*"))
    assert done.ok and len(boxes) == 4, f"LIST of the prefix: {done.raw!r} {boxes}"
    for box in boxes:
        if not box.has("\\Noselect"):
            _, opened = client.run(b"EXAMINE " + arg(client, box.raw_name))
            assert opened.ok, f"EXAMINE {box.raw_name!r} (listed selectable) was refused: {opened.raw!r}"


@spec("imap/3348/3/children-attributes-accurate", needs=("CHILDREN",))
def test_children_attributes_accurate(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """Where LIST gives \\HasChildren or \\HasNoChildren, it is right: "a" has a child, "a/b/c" none."""
    client = imap()
    _, a, _, c, _ = tree(client, mailboxes)
    got = by_name(lists(client.run(b'LIST "" ' + arg(client, f"{mailboxes.prefix}*"))[0]))
    assert not got[a].has("\\HasNoChildren"), f"{a} has a child but is listed {got[a].flags}"
    assert not got[c].has("\\HasChildren"), f"{c} has no child but is listed {got[c].flags}"


@spec("imap/3348/3/children-attributes-advertised", "RFC3348-3-01")
def test_children_attributes_advertised(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """A server whose plain LIST gives \\HasChildren or \\HasNoChildren advertises CHILDREN (or
    LIST-EXTENDED, RFC 5258 §4, which defines them too)."""
    client = imap()
    tree(client, mailboxes)
    boxes, done = list_cmd(client, '""', arg(client, f"{mailboxes.prefix}*"))
    assert done.ok, done.raw
    if not any(b.has("\\HasChildren") or b.has("\\HasNoChildren") for b in boxes):
        pytest.skip("plain LIST gives neither \\HasChildren nor \\HasNoChildren")
    assert client.has_capability("CHILDREN") or client.has_capability("LIST-EXTENDED"), client.capabilities


# -- RFC 3501 §6.3.9: LSUB ------------------------------------------------------------------------


@spec("imap/3501/6.3.9/lsub-lists-only-subscribed")
def test_lsub_lists_only_subscribed(imap: ImapFactory, mailboxes: Mailboxes, subscriptions: Subscriptions) -> None:
    """LSUB returns the subscribed names that match, and no others."""
    client = imap()
    _, a, _b, c, _ab = tree(client, mailboxes)
    subscriptions.subscribe(client, a)
    subscriptions.subscribe(client, c)
    assert set(listed(client, f"{mailboxes.prefix}*", verb="LSUB")) == {a, c}


@spec("imap/3501/6.3.9/lsub-percent-gives-noselect-parent", "RFC3501-6.3.9-02")
def test_lsub_percent_gives_noselect_parent(imap: ImapFactory, mailboxes: Mailboxes,
                                            subscriptions: Subscriptions) -> None:
    """With "a/b" subscribed but not "a", LSUB with "%" at the level of "a" returns "a", flagged \\Noselect."""
    client = imap()
    _d, a, b, _, _ = tree(client, mailboxes)
    subscriptions.subscribe(client, b)
    got = listed(client, f"{mailboxes.prefix}%", verb="LSUB")
    assert set(got) == {a}, f"LSUB {mailboxes.prefix}% returned {sorted(got)}"
    assert got[a].has("\\Noselect"), f"the unsubscribed parent is not \\Noselect: {got[a].flags}"


# -- RFC 5258: LIST-EXTENDED ------------------------------------------------------------------------


@spec("imap/5258/3/multiple-patterns", "RFC9051-6.3.9-03", needs=("LIST-EXTENDED",))
def test_multiple_patterns(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """LIST with a parenthesised list of patterns returns the names matching any of them."""
    client = imap()
    d, a, b, _c, ab = tree(client, mailboxes)
    got = names(client, '""', b"(" + arg(client, ab) + b" " + arg(client, f"{a}{d}%") + b")")
    assert sorted(got) == sorted([ab, b])


@spec("imap/5258/3/unaccepted-pattern-ignored", "RFC5258-3-04", "RFC9051-6.3.9-11", needs=("LIST-EXTENDED",))
def test_unaccepted_pattern_ignored(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """A valid pattern the server will not serve (here under a made-up "#" namespace) is ignored:
    LIST still answers OK with the other pattern's matches."""
    client = imap()
    name = mailboxes.create()
    odd = arg(client, "#mailspec-no-such-namespace/%")
    assert names(client, '""', b"(" + odd + b" " + arg(client, name) + b")") == [name]


@spec("imap/5258/3/empty-pattern-in-list-not-special", "RFC5258-3-02", "RFC5258-3-03", needs=("LIST-EXTENDED",))
def test_empty_pattern_in_list_not_special(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """In a list of patterns the empty pattern matches nothing: no delimiter response comes for it."""
    client = imap()
    name = mailboxes.create()
    assert names(client, '""', b'("" ' + arg(client, name) + b")") == [name]


@spec("imap/5258/3/empty-pattern-with-options-not-special", "RFC5258-3-02", needs=("LIST-EXTENDED",))
def test_empty_pattern_with_options_not_special(imap: ImapFactory) -> None:
    """LIST () "" "" is an extended LIST, so the empty pattern is no delimiter request: no response."""
    assert names(imap(), "()", '""', '""') == []


@spec("imap/5258/3/unknown-selection-option-bad", "RFC5258-3-08", "RFC9051-6.3.9-16", needs=("LIST-EXTENDED",))
def test_unknown_selection_option_bad(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """An unknown selection option is answered BAD."""
    client = imap()
    _, done = list_cmd(client, "(MAILSPEC-NO-SUCH-OPTION)", '""', arg(client, f"{mailboxes.prefix}*"))
    assert done.status == "BAD", f"an unknown selection option was answered {done.raw!r}"


@spec("imap/5258/3/unknown-return-option-bad", "RFC5258-3-08", "RFC9051-6.3.9-16", needs=("LIST-EXTENDED",))
def test_unknown_return_option_bad(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """An unknown return option is answered BAD."""
    client = imap()
    _, done = list_cmd(client, '""', arg(client, f"{mailboxes.prefix}*"), "RETURN (MAILSPEC-NO-SUCH-OPTION)")
    assert done.status == "BAD", f"an unknown return option was answered {done.raw!r}"


@spec("imap/5258/3/repeated-option-counts-once", "RFC5258-3-09", "RFC9051-6.3.9-17", needs=("LIST-EXTENDED",))
def test_repeated_option_counts_once(imap: ImapFactory, mailboxes: Mailboxes, subscriptions: Subscriptions) -> None:
    """LIST (SUBSCRIBED SUBSCRIBED) answers as LIST (SUBSCRIBED) does."""
    client = imap()
    _, _a, _, c, _ = tree(client, mailboxes)
    subscriptions.subscribe(client, c)
    pattern = arg(client, f"{mailboxes.prefix}*")
    once = names(client, "(SUBSCRIBED)", '""', pattern)
    assert once == [c], f"LIST (SUBSCRIBED) returned {once}"
    assert names(client, "(SUBSCRIBED SUBSCRIBED)", '""', pattern) == once


@spec("imap/5258/3/return-options-add-no-names", "RFC5258-3-06", "RFC9051-6.3.9-12", needs=("LIST-EXTENDED",))
def test_return_options_add_no_names(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """Return options change what is said about the matched names, never which names are listed."""
    client = imap()
    _, a, _, _, _ = tree(client, mailboxes)
    assert names(client, '""', arg(client, a), "RETURN (CHILDREN SUBSCRIBED)") == [a]


@spec("imap/5258/3/plain-list-has-no-extended-data", "RFC5258-3-12")
def test_plain_list_has_no_extended_data(imap: ImapFactory, mailboxes: Mailboxes, subscriptions: Subscriptions) -> None:
    """A LIST command that is not extended gets no extended data items in its responses."""
    client = imap()
    _, _a, _, c, _ = tree(client, mailboxes)
    subscriptions.subscribe(client, c)
    boxes, done = list_cmd(client, '""', arg(client, f"{mailboxes.prefix}*"))
    assert done.ok, done.raw
    assert [b for b in boxes if b.extended] == [], "extended data items were sent to a plain LIST"


@spec("imap/5258/3/subscribed-deleted-name-nonexistent", "RFC5258-3-15", "RFC5258-3.1-01", "RFC5258-3.1-03",
      needs=("LIST-EXTENDED",))
def test_subscribed_deleted_name_nonexistent(imap: ImapFactory, mailboxes: Mailboxes,
                                             subscriptions: Subscriptions) -> None:
    """A subscribed name whose mailbox was deleted is listed by LIST (SUBSCRIBED) as \\NonExistent \\Subscribed."""
    client = imap()
    name = mailboxes.create()
    subscriptions.subscribe(client, name)
    _, done = command(client, "DELETE", name)
    assert done.ok, done.raw
    boxes, done = list_cmd(client, "(SUBSCRIBED)", '""', arg(client, name))
    assert done.ok and [b.name for b in boxes] == [name], f"LIST (SUBSCRIBED) returned {boxes}"
    assert boxes[0].has("\\NonExistent") and boxes[0].has("\\Subscribed"), boxes[0].flags


@spec("imap/5258/3.1/subscribed-lists-exactly-subscribed", "RFC5258-3.1-01", "RFC5258-3.1-03",
      needs=("LIST-EXTENDED",))
def test_subscribed_lists_exactly_subscribed(imap: ImapFactory, mailboxes: Mailboxes,
                                             subscriptions: Subscriptions) -> None:
    """LIST (SUBSCRIBED) returns exactly the matching subscribed names, each marked \\Subscribed."""
    client = imap()
    _, a, _b, c, _ab = tree(client, mailboxes)
    subscriptions.subscribe(client, a)
    subscriptions.subscribe(client, c)
    boxes, done = list_cmd(client, "(SUBSCRIBED)", '""', arg(client, f"{mailboxes.prefix}*"))
    assert done.ok, done.raw
    assert sorted(x.name for x in boxes) == sorted([a, c])
    assert all(x.has("\\Subscribed") for x in boxes), [x.flags for x in boxes]


@spec("imap/5258/3.1/remote-keeps-local-names", "RFC5258-3.1-04", needs=("LIST-EXTENDED",))
def test_remote_keeps_local_names(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """LIST (REMOTE) lists the local mailboxes as plain LIST does, none of them marked \\Remote."""
    client = imap()
    tree(client, mailboxes)
    pattern = arg(client, f"{mailboxes.prefix}*")
    boxes, done = list_cmd(client, "(REMOTE)", '""', pattern)
    assert done.ok, done.raw
    assert sorted(b.name for b in boxes) == sorted(names(client, '""', pattern))
    assert not [b.name for b in boxes if b.has("\\Remote")], "a local mailbox is marked \\Remote"


@spec("imap/5258/3.1/recursivematch-alone-bad", "RFC5258-3.1-05", "RFC5258-3.1-06", needs=("LIST-EXTENDED",))
def test_recursivematch_alone_bad(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """RECURSIVEMATCH as the only selection option is answered BAD."""
    client = imap()
    _, done = list_cmd(client, "(RECURSIVEMATCH)", '""', arg(client, f"{mailboxes.prefix}*"))
    assert done.status == "BAD", f"LIST (RECURSIVEMATCH) was answered {done.raw!r}"


@spec("imap/5258/3.1/recursivematch-with-remote-only-bad", "RFC5258-3.1-05", "RFC5258-3.1-06",
      needs=("LIST-EXTENDED",))
def test_recursivematch_with_remote_only_bad(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """RECURSIVEMATCH with REMOTE as the only other selection option is answered BAD."""
    client = imap()
    _, done = list_cmd(client, "(REMOTE RECURSIVEMATCH)", '""', arg(client, f"{mailboxes.prefix}*"))
    assert done.status == "BAD", f"LIST (REMOTE RECURSIVEMATCH) was answered {done.raw!r}"


@spec("imap/5258/3.2/subscribed-return-marks-subscribed", "RFC5258-3.2-01", "RFC5258-3.2-02",
      needs=("LIST-EXTENDED",))
def test_subscribed_return_marks_subscribed(imap: ImapFactory, mailboxes: Mailboxes,
                                            subscriptions: Subscriptions) -> None:
    """RETURN (SUBSCRIBED) lists every matching name and marks exactly the subscribed ones \\Subscribed."""
    client = imap()
    _, a, b, c, ab = tree(client, mailboxes)
    subscriptions.subscribe(client, b)
    boxes, done = list_cmd(client, '""', arg(client, f"{mailboxes.prefix}*"), "RETURN (SUBSCRIBED)")
    assert done.ok, done.raw
    got = by_name(boxes)
    assert sorted(got) == sorted([a, b, c, ab])
    assert [n for n, x in got.items() if x.has("\\Subscribed")] == [b]
    assert not [n for n, x in got.items() if x.has("\\Noselect")], "LIST marks a selectable mailbox \\Noselect"


@spec("imap/5258/3.5/recursivematch-gives-childinfo", "RFC5258-3.5-02", "RFC5258-6-01", needs=("LIST-EXTENDED",))
def test_recursivematch_gives_childinfo(imap: ImapFactory, mailboxes: Mailboxes,
                                        subscriptions: Subscriptions) -> None:
    """With "a/b" subscribed but "a" not, LIST (SUBSCRIBED RECURSIVEMATCH) at the level of "a" returns
    "a" with CHILDINFO ("SUBSCRIBED"), neither \\Subscribed nor \\Noselect."""
    client = imap()
    _, a, b, _, _ = tree(client, mailboxes)
    subscriptions.subscribe(client, b)
    boxes, done = list_cmd(client, "(SUBSCRIBED RECURSIVEMATCH)", '""', arg(client, f"{mailboxes.prefix}%"))
    assert done.ok, done.raw
    got = by_name(boxes)
    assert set(got) == {a}, f"returned {sorted(got)}"
    childinfo = got[a].extended.get("CHILDINFO")
    options = [v.upper() for v in childinfo if isinstance(v, bytes)] if isinstance(childinfo, tuple) else []
    assert b"SUBSCRIBED" in options, f"no CHILDINFO (\"SUBSCRIBED\"): {got[a].extended}"
    assert not got[a].has("\\Subscribed") and not got[a].has("\\Noselect"), got[a].flags


@spec("imap/5258/3.5/childinfo-only-with-recursivematch", "RFC5258-3.5-01", "RFC5258-3.1-01",
      needs=("LIST-EXTENDED",))
def test_childinfo_only_with_recursivematch(imap: ImapFactory, mailboxes: Mailboxes,
                                            subscriptions: Subscriptions) -> None:
    """Without RECURSIVEMATCH, LIST (SUBSCRIBED) returns neither the unsubscribed parent nor CHILDINFO."""
    client = imap()
    _, _a, b, _, _ = tree(client, mailboxes)
    subscriptions.subscribe(client, b)
    boxes, done = list_cmd(client, "(SUBSCRIBED)", '""', arg(client, f"{mailboxes.prefix}*"))
    assert done.ok, done.raw
    assert [x.name for x in boxes] == [b]
    assert not [x for x in boxes if "CHILDINFO" in x.extended], "CHILDINFO without RECURSIVEMATCH"


@spec("imap/5258/4/children-return-option-reports-children", "RFC5258-4-02", "RFC5258-4-04", "RFC5258-3.2-03",
      needs=("LIST-EXTENDED",))
def test_children_return_option_reports_children(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """RETURN (CHILDREN) marks a mailbox with a child \\HasChildren and a leaf \\HasNoChildren (or \\Noinferiors)."""
    client = imap()
    _, a, _, c, _ = tree(client, mailboxes)
    boxes, done = list_cmd(client, '""', arg(client, f"{mailboxes.prefix}*"), "RETURN (CHILDREN)")
    assert done.ok, done.raw
    got = by_name(boxes)
    assert got[a].has("\\HasChildren"), f"{a}: {got[a].flags}"
    assert got[c].has("\\HasNoChildren") or got[c].has("\\Noinferiors"), f"{c}: {got[c].flags}"


# -- RFC 6154: SPECIAL-USE --------------------------------------------------------------------------


def special_use_mailbox(client: ImapClient, mailboxes: Mailboxes, target: Target,
                        avoid: tuple[str, ...] = (), created: bool = False) -> tuple[str, str]:
    """(name, attribute) of a mailbox with a special use: one the test creates with
    CREATE-SPECIAL-USE (a server may allow each use once), else, unless `created` is asked for,
    one the target file names in settings.special_use; skips otherwise."""
    if client.has_capability("CREATE-SPECIAL-USE"):
        for use in ("\\Flagged", "\\All", "\\Archive", "\\Junk", "\\Drafts", "\\Sent", "\\Trash"):
            if use in avoid:
                continue
            name = mailboxes.name()
            _, done = command(client, "CREATE", name, tail=f"(USE ({use}))")
            if done.ok:
                return name, use
    known = {} if created else target.settings.get("special_use") or {}
    for use, name in sorted(known.items()):
        if use not in avoid and name in listed(client, name):
            return name, use
    pytest.skip("no special-use mailbox: the server cannot create one and the target names none")


@spec("imap/6154/2/list-shows-special-use", "RFC6154-2-01", "RFC6154-2-04", needs=("SPECIAL-USE",))
def test_list_shows_special_use(imap: ImapFactory, mailboxes: Mailboxes, target: Target) -> None:
    """LIST shows a special-use mailbox's attribute (\\Sent, \\Trash ...), and with LIST-EXTENDED
    RETURN (SPECIAL-USE) shows it too."""
    client = imap()
    name, use = special_use_mailbox(client, mailboxes, target)
    got = listed(client, name)
    assert name in got and got[name].has(use), f"LIST {name} shows {got.get(name)}, not {use}"
    if client.has_capability("LIST-EXTENDED"):
        boxes, done = list_cmd(client, '""', arg(client, name), "RETURN (SPECIAL-USE)")
        assert done.ok and boxes and boxes[0].has(use), f"RETURN (SPECIAL-USE): {done.raw!r} {boxes}"


@spec("imap/6154/2/selection-lists-only-special-use", "RFC6154-2-03", needs=("SPECIAL-USE", "LIST-EXTENDED"))
def test_selection_lists_only_special_use(imap: ImapFactory, mailboxes: Mailboxes, target: Target) -> None:
    """LIST (SPECIAL-USE) returns the mailboxes that have a special use and leaves the others out."""
    client = imap()
    special, _ = special_use_mailbox(client, mailboxes, target)
    plain = mailboxes.create("plain")
    got = names(client, "(SPECIAL-USE)", '""', b"(" + arg(client, special) + b" " + arg(client, plain) + b")")
    assert got == [special], f"LIST (SPECIAL-USE) returned {got}"


@spec("imap/6154/2/special-use-attributes-advertised", "RFC6154-2-02")
def test_special_use_attributes_advertised(imap: ImapFactory) -> None:
    """A server whose LIST shows special-use attributes advertises the SPECIAL-USE capability."""
    client = imap()
    boxes, done = list_cmd(client, '""', '"*"')
    assert done.ok, done.raw
    shown = sorted({f for b in boxes for f in b.flags if f.upper() in {u.upper() for u in SPECIAL_USES}})
    if shown:
        assert client.has_capability("SPECIAL-USE"), f"LIST shows {shown} but SPECIAL-USE is not advertised"


@spec("imap/6154/6/no-unknown-list-attributes", "RFC6154-6-01", needs=("SPECIAL-USE",))
def test_no_unknown_list_attributes(imap: ImapFactory) -> None:
    """LIST shows only mailbox attributes that standards define (no invented special uses)."""
    client = imap()
    boxes, done = list_cmd(client, '""', '"*"')
    assert done.ok, done.raw
    unknown = sorted({f for b in boxes for f in b.flags if f.upper() not in KNOWN_ATTRIBUTES})
    assert not unknown, f"LIST shows attributes no standard defines: {unknown}"


@spec("imap/6154/3/create-with-use-all-or-nothing", "RFC6154-3-05", needs=("CREATE-SPECIAL-USE", "LIST-EXTENDED"))
def test_create_with_use_all_or_nothing(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """CREATE name (USE (\\Flagged)) either creates a mailbox the SPECIAL-USE selection finds, or
    fails with NO and creates nothing."""
    client = imap()
    name = mailboxes.name()
    _, done = command(client, "CREATE", name, tail="(USE (\\Flagged))")
    if done.ok:
        assert names(client, "(SPECIAL-USE)", '""', arg(client, name)) == [name]
    else:
        assert done.status == "NO", f"refusal should be NO: {done.raw!r}"
        assert names(client, '""', arg(client, name)) == [], "a refused CREATE left the mailbox behind"


@spec("imap/6154/3/create-unknown-use-refused", "RFC6154-3-05", needs=("CREATE-SPECIAL-USE",))
def test_create_unknown_use_refused(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """CREATE with a special use the server does not know fails with NO and creates no mailbox."""
    client = imap()
    name = mailboxes.name()
    _, done = command(client, "CREATE", name, tail="(USE (\\MailspecNoSuchUse))")
    assert done.status == "NO", f"CREATE with an unknown use answered {done.raw!r}"
    assert names(client, '""', arg(client, name)) == [], "the refused CREATE left the mailbox behind"


@spec("imap/6154/3/unknown-use-refusal-names-useattr", "RFC6154-3-06", needs=("CREATE-SPECIAL-USE",))
def test_unknown_use_refusal_names_useattr(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """The NO to CREATE with an unsupported special use carries [USEATTR]."""
    _, done = command(imap(), "CREATE", mailboxes.name(), tail="(USE (\\MailspecNoSuchUse))")
    assert done.status == "NO" and done.code == "USEATTR", f"answered {done.raw!r}"


@spec("imap/6154/3/create-special-use-implies-special-use", "RFC6154-3-09", needs=("CREATE-SPECIAL-USE",))
def test_create_special_use_implies_special_use(imap: ImapFactory) -> None:
    """A server advertising CREATE-SPECIAL-USE also advertises SPECIAL-USE."""
    client = imap()
    assert client.has_capability("SPECIAL-USE"), f"capabilities: {client.capabilities}"


@spec("imap/5258/3/selection-options-all-apply", "RFC5258-3-05",
      needs=("LIST-EXTENDED", "SPECIAL-USE", "CREATE-SPECIAL-USE"))
def test_selection_options_all_apply(imap: ImapFactory, mailboxes: Mailboxes, target: Target,
                                     subscriptions: Subscriptions) -> None:
    """LIST (SUBSCRIBED SPECIAL-USE) returns only names that are both subscribed and special-use."""
    client = imap()
    special, use = special_use_mailbox(client, mailboxes, target, created=True)
    both, _ = special_use_mailbox(client, mailboxes, target, avoid=(use,), created=True)
    subscribed_only = mailboxes.create("plain")
    subscriptions.subscribe(client, both)
    subscriptions.subscribe(client, subscribed_only)
    got = names(client, "(SUBSCRIBED SPECIAL-USE)", '""', arg(client, f"{mailboxes.prefix}*"))
    assert got == [both], f"returned {got}; only {both} is subscribed and special-use ({special} is not subscribed)"


# -- RFC 5819: LIST-STATUS --------------------------------------------------------------------------


Listed = list[tuple[MailboxList, dict[str, object]]]


def _status_after_each_list(client: ImapClient, mailboxes: Mailboxes, items: str) -> Listed:
    """LIST "" prefix* RETURN (STATUS (items)) -> [(LIST entry, STATUS items or {})] in order."""
    pattern = arg(client, f"{mailboxes.prefix}*")
    resps, done = client.run(b'LIST "" ' + pattern + f" RETURN (STATUS ({items}))".encode())
    assert done.ok, f"LIST ... RETURN (STATUS) was refused: {done.raw!r}"
    out: Listed = []
    for r in resps:
        if isinstance(r, Untagged) and isinstance(r.data, MailboxList):
            out.append((r.data, {}))
        elif isinstance(r, Untagged) and isinstance(r.data, StatusData):
            assert out and not out[-1][1] and out[-1][0].name == r.data.mailbox, (
                f"STATUS for {r.data.mailbox!r} does not follow that mailbox's LIST response")
            out[-1] = (out[-1][0], dict(r.data.items))
    return out


@spec("imap/5819/2/status-follows-each-list", "RFC5819-2-01", needs=("LIST-STATUS",))
def test_status_follows_each_list(imap: ImapFactory, mailboxes: Mailboxes) -> None:
    """RETURN (STATUS ...) puts a STATUS response with the asked items right after each selectable
    mailbox's LIST response."""
    client = imap()
    tree(client, mailboxes)
    pairs = _status_after_each_list(client, mailboxes, "UIDVALIDITY UNSEEN")
    assert len(pairs) == 4, f"listed {[p[0].name for p in pairs]}"
    for box, items in pairs:
        if not box.has("\\Noselect"):
            assert set(items) == {"UIDVALIDITY", "UNSEEN"}, f"{box.name}: STATUS items {items}"


@spec("imap/5819/2/list-status-matches-status", "RFC5819-2-01", needs=("LIST-STATUS",))
def test_list_status_matches_status(imap: ImapFactory, mailboxes: Mailboxes, append: Appender) -> None:
    """The STATUS data LIST returns is what the STATUS command reports for the same mailbox."""
    client = imap()
    full, empty = mailboxes.create(), mailboxes.create()
    append(client, full)
    append(client, full, flags=("\\Seen",))
    items = "UIDVALIDITY UIDNEXT UNSEEN"
    got = {box.name: status for box, status in _status_after_each_list(client, mailboxes, items)}
    assert got[full]["UNSEEN"] == 1
    for name in (full, empty):
        assert got[name] == status_items(command(client, "STATUS", name, tail=f"({items})")[0])


@spec("imap/5819/2/no-status-for-nonexistent", "RFC5819-2-01", "RFC5819-2-02", needs=("LIST-STATUS",))
def test_no_status_for_nonexistent(imap: ImapFactory, mailboxes: Mailboxes, subscriptions: Subscriptions) -> None:
    """A listed name that cannot be selected (subscribed, mailbox deleted) gets no STATUS response."""
    client = imap()
    gone = mailboxes.create()
    subscriptions.subscribe(client, gone)
    command(client, "DELETE", gone)
    resps, done = client.run(b'LIST (SUBSCRIBED) "" ' + arg(client, gone) + b" RETURN (STATUS (UIDVALIDITY))")
    assert done.ok, done.raw
    assert [b.name for b in lists(resps)] == [gone]
    assert not [r for r in resps if isinstance(r, Untagged) and r.kind == "STATUS"], "STATUS for a deleted mailbox"
