"""SORT and UID SORT (RFC 5256) in the reference server: base subjects, every sort key, REVERSE, several
criteria, charsets, the capability switch, CONDSTORE's (MODSEQ n) (RFC 7162 §3.1.9), and a real client."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from imapclient import IMAPClient

from mailspec.protocol.imap_grammar import parse_response
from mailspec.protocol.imap_response import SearchData, Untagged
from reference_server.embedded import EmbeddedServer
from reference_server.imap.commands import ParseError, Sort
from reference_server.imap.model import SortCriterion
from reference_server.imap.parser import parse_command
from reference_server.imap.sort import base_subject
from tests.test_imap_server import Client, Harness

# -- base subject (RFC 5256 §2.1) ------------------------------------------------------------------------


@pytest.mark.parametrize(("subject", "base"), [
    ("hello", "hello"),
    ("Re: hello", "hello"),
    ("RE: re: Re:hello", "hello"),
    ("Fwd: hello", "hello"),
    ("FW: hello", "hello"),
    ("Re [list]: hello", "hello"),
    ("[list] Re: hello", "hello"),
    ("[list] hello", "hello"),
    ("[a][b] Re: [c] hello", "hello"),
    ("hello (fwd)", "hello"),
    ("hello (FWD) (fwd)  ", "hello"),
    ("[fwd: hello]", "hello"),
    ("Re: [Fwd: Re: hello] (fwd)", "hello"),
    ("  hello \t  world  ", "hello world"),
    ("[blob]", "[blob]"),  # a blob is kept when nothing would be left
    ("[list] [blob]", "[blob]"),
    ("Rebecca", "Rebecca"),  # "re" only counts before a colon
    ("Fwdx: hello", "Fwdx: hello"),
    ("", ""),
])
def test_base_subject(subject: str, base: str) -> None:
    assert base_subject(subject) == base


# -- the command grammar (RFC 5256 §4) -------------------------------------------------------------------


def test_sort_command_parses_criteria_charset_and_keys() -> None:
    cmd = parse_command(b"a UID sort (reverse Date SUBJECT) utf-8 UNSEEN FROM x\r\n")
    assert not isinstance(cmd, ParseError) and cmd.uid and cmd.name == "SORT"
    assert isinstance(cmd.args, Sort)
    assert cmd.args.criteria == (SortCriterion("DATE", True), SortCriterion("SUBJECT"))
    assert cmd.args.charset == "UTF-8"
    assert [k.name for k in cmd.args.key.args[0]] == ["UNSEEN", "FROM"]  # type: ignore[union-attr]


@pytest.mark.parametrize("line", [
    b"a SORT () UTF-8 ALL",  # at least one criterion
    b"a SORT (REVERSE) UTF-8 ALL",  # REVERSE needs a key after it
    b"a SORT (REVERSE REVERSE DATE) UTF-8 ALL",
    b"a SORT (THREAD) UTF-8 ALL",
    b"a SORT DATE UTF-8 ALL",  # the criteria are parenthesised
    b"a SORT (DATE) ALL",  # the charset is not optional
    b"a SORT (DATE) UTF-8",
    b"a SORT RETURN (ALL) (DATE) UTF-8 ALL",  # ESORT (RFC 5267) is not offered
])
def test_sort_syntax_errors(line: bytes) -> None:
    assert isinstance(parse_command(line + b"\r\n"), ParseError)


# -- the session -----------------------------------------------------------------------------------------

# Four messages in "Sorted" (a first one is expunged, so UID = sequence number + 1):
#  seq  Subject                  From             To                    Cc           Date (UTC)      arrived  size
#  1    Re: beta                 carol@x          bob@x                 -            3 Jan 10:00     5 Feb    3rd
#  2    alpha                    "Zed" <alice@x>  ann@x                 dave@x       3 Jan 11:00     1 Feb    1st
#  3    [list] Fwd: Alpha (fwd)  dan@x            Team: zoe@x, adam@x;  Abe <abe@x>  - (arrival)     2 Jan    2nd
#  4    =?utf-8?q?beta?=         CAROL@x          -                     -            bad (arrival)   3 Feb    4th
MESSAGES = [
    ("Subject: Re: beta\r\nFrom: carol@x\r\nTo: bob@x\r\nDate: Wed, 3 Jan 2024 10:00:00 +0000\r\n", 500,
     "05-Feb-2024 12:00:00 +0000"),
    ('Subject: alpha\r\nFrom: "Zed" <alice@x>\r\nTo: ann@x\r\nCc: dave@x\r\n'
     "Date: Wed, 3 Jan 2024 09:00:00 -0200\r\n", 0, "01-Feb-2024 12:00:00 +0000"),
    ("Subject: [list] Fwd: Alpha (fwd)\r\nFrom: dan@x\r\nTo: Team: zoe@x, adam@x;\r\nCc: Abe <abe@x>\r\n", 250,
     "02-Jan-2024 12:00:00 +0000"),
    ("Subject: =?utf-8?q?beta?=\r\nFrom: CAROL@x\r\nDate: not a date\r\n", 1000, "03-Feb-2024 12:00:00 +0000"),
]


def _append(c: Client, mailbox: str, header: str, body_size: int, when: str) -> None:
    data = (header + "\r\n" + "x" * body_size + "\r\n").encode()
    assert " OK " in c.send(f'A APPEND {mailbox} "{when}" {{{len(data)}+}}\r\n'.encode() + data + b"\r\n")


def _sorted_mailbox(h: Harness) -> Client:
    c = h.client()
    c.cmd("C CREATE Sorted")
    _append(c, "Sorted", "Subject: gone\r\n", 0, "01-Jan-2024 00:00:00 +0000")
    for header, size, when in MESSAGES:
        _append(c, "Sorted", header, size, when)
    c.cmd("S SELECT Sorted")
    c.cmd("D STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert "* 1 EXPUNGE" in c.cmd("E EXPUNGE")
    return c


@pytest.fixture
def sorted_box(h: Harness) -> Client:
    return _sorted_mailbox(h)


def sort_data(out: str) -> SearchData:
    """The one `* SORT` response in `out`, checked against the suite's strict response grammar."""
    lines = [line for line in out.split("\r\n") if line.startswith("* SORT")]
    assert len(lines) == 1, out
    resp = parse_response(lines[0].encode() + b"\r\n", allow_unknown=False)
    assert isinstance(resp, Untagged) and resp.kind == "SORT" and isinstance(resp.data, SearchData), resp
    return resp.data


def sort(c: Client, criteria: str, keys: str = "ALL", *, uid: bool = False) -> list[int]:
    out = c.cmd(f"t {'UID ' if uid else ''}SORT ({criteria}) UTF-8 {keys}")
    assert out.endswith("OK SORT completed\r\n"), out
    return list(sort_data(out).numbers)


@pytest.mark.parametrize(("criteria", "order"), [
    ("ARRIVAL", [3, 2, 4, 1]),
    ("DATE", [3, 1, 2, 4]),  # Date in UTC; without a readable one, the arrival time
    ("SUBJECT", [2, 3, 1, 4]),  # base subjects alpha, Alpha, beta, beta: ties in sequence order
    ("FROM", [2, 1, 4, 3]),  # alice, carol, CAROL (equal under i;ascii-casemap), dan
    ("TO", [4, 2, 1, 3]),  # none, ann, bob, zoe (the group's first member)
    ("CC", [1, 4, 3, 2]),  # none, none, abe, dave
    ("SIZE", [2, 3, 1, 4]),
    ("REVERSE ARRIVAL", [1, 4, 2, 3]),
    ("REVERSE SIZE", [4, 1, 3, 2]),
    ("REVERSE SUBJECT", [1, 4, 2, 3]),  # REVERSE does not turn ties around
    ("SUBJECT DATE", [3, 2, 1, 4]),
    ("SUBJECT REVERSE DATE", [2, 3, 4, 1]),
    ("FROM REVERSE DATE", [2, 4, 1, 3]),
    ("REVERSE FROM SIZE", [3, 1, 4, 2]),
    ("cc reverse date", [4, 1, 3, 2]),  # criteria are case-insensitive
])
def test_sort_order(sorted_box: Client, criteria: str, order: list[int]) -> None:
    assert sort(sorted_box, criteria) == order


def test_uid_sort_answers_uids(sorted_box: Client) -> None:
    assert sort(sorted_box, "ARRIVAL", uid=True) == [4, 3, 5, 2]
    assert sort(sorted_box, "SUBJECT", "UID 2:4", uid=True) == [3, 4, 2]


def test_sort_searches_first(sorted_box: Client) -> None:
    assert sort(sorted_box, "SUBJECT", "FROM carol") == [1, 4]
    assert sort(sorted_box, "REVERSE ARRIVAL", "OR TO bob NOT LARGER 400") == [1, 2, 3]
    assert sort(sorted_box, "DATE", "SUBJECT nowhere") == []
    assert "* SORT\r\n" in sorted_box.cmd("a SORT (DATE) UTF-8 SUBJECT nowhere")


def test_sort_charsets(sorted_box: Client) -> None:
    assert sort_data(sorted_box.cmd("a SORT (SIZE) US-ASCII ALL")).numbers == (2, 3, 1, 4)
    assert sort_data(sorted_box.cmd('b SORT (SIZE) "utf-8" SUBJECT "BETA"')).numbers == (1, 4)
    found = sorted_box.send(b"c SORT (SIZE) UTF-8 SUBJECT {2+}\r\n\xc3\xa4\r\n")
    assert sort_data(found).numbers == () and "c OK" in found
    assert "d NO [BADCHARSET (US-ASCII UTF-8)]" in sorted_box.cmd("d SORT (SIZE) ISO-8859-1 ALL")
    assert "e BAD" in sorted_box.send(b"e SORT (SIZE) US-ASCII SUBJECT {1+}\r\n\xe4\r\n")


def test_sort_needs_a_selected_mailbox(h: Harness) -> None:
    assert "a BAD" in h.client().cmd("a SORT (DATE) UTF-8 ALL")


def test_sort_holds_back_expunges_but_uid_sort_does_not(h: Harness) -> None:
    a, b = h.selected(), h.selected()
    a.cmd("a STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.cmd("b EXPUNGE")
    out = b.cmd("c SORT (ARRIVAL) UTF-8 ALL")
    assert "EXPUNGE" not in out and sort_data(out).numbers == (2,)  # message 1 is gone for searching
    assert "* 1 EXPUNGE" in b.cmd("d UID SORT (ARRIVAL) UTF-8 ALL")


def test_sort_can_be_switched_off(tmp_path: Path) -> None:
    h = Harness(tmp_path, imap_capabilities_off=("SORT",))
    c = h.selected()
    assert " SORT" not in c.cmd("a CAPABILITY")
    assert "b BAD unknown command SORT" in c.cmd("b SORT (DATE) UTF-8 ALL")
    assert "c BAD" in c.cmd("c UID SORT (DATE) UTF-8 ALL")
    h.store.close()


def test_sort_is_advertised(h: Harness) -> None:
    assert " SORT " in h.client().cmd("a CAPABILITY")


def test_sort_stays_sort_in_imap4rev2(h: Harness) -> None:
    c = h.selected(enable="IMAP4rev2")
    out = c.cmd("c SORT (REVERSE ARRIVAL) UTF-8 ALL")
    assert "ESEARCH" not in out and sort_data(out).numbers == (2, 1)


# -- CONDSTORE (RFC 7162 §3.1.5, §3.1.9) -------------------------------------------------------------------


def _modseqs(c: Client) -> dict[int, int]:
    out = c.cmd("m FETCH 1:* (MODSEQ)")
    return {int(line.split()[1]): int(line.split("MODSEQ (")[1].split(")")[0])
            for line in out.split("\r\n") if line.startswith("* ") and " FETCH " in line}


def test_sort_modseq_ends_with_highest_modseq_of_hits(sorted_box: Client) -> None:
    sorted_box.cmd("a STORE 2 +FLAGS.SILENT (\\Flagged)")
    modseqs = _modseqs(sorted_box)
    out = sorted_box.cmd("b SORT (REVERSE SIZE) UTF-8 MODSEQ 1")
    data = sort_data(out)
    assert data.numbers == (4, 1, 3, 2) and data.modseq == max(modseqs.values()) == modseqs[2]
    data = sort_data(sorted_box.cmd("c SORT (SIZE) UTF-8 MODSEQ 1 NOT FLAGGED"))
    assert data.numbers == (3, 1, 4) and data.modseq == max(modseqs[n] for n in (1, 3, 4))


def test_sort_modseq_suffix_only_with_hits_and_a_modseq_key(sorted_box: Client) -> None:
    top = max(_modseqs(sorted_box).values())
    assert "* SORT\r\n" in sorted_box.cmd(f"a SORT (SIZE) UTF-8 MODSEQ {top + 1}")
    assert sort_data(sorted_box.cmd("b SORT (SIZE) UTF-8 ALL")).modseq is None


def test_sort_modseq_enables_condstore(h: Harness) -> None:
    c = h.selected()
    out = c.cmd("a SORT (ARRIVAL) UTF-8 MODSEQ 1")
    assert "* OK [HIGHESTMODSEQ " in out and sort_data(out).modseq is not None
    assert "MODSEQ (" in c.cmd("b STORE 1 +FLAGS (\\Seen)")  # CONDSTORE is on for the session now


def test_sort_modseq_refused_without_condstore(tmp_path: Path) -> None:
    h = Harness(tmp_path, imap_capabilities_off=("CONDSTORE",))
    assert "a BAD" in h.selected().cmd("a SORT (ARRIVAL) UTF-8 MODSEQ 1")
    h.store.close()


# -- a real client ---------------------------------------------------------------------------------------


def test_imapclient_sort() -> None:
    with EmbeddedServer() as srv:
        acc = srv.target.disposable_accounts()[0]
        with IMAPClient("localhost", port=srv.target.endpoints["imap"].port, ssl=False) as c:
            c.starttls(ssl.create_default_context(cafile=srv.target.tls.ca_file))
            c.login(acc.user, acc.password)
            assert b"SORT" in c.capabilities()
            c.create_folder("Sorting")
            for subject in ("Re: pear", "apple", "[x] Fwd: mango"):
                c.append("Sorting", f"Subject: {subject}\r\n\r\nbody\r\n".encode())
            info = c.select_folder("Sorting")
            uids = c.search("ALL")
            assert info[b"EXISTS"] == 3 and len(uids) == 3
            assert c.sort(["SUBJECT"]) == [uids[1], uids[2], uids[0]]  # imapclient sends UID SORT
            assert c.sort(["REVERSE SUBJECT"], ["NOT", "SUBJECT", "mango"]) == [uids[0], uids[1]]
