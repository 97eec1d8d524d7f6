"""Unit tests of the sans-I/O POP3 response parser and the listing parsers."""

from __future__ import annotations

import pytest

from mailspec.protocol.pop3 import (
    NEED_DATA,
    Continuation,
    MultiLine,
    Pop3ProtocolViolation,
    Pop3ResponseParser,
    Rule,
    StatusLine,
)
from mailspec.protocol.pop3_listings import (
    greeting_timestamp,
    parse_capa,
    parse_list,
    parse_stat,
    parse_uidl,
    parse_uidl_line,
)


def feed(kind: str, data: bytes, tolerate=frozenset()):
    p = Pop3ResponseParser(tolerate=tolerate)
    p.expect(kind)  # type: ignore[arg-type]
    p.receive_data(data)
    return p, p.next_event()


def violation(kind: str, data: bytes) -> Pop3ProtocolViolation:
    with pytest.raises(Pop3ProtocolViolation) as info:
        p = Pop3ResponseParser()
        p.expect(kind)  # type: ignore[arg-type]
        p.receive_data(data)
        p.next_event()
        p.receive_data(b"")
        p.next_event()
    return info.value


def test_good_status_lines():
    _, ev = feed("status", b"+OK 2 320\r\n")
    assert ev == StatusLine(True, None, "2 320", b"+OK 2 320\r\n")
    _, ev = feed("status", b"-ERR [SYS/TEMP] try later\r\n")
    assert isinstance(ev, StatusLine) and not ev.ok
    assert ev.code == "SYS/TEMP" and ev.code_levels == ("SYS", "TEMP") and ev.text == "try later"
    _, ev = feed("status", b"+OK\r\n")
    assert isinstance(ev, StatusLine) and ev.ok and ev.text == ""


def test_status_arrives_in_pieces():
    p = Pop3ResponseParser()
    p.expect("status")
    p.receive_data(b"+O")
    assert p.next_event() is NEED_DATA
    p.receive_data(b"K hi\r")
    assert p.next_event() is NEED_DATA
    p.receive_data(b"\n")
    assert isinstance(p.next_event(), StatusLine)


@pytest.mark.parametrize(("data", "rule"), [
    (b"+ok hi\r\n", Rule.STATUS_CASE),
    (b"-err no\r\n", Rule.STATUS_CASE),
    (b"OK hi\r\n", Rule.STATUS_INDICATOR),
    (b"+OKAY\r\n", Rule.STATUS_INDICATOR),
    (b"+OK hi\n", Rule.LINE_END),
    (b"+OK h\ri\r\n", Rule.LINE_END),
    (b"+OK " + b"x" * 600 + b"\r\n", Rule.LINE_LENGTH),
    (b"-ERR [IN USE] x\r\n", Rule.RESP_CODE),
    (b"-ERR [] x\r\n", Rule.RESP_CODE),
    (b"-ERR [A//B] x\r\n", Rule.RESP_CODE),
    (b"+OK hi", Rule.LINE_END),
])
def test_status_violations(data, rule):
    v = violation("status", data)
    assert v.rule is rule
    assert rule.value in str(v) and "byte offset 0" in str(v)


def test_violation_names_offset_of_later_line():
    p = Pop3ResponseParser()
    p.expect("status")
    p.expect("status")
    p.receive_data(b"+OK\r\n+ok\r\n")
    p.next_event()
    with pytest.raises(Pop3ProtocolViolation) as info:
        p.next_event()
    assert info.value.offset == 5 and info.value.line == b"+ok\r\n"


def test_multiline_unstuffs_and_terminates():
    _, ev = feed("message", b"+OK\r\nSubject: x\r\n\r\n..dot\r\nplain\r\n.\r\n")
    assert isinstance(ev, MultiLine)
    assert ev.lines == (b"Subject: x", b"", b".dot", b"plain")
    assert ev.octets == len(b"Subject: x\r\n\r\n.dot\r\nplain\r\n")
    assert ev.raw.endswith(b".\r\n")


def test_multiline_error_has_no_body():
    _p, ev = feed("multiline", b"-ERR no such message\r\n+OK\r\n")
    assert isinstance(ev, StatusLine) and not ev.ok


@pytest.mark.parametrize(("data", "rule"), [
    (b"+OK\r\n.x\r\n.\r\n", Rule.BYTE_STUFFING),
    (b"+OK\r\nline\n.\r\n", Rule.LINE_END),
    (b"+OK\r\nline\r\n.\n", Rule.LINE_END),
    (b"+OK\r\nline\r\n", Rule.TERMINATOR),
    (b"+OK\r\n" + b"y" * 600 + b"\r\n.\r\n", Rule.LINE_LENGTH),
])
def test_multiline_violations(data, rule):
    assert violation("multiline", data).rule is rule


def test_long_message_lines_are_allowed():
    _, ev = feed("message", b"+OK\r\n" + b"y" * 900 + b"\r\n.\r\n")
    assert isinstance(ev, MultiLine)


def test_tolerated_rule_is_recorded_and_parsing_goes_on():
    p, ev = feed("multiline", b"+ok\r\na\n.\n", tolerate=frozenset({Rule.LINE_END, Rule.STATUS_CASE}))
    assert isinstance(ev, MultiLine) and ev.status.ok and ev.lines == (b"a",)
    assert [v.rule for v in p.violations] == [Rule.STATUS_CASE, Rule.LINE_END, Rule.LINE_END]


def test_unexpected_data():
    p = Pop3ResponseParser()
    p.receive_data(b"+OK surprise\r\n")
    with pytest.raises(Pop3ProtocolViolation) as info:
        p.next_event()
    assert info.value.rule is Rule.UNEXPECTED_DATA


def test_pipelined_responses_in_order():
    p = Pop3ResponseParser()
    for kind in ("status", "multiline", "status"):
        p.expect(kind)  # type: ignore[arg-type]
    p.receive_data(b"+OK\r\n+OK\r\n1 10\r\n.\r\n-ERR x\r\n")
    events = [p.next_event() for _ in range(3)]
    assert [type(e) for e in events] == [StatusLine, MultiLine, StatusLine]
    assert p.pending == 0 and p.next_event() is NEED_DATA


def test_sasl_continuations():
    _, ev = feed("auth", b"+ \r\n")
    assert ev == Continuation(b"", b"+ \r\n")
    _, ev = feed("auth", b"+ aGk=\r\n")
    assert isinstance(ev, Continuation) and ev.data == b"hi"
    _, ev = feed("auth", b"+OK done\r\n")
    assert isinstance(ev, StatusLine) and ev.ok
    assert violation("auth", b"+ not base64!\r\n").rule is Rule.SASL_CONTINUATION
    assert violation("auth", b"+aGk=\r\n").rule is Rule.SASL_CONTINUATION


def _multi(*lines: bytes) -> MultiLine:
    return MultiLine(StatusLine(True, None, "", b"+OK\r\n"), lines, b"")


def test_capa_parser():
    caps = parse_capa(_multi(b"TOP", b"SASL PLAIN LOGIN", b"expire 31 USER"))
    assert "top" in caps and caps.sasl_mechanisms == ("PLAIN", "LOGIN")
    assert caps.params("EXPIRE") == ("31", "USER")
    with pytest.raises(Pop3ProtocolViolation, match="CAPA"):
        parse_capa(_multi(b"BAD.TAG"))
    with pytest.raises(Pop3ProtocolViolation, match="CAPA"):
        parse_capa(_multi(b"SASL  PLAIN"))
    with pytest.raises(Pop3ProtocolViolation, match="512"):
        parse_capa(_multi(b"X " + b"a" * 520))


def test_scan_listings():
    assert parse_stat(StatusLine(True, None, "2 320", b"")) == (2, 320)
    with pytest.raises(Pop3ProtocolViolation):
        parse_stat(StatusLine(True, None, "two", b""))
    assert parse_list(_multi(b"1 120", b"3 200")) == {1: 120, 3: 200}
    for bad in (b"0 12", b"1  12", b"1", b"x 1", b"1 -2"):
        with pytest.raises(Pop3ProtocolViolation, match="scan listing"):
            parse_list(_multi(bad))
    with pytest.raises(Pop3ProtocolViolation, match="twice"):
        parse_list(_multi(b"1 2", b"1 3"))


def test_uidl_listings():
    assert parse_uidl(_multi(b"1 whqtswO00WBw418f9t5JxYwZ", b"2 QhdPYR:00WBw1Ph7x7")) == {
        1: "whqtswO00WBw418f9t5JxYwZ", 2: "QhdPYR:00WBw1Ph7x7"}
    for bad in (b"1 abc\x7f", b"1 " + b"a" * 71, b"1 ", b"1 a b"):
        with pytest.raises(Pop3ProtocolViolation, match="unique-id"):
            parse_uidl(_multi(bad))
    with pytest.raises(Pop3ProtocolViolation, match="twice"):
        parse_uidl(_multi(b"1 a", b"2 a"))
    assert parse_uidl_line(b"1 abc\x7f", strict=False) == (1, "abc\x7f")


def test_greeting_timestamp():
    g = StatusLine(True, None, "POP3 ready <1896.697170952@dbc.mtview.ca.us>", b"")
    assert greeting_timestamp(g) == "<1896.697170952@dbc.mtview.ca.us>"
    assert greeting_timestamp(StatusLine(True, None, "ready", b"")) is None
