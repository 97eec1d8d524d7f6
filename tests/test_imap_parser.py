"""The sans-I/O IMAP command reader and parser: framing, literals, limits and typed arguments."""

from __future__ import annotations

import datetime as dt

import pytest

from reference_server.imap.commands import (
    Append,
    Command,
    Fetch,
    FetchItem,
    ListArgs,
    Login,
    NeedContinuation,
    ParseError,
    Search,
    Select,
    StoreArgs,
)
from reference_server.imap.model import Partial, SearchKey, Section
from reference_server.imap.parser import CommandReader, ReaderLimits, parse_command


def events(data: bytes, limits: ReaderLimits | None = None) -> list[object]:
    r = CommandReader(limits)
    r.receive_data(data)
    out = []
    while (e := r.next_event()) is not None:
        out.append(e)
    return out


def one(line: bytes) -> Command:
    cmd = parse_command(line + b"\r\n")
    assert isinstance(cmd, Command), cmd
    return cmd


def test_synchronising_literal_asks_for_continuation() -> None:
    r = CommandReader()
    r.receive_data(b"a LOGIN {5}\r\n")
    assert r.next_event() == NeedContinuation("a", 5)
    assert r.next_event() is None
    r.receive_data(b"al")
    assert r.next_event() is None
    r.receive_data(b'ice "p\\"w"\r\n')
    assert r.next_event() == Command("a", "LOGIN", False, Login("alice", 'p"w'))


def test_nonsync_literal_and_pipelining() -> None:
    got = events(b"a LOGIN {5+}\r\nalice {2+}\r\npw\r\nb NOOP\r\n")
    assert got == [Command("a", "LOGIN", False, Login("alice", "pw")), Command("b", "NOOP")]


def test_literal_minus_refuses_big_nonsync_and_skips_it() -> None:
    data = b"a LOGIN {5000+}\r\n" + b"x" * 5000 + b" pw\r\nb NOOP\r\n"
    got = events(data, ReaderLimits(literal_plus="minus"))
    assert isinstance(got[0], ParseError) and got[0].code == "TOOBIG" and got[0].tag == "a"
    assert got[1] == Command("b", "NOOP")


def test_oversized_sync_literal_is_a_tagged_no_without_continuation() -> None:
    got = events(b"a APPEND INBOX {999999}\r\nb NOOP\r\n", ReaderLimits(max_append=1000))
    assert got == [ParseError("a", "literal too big (limit 1000 octets)", "TOOBIG", "NO"), Command("b", "NOOP")]


def test_long_line_refused_then_next_command_works() -> None:
    got = events(b"a NOOP " + b"x" * 5000 + b"\r\nb NOOP\r\n", ReaderLimits(max_line=1024))
    assert isinstance(got[0], ParseError) and got[0].code == "TOOBIG"
    assert got[-1] == Command("b", "NOOP")


@pytest.mark.parametrize("line", [
    b"", b"a", b"a FETCH", b"a FETCH 0 FLAGS", b"a FETCH 1 FLAGZ", b"a LOGIN \"unterminated", b"+ NOOP",
    b"a SELECT", b"a STORE 1 FLAGS (\\*)", b"a SEARCH FOO", b"a SEARCH SINCE 32-Jan-2020",
    b"a APPEND INBOX", b'a APPEND INBOX "1-Jan-2020" {1}\r\nx', b"a UID NOOP", b"a NOOP extra",
    b"a FETCH 1 BODY[1.MIMEX]", b"a ID (\"k\")", b"a AUTHENTICATE PLAIN !!!",
])
def test_malformed_commands_are_parse_errors(line: bytes) -> None:
    assert isinstance(parse_command(line + b"\r\n"), ParseError)


def test_nesting_limit() -> None:
    err = parse_command(b"a SEARCH " + b"(" * 20 + b"ALL" + b")" * 20 + b"\r\n", ReaderLimits(max_depth=5))
    assert isinstance(err, ParseError) and err.code == "LIMIT"


def test_fetch_items_macros_and_modifiers() -> None:
    cmd = one(b"a UID FETCH 1:*,3 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From to)]<0.10> BINARY[1]) "
              b"(CHANGEDSINCE 5 VANISHED)")
    assert cmd.uid and isinstance(cmd.args, Fetch)
    assert cmd.args.sequence == ((1, None), (3, 3)) and cmd.args.changedsince == 5 and cmd.args.vanished
    assert cmd.args.items[1] == FetchItem("BODY.PEEK", Section((1, 2), "HEADER.FIELDS", ("FROM", "TO")),
                                          Partial(0, 10))
    full = one(b"a FETCH 1 FULL").args
    assert isinstance(full, Fetch) and [i.name for i in full.items][-1] == "BODY"
    assert one(b"a FETCH 1 body[]").args == Fetch(((1, 1),), (FetchItem("BODY", Section()),))


def test_search_program() -> None:
    cmd = one(b'a SEARCH RETURN (MIN COUNT) CHARSET utf-8 OR FROM "\xc3\xa9" NOT (SEEN 1:3) UID 4:* '
              b"SINCE 1-Feb-2020 MODSEQ 7")
    assert isinstance(cmd.args, Search) and cmd.args.charset == "UTF-8" and cmd.args.return_opts == ("MIN", "COUNT")
    keys = cmd.args.key.args[0]
    assert isinstance(keys, tuple)
    assert keys[0] == SearchKey("OR", (SearchKey("FROM", ("é",)), SearchKey("NOT", (SearchKey(
        "AND", ((SearchKey("SEEN"), SearchKey("SEQSET", (((1, 3),),))),)),))))
    assert keys[1:] == (SearchKey("UID", (((4, None),),)), SearchKey("SINCE", (dt.date(2020, 2, 1),)),
                        SearchKey("MODSEQ", (7,)))


def test_store_append_select_list() -> None:
    assert one(b"a STORE 2 (UNCHANGEDSINCE 9) -FLAGS.SILENT \\seen $Junk").args == StoreArgs(
        ((2, 2),), "-", True, ("\\Seen", "$Junk"), 9)
    app = one(b'a APPEND inbox (\\Seen) " 5-Mar-2021 10:00:00 -0130" {2+}\r\nhi (\\Draft) ~{1+}\r\n\x00').args
    assert isinstance(app, Append) and app.mailbox == "INBOX" and len(app.messages) == 2
    assert app.messages[0].date == dt.datetime(2021, 3, 5, 10, 0, tzinfo=dt.timezone(-dt.timedelta(minutes=90)))
    assert app.messages[1].binary and app.messages[1].data == b"\x00"
    sel = one(b"a SELECT INBOX (CONDSTORE QRESYNC (67 90 1:10 (1,5 10,20)))").args
    assert isinstance(sel, Select) and sel.condstore and sel.qresync and sel.qresync.seq_match
    lst = one(b'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("*" %) RETURN (CHILDREN STATUS (MESSAGES))').args
    assert lst == ListArgs("", ("*", "%"), ("SUBSCRIBED", "RECURSIVEMATCH"), ("CHILDREN", "STATUS"),
                           ("MESSAGES",), True)


def test_other_commands() -> None:
    assert one(b"a AUTHENTICATE plain AGEAYg==").args.initial == b"\0a\0b"  # type: ignore[union-attr]
    assert one(b"a ENABLE qresync IMAP4rev2").args.capabilities == ("QRESYNC", "IMAP4REV2")  # type: ignore[union-attr]
    assert one(b'a ID ("name" "x" "os" NIL)').args.params == (("name", "x"), ("os", None))  # type: ignore[union-attr]
    assert one(b"a CREATE Foo (USE (\\Sent))").args.special_use == ("\\Sent",)  # type: ignore[union-attr]
    assert one(b"a SETQUOTA \"\" (STORAGE 10)").args.limits == (("STORAGE", 10),)  # type: ignore[union-attr]
    assert one(b"a UID EXPUNGE 1:3").name == "EXPUNGE"
