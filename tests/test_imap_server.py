"""The reference IMAP server: the sans-I/O session through a small harness, then real sockets
(STARTTLS, implicit TLS, IDLE push latency, limits, POP3 and IMAP sharing one store)."""

from __future__ import annotations

import imaplib
import poplib
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_server.accounts import AccountDirectory
from reference_server.config import AccountConfig, ServerConfig
from reference_server.embedded import EmbeddedServer
from reference_server.imap.mailbox_commands import DEFAULT_SPECIAL_FOLDERS
from reference_server.imap.server import imap_settings
from reference_server.imap.session import ImapSession
from reference_server.passwords import hash_password
from reference_server.store import Store

MSG = (b"From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: hello\r\n"
       b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nfirst body\r\n")


class Client:
    """One sans-I/O session driven line by line."""

    def __init__(self, session: ImapSession) -> None:
        self.session = session
        self.greeting = session.greeting().decode()

    def send(self, data: bytes | str) -> str:
        raw = data.encode() if isinstance(data, str) else data
        return self.session.receive_data(raw).data.decode("utf-8", "replace")

    def cmd(self, line: bytes | str) -> str:
        raw = line.encode() if isinstance(line, str) else line
        return self.send(raw + b"\r\n")


class Harness:
    """A store with alice (two INBOX messages, special-use folders), bob and admin."""

    def __init__(self, folder: Path, faults: frozenset[str] = frozenset(), **overrides: object) -> None:
        accounts = tuple(AccountConfig(u, hash_password(f"{u}-pw", n=2**4), r)
                         for u, r in (("alice", "user"), ("bob", "user"), ("admin", "admin")))
        self.config = ServerConfig(store=str(folder / "s.sqlite"), accounts=accounts).with_overrides(
            {"allow_plaintext_auth": True, **overrides})
        self.store = Store(self.config.store)
        self.store.sync_accounts((a.user, a.role) for a in accounts)
        self.store.quota_storage_kib = self.config.quota_storage_kib or None
        self.store.quota_messages = self.config.quota_messages or None
        self.store.provision_special_use("alice", DEFAULT_SPECIAL_FOLDERS)
        self.directory = AccountDirectory(self.config)
        self.faults = faults
        self.settings = imap_settings(self.config, tls_available=True)
        self.store.deliver("alice", MSG)
        self.store.deliver("alice", b"Subject: two\r\n\r\nsecond\r\n")

    def client(self, user: str | None = "alice", tls: bool = True) -> Client:
        c = Client(ImapSession(self.store, self.directory, self.settings, self.faults, tls_active=tls))
        if user:
            assert " OK " in c.cmd(f"L LOGIN {user} {user}-pw")
        return c

    def selected(self, mailbox: str = "INBOX", enable: str = "") -> Client:
        """alice's session with `mailbox` selected, after `ENABLE <enable>` when given."""
        c = self.client()
        if enable:
            c.cmd(f"E ENABLE {enable}")
        assert "S OK [READ-WRITE]" in c.cmd(f"S SELECT {mailbox}")
        return c


# -- states, capabilities, authentication ------------------------------------------------------------

def test_greeting_carries_capabilities(h: Harness) -> None:
    c = h.client(user=None, tls=False)
    assert c.greeting.startswith("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")


def test_logindisabled_before_tls_unless_allowed(tmp_path: Path) -> None:
    strict = Harness(tmp_path, allow_plaintext_auth=False)
    c = strict.client(user=None, tls=False)
    caps = c.cmd("a CAPABILITY")
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps and "AUTH=PLAIN" not in caps
    assert "a NO [PRIVACYREQUIRED]" in c.cmd("a LOGIN alice alice-pw")
    tls = strict.client(user=None, tls=True)
    assert "LOGINDISABLED" not in tls.cmd("a CAPABILITY")
    assert "a OK" in tls.cmd("a LOGIN alice alice-pw")


def test_roles_other_than_user_are_refused(h: Harness) -> None:
    c = h.client(user=None)
    assert "a NO [CONTACTADMIN]" in c.cmd("a LOGIN admin admin-pw")
    assert "b NO [AUTHENTICATIONFAILED]" in c.cmd("b LOGIN alice wrong")


def test_authenticate_plain_with_and_without_initial_response(h: Harness) -> None:
    c = h.client(user=None)
    assert "a OK" in c.cmd("a AUTHENTICATE PLAIN AGFsaWNlAGFsaWNlLXB3")  # SASL-IR
    d = h.client(user=None)
    assert d.cmd("b AUTHENTICATE PLAIN") == "+ \r\n"
    assert "b OK" in d.cmd("AGFsaWNlAGFsaWNlLXB3")
    e = h.client(user=None)
    e.cmd("c AUTHENTICATE PLAIN")
    assert "c BAD" in e.cmd("*")


def test_commands_refused_in_wrong_state(h: Harness) -> None:
    c = h.client(user=None)
    assert "a BAD" in c.cmd("a SELECT INBOX")
    d = h.client()
    assert "b BAD" in d.cmd("b FETCH 1 FLAGS")
    assert "c BAD" in d.cmd("c LOGIN alice alice-pw")
    assert "* ID (" in c.cmd("d ID NIL")


def test_capability_switched_off_is_gone(tmp_path: Path) -> None:
    h = Harness(tmp_path, imap_capabilities_off=("IDLE", "MOVE", "QRESYNC"))
    c = h.selected()
    caps = c.cmd("a CAPABILITY")
    assert " IDLE" not in caps and " MOVE" not in caps and "QRESYNC" not in caps and "CONDSTORE" in caps
    assert "b BAD" in c.cmd("b IDLE")
    assert "c BAD" in c.cmd("c MOVE 1 Trash")


# -- selecting and reading ---------------------------------------------------------------------------------

def test_select_reports_required_untagged_data(h: Harness) -> None:
    out = h.client().cmd("a SELECT inbox")
    for needle in ("* FLAGS (", "* OK [PERMANENTFLAGS (", "\\*)]", "* 2 EXISTS", "* 2 RECENT", "* OK [UNSEEN 1]",
                   "* OK [UIDVALIDITY ", "* OK [UIDNEXT 3]", "* OK [HIGHESTMODSEQ ", "a OK [READ-WRITE]"):
        assert needle in out, needle


def test_examine_is_read_only(h: Harness) -> None:
    c = h.client()
    assert "[READ-ONLY]" in c.cmd("a EXAMINE INBOX")
    assert "b NO" in c.cmd("b STORE 1 +FLAGS (\\Seen)")
    c.cmd("c FETCH 1 BODY[]")
    assert h.store.flags("alice", 1) == ()


def test_fetch_items_and_seen(h: Harness) -> None:
    c = h.selected()
    out = c.cmd("a FETCH 1 (UID RFC822.SIZE ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY[TEXT]<0.5>)")
    assert f"RFC822.SIZE {len(MSG)}" in out and 'ENVELOPE ("Mon, 1 Jan 2024' in out
    assert "BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: hello\r\n\r\n" in out
    assert "BODY[TEXT]<0> {5}\r\nfirst" in out and "FLAGS (\\Seen \\Recent)" in out
    assert "\\Seen" in h.store.flags("alice", 1)
    assert "b BAD" in c.cmd("b FETCH 9 FLAGS")
    uid = c.cmd("c UID FETCH 2:* FLAGS")
    assert "* 2 FETCH (UID 2 FLAGS (\\Recent))" in uid


def test_store_search_expunge(h: Harness) -> None:
    c = h.selected()
    assert "* 1 FETCH (FLAGS (\\Deleted \\Recent))" in c.cmd("a STORE 1 +FLAGS (\\Deleted)")
    assert "* SEARCH 1\r\n" in c.cmd("b SEARCH DELETED")
    assert "* SEARCH 2\r\n" in c.cmd("c SEARCH NOT DELETED")
    assert "* ESEARCH (TAG \"d\") UID MIN 2 COUNT 1" in c.cmd("d UID SEARCH RETURN (MIN COUNT) UNDELETED")
    assert "e NO [BADCHARSET" in c.cmd("e SEARCH CHARSET KOI8-R ALL")
    out = c.cmd("f EXPUNGE")
    assert "* 1 EXPUNGE" in out
    assert [u for u, _ in h.store.list_messages("alice")] == [2]


def test_copy_move_uidplus(h: Harness) -> None:
    c = h.selected()
    assert "[COPYUID " in c.cmd("a COPY 1:2 Archive") and len(h.store.list_messages("alice", "Archive")) == 2
    assert "a NO [TRYCREATE]" in c.cmd("a COPY 1 Nowhere")
    out = c.cmd("b MOVE 1 Trash")
    assert out.index("* OK [COPYUID ") < out.index("* 1 EXPUNGE") < out.index("b OK")
    assert "APPENDUID" in c.cmd("c APPEND Drafts (\\Draft) {5+}\r\nhello")
    assert "c NO [TRYCREATE]" in c.cmd("c APPEND Nowhere {5+}\r\nhello")


def test_mailbox_management(h: Harness) -> None:
    c = h.client()
    assert "a OK" in c.cmd("a CREATE Work/2024/")
    assert "b NO [ALREADYEXISTS]" in c.cmd("b CREATE work/2024".replace("work", "Work"))
    listed = c.cmd('c LIST "" Work*')
    assert '(\\HasChildren) "/" Work' in listed and '(\\HasNoChildren) "/" Work/2024' in listed
    assert "d OK" in c.cmd("d DELETE Work")
    assert '(\\Noselect \\HasChildren) "/" Work' in c.cmd('e LIST "" %')
    assert "f OK" in c.cmd("f RENAME Work Play")
    assert "Play/2024" in c.cmd('g LIST "" *') and "Work" not in c.cmd('h LIST "" *')
    assert "i NO [CANNOT]" in c.cmd("i DELETE INBOX")
    assert "j OK" in c.cmd("j RENAME INBOX Old")
    assert "* STATUS INBOX (MESSAGES 0)" in c.cmd("k STATUS INBOX (MESSAGES)")
    assert "* STATUS Old (MESSAGES 2)" in c.cmd("l STATUS Old (MESSAGES)")
    assert "m NO [USEATTR]" in c.cmd("m CREATE Sent2 (USE (\\Sent))")


def test_uidvalidity_new_when_recreated(h: Harness) -> None:
    c = h.client()
    c.cmd("a CREATE Box")
    first = h.store.mailbox_info("alice", "Box").uidvalidity
    c.cmd("b DELETE Box")
    c.cmd("c CREATE Box")
    assert h.store.mailbox_info("alice", "Box").uidvalidity > first


def test_list_extended_status_and_special_use(h: Harness) -> None:
    c = h.client()
    out = c.cmd('a LIST (SPECIAL-USE) "" * RETURN (STATUS (MESSAGES UIDNEXT))')
    assert '\\Sent) "/" Sent' in out and "* STATUS Sent (MESSAGES 0 UIDNEXT 1)" in out and "INBOX" not in out
    assert "\\Subscribed" in c.cmd('b LIST (SUBSCRIBED) "" INBOX')
    assert '* LIST (\\Noselect) "/" ""' in c.cmd('c LIST "" ""')
    assert '* NAMESPACE (("" "/")) NIL NIL' in c.cmd("d NAMESPACE")


def test_condstore_and_qresync(h: Harness) -> None:
    c = h.client()
    assert "* ENABLED QRESYNC" in c.cmd("a ENABLE QRESYNC")
    sel = c.cmd("b SELECT INBOX")
    modseq = int(sel.split("[HIGHESTMODSEQ ")[1].split("]")[0])
    out = c.cmd("c STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)")
    assert "c OK [MODIFIED 1]" in out
    out = c.cmd(f"d UID STORE 2 (UNCHANGEDSINCE {modseq}) +FLAGS (\\Deleted)")
    assert f"MODSEQ ({modseq + 1})" in out
    assert "* VANISHED 2" in c.cmd("e EXPUNGE")
    other = h.client()
    other.cmd("f ENABLE QRESYNC")
    uv = h.store.mailbox_info("alice", "INBOX").uidvalidity
    out = other.cmd(f"g SELECT INBOX (QRESYNC ({uv} {modseq} 1:2))")
    assert "* VANISHED (EARLIER) 2" in out


def test_quota(tmp_path: Path) -> None:
    h = Harness(tmp_path, quota_messages=3, quota_storage_kib=100)
    c = h.client()
    out = c.cmd("a GETQUOTAROOT INBOX")
    assert '* QUOTAROOT INBOX ""' in out and '* QUOTA "" (STORAGE 1 100 MESSAGE 2 3)' in out
    assert "b OK" in c.cmd("b APPEND INBOX {1+}\r\nx")
    assert "c NO [OVERQUOTA]" in c.cmd("c APPEND INBOX {1+}\r\ny")


def test_first_condstore_enabling_command_reports_highestmodseq(h: Harness) -> None:
    # RFC 7162 §3.1: once per session, with a mailbox selected; SELECT reports it on its own.
    c = h.selected()
    top = h.store.mailbox_info("alice", "INBOX").highestmodseq
    assert f"* OK [HIGHESTMODSEQ {top}]" in c.cmd("a FETCH 1 (MODSEQ)")
    assert "HIGHESTMODSEQ" not in c.cmd("b FETCH 1 (MODSEQ)")
    d = h.selected()
    out = d.cmd("c STATUS Trash (HIGHESTMODSEQ)")  # STATUS (HIGHESTMODSEQ) enables CONDSTORE too
    assert f"* OK [HIGHESTMODSEQ {top}]" in out
    assert "MODSEQ (" in d.cmd("d STORE 1 +FLAGS (\\Flagged)")


def test_rev2_select_sends_list_response(h: Harness) -> None:
    c = h.client()
    c.cmd("a ENABLE IMAP4rev2")
    assert '* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n' in c.cmd("b SELECT Sent")
    assert '* LIST (\\HasNoChildren) "/" INBOX\r\n' in c.cmd("c EXAMINE INBOX")
    assert "* LIST" not in h.client().cmd("d SELECT INBOX")  # not before ENABLE IMAP4rev2


def test_mailbox_names_stored_as_unicode(h: Harness) -> None:
    rev1, rev2 = h.client(), h.client()
    rev2.cmd("a ENABLE IMAP4rev2")
    assert "b OK" in rev2.cmd('b CREATE "Caf\u00e9 & cr\u00e8me"'.encode())
    assert "c OK" in rev1.cmd('c CREATE "Entw&APw-rfe"')
    assert {"Caf\u00e9 & cr\u00e8me", "Entw\u00fcrfe"} <= {m.name for m in h.store.mailboxes("alice")}
    listed = rev1.cmd('d LIST "" *')
    assert '"/" "Caf&AOk- &- cr&AOg-me"\r\n' in listed and '"/" Entw&APw-rfe\r\n' in listed
    assert listed.isascii()
    assert "\u00fc" in rev2.cmd('e LIST "" Entw*')
    assert "* STATUS Entw&APw-rfe (MESSAGES 0)" in rev1.cmd("f STATUS Entw&APw-rfe (MESSAGES)")
    assert "g OK" in rev1.cmd('g SELECT "Caf&AOk- &- cr&AOg-me"')


@pytest.mark.parametrize("name", [b'"bad&Jjo"', b'"&AGE-"', b'"&AOQ-&APY-"', b"{5+}\r\nGr\xc3\xb6e"])
def test_create_refuses_malformed_names_without_utf8(h: Harness, name: bytes) -> None:
    before = h.store.mailboxes("alice")
    out = h.client().cmd(b"a CREATE " + name)
    assert out.startswith("a NO [CANNOT] CREATE ") and out.isascii(), out
    assert h.store.mailboxes("alice") == before


def test_old_store_names_are_decoded(tmp_path: Path) -> None:
    old = Store(tmp_path / "old.sqlite")
    old.sync_accounts([("alice", "user")])
    old.create_mailbox("alice", "Entw&APw-rfe")  # as IMAP used to store it
    old.create_mailbox("alice", "R&D")  # not modified UTF-7: left alone
    old.set_subscribed("alice", "Entw&APw-rfe", True)
    old._conn().execute("DELETE FROM counters WHERE name='unicode_names'")  # a file from before
    old.close()
    store = Store(tmp_path / "old.sqlite")
    assert {"Entw\u00fcrfe", "R&D"} <= {m.name for m in store.mailboxes("alice")}
    assert store.subscriptions("alice") == ["Entw\u00fcrfe"]
    store.close()


def test_lsub_percent_gives_unsubscribed_parent_as_noselect(h: Harness) -> None:
    c = h.client()
    c.cmd("a CREATE Work/2024")
    c.cmd("b SUBSCRIBE Work/2024")
    out = c.cmd('c LSUB "" W%')
    assert '* LSUB (\\Noselect) "/" Work\r\n' in out and "Work/2024" not in out
    assert '* LSUB () "/" Work/2024' in c.cmd('d LSUB "" W*')


def test_list_unknown_return_option_is_bad(h: Harness) -> None:
    c = h.client()
    assert "a BAD" in c.cmd('a LIST "" * RETURN (NO-SUCH-OPTION)')
    assert "b OK" in c.cmd('b LIST "" * RETURN (CHILDREN SUBSCRIBED SPECIAL-USE)')


def test_status_deleted_storage(tmp_path: Path) -> None:
    h = Harness(tmp_path, quota_storage_kib=100)
    c = h.selected()
    assert "* STATUS INBOX (DELETED-STORAGE 0)" in c.cmd("a STATUS INBOX (DELETED-STORAGE)")
    c.cmd("b STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert "* STATUS INBOX (DELETED 1 DELETED-STORAGE 1)" in c.cmd("c STATUS INBOX (DELETED DELETED-STORAGE)")
    off = Harness(tmp_path / "off", imap_capabilities_off=("QUOTA",))
    assert "d BAD" in off.client().cmd("d STATUS INBOX (DELETED-STORAGE)")


# -- several sessions on one mailbox ------------------------------------------------------------------------

def test_changes_reach_other_sessions_without_breaking_numbers(h: Harness) -> None:
    a, b = h.selected(), h.selected()
    a.cmd("a STORE 2 +FLAGS (\\Deleted)")
    a.cmd("b EXPUNGE")
    h.store.deliver("alice", b"Subject: three\r\n\r\n3\r\n")
    out = b.cmd("c FETCH 1:* (FLAGS)")
    assert " EXPUNGE\r\n" not in out and "* 3 EXISTS" in out  # RFC 3501 §7.4.1
    assert "c NO [EXPUNGEISSUED]" in out
    out = b.cmd("d NOOP")
    assert "* 2 EXPUNGE" in out
    b.cmd("e STORE 1 +FLAGS (\\Answered)")
    assert "* 1 FETCH (FLAGS (\\Answered" in a.cmd("f NOOP")


def test_uid_commands_ignore_uids_expunged_elsewhere(h: Harness) -> None:
    # RFC 3501 §6.4.8: UIDs that no longer exist are ignored; the reply itself reports the expunge.
    a, b = h.selected(), h.selected()
    a.cmd("a STORE 1 +FLAGS (\\Deleted)")
    a.cmd("b EXPUNGE")
    out = b.cmd("c UID FETCH 1:* (FLAGS)")
    assert "* 2 FETCH (UID 2 FLAGS" in out and "* 1 EXPUNGE" in out and out.endswith("c OK FETCH completed\r\n")
    assert out.index("* 2 FETCH") < out.index("* 1 EXPUNGE")  # numbered as the client counts then
    a.cmd("d STORE 1 +FLAGS (\\Deleted)")
    a.cmd("e EXPUNGE")
    out = b.cmd("f UID COPY 2 Trash")
    assert "* 1 EXPUNGE" in out and "f OK" in out and h.store.list_messages("alice", "Trash") == []


def test_recent_belongs_to_one_session(h: Harness) -> None:
    first, second = h.selected(), h.client()
    assert "* 0 RECENT" in second.cmd("a SELECT INBOX")
    h.store.deliver("alice", b"Subject: new\r\n\r\nx\r\n")
    assert "* 3 RECENT" in first.cmd("b NOOP")
    assert "* 0 RECENT" in second.cmd("c NOOP")


def test_append_to_the_selected_mailbox_takes_recent_in_its_own_transaction(h: Harness) -> None:
    """RFC 3501 §2.3.2: the appending session, told of the message first, gets \\Recent; no other does."""
    first, second = h.selected(), h.selected()
    first.cmd("a FETCH 1:* FLAGS")
    second.cmd("b FETCH 1:* FLAGS")
    before = h.store.version.settled()
    out = first.cmd("c APPEND INBOX {9+}\r\nSubject: \r\n")
    assert "* 3 EXISTS" in out and "* 3 RECENT" in out and "c OK" in out
    assert h.store.version.settled() == (before or 0) + 1  # one transaction: no separate claim
    assert "\\Recent" in first.cmd("d FETCH 3 FLAGS")
    assert "* 3 EXISTS" in second.cmd("e NOOP")
    assert "\\Recent" not in second.cmd("f FETCH 3 FLAGS")
    assert "* 0 RECENT" in h.client().cmd("g SELECT INBOX")


def test_search_save_and_the_dollar_marker_rfc9051_6_4_4_1(h: Harness) -> None:
    c = h.selected(enable="IMAP4rev2")
    out = c.cmd("b SEARCH RETURN (SAVE) ALL")
    assert "ESEARCH" not in out and "b OK" in out  # SAVE alone: no ESEARCH response
    assert c.cmd("c FETCH $ (UID)").count(" FETCH (") == 2
    assert "ESEARCH" in c.cmd("d SEARCH RETURN (SAVE MIN) ALL")
    out = c.cmd("e UID FETCH $ (FLAGS)")
    assert out.count(" FETCH (") == 1 and "* 1 FETCH" in out  # MIN alone: "$" is that message
    assert "f BAD" in c.cmd("f SEARCH RETURN (SAVE) NOSUCHKEY")  # BAD leaves "$" alone
    assert c.cmd("g FETCH $ (UID)").count(" FETCH (") == 1
    assert "h NO" in c.cmd("h SEARCH RETURN (SAVE) CHARSET X-UNKNOWN ALL")  # NO empties it
    out = c.cmd("i FETCH $ (UID)")
    assert " FETCH (" not in out and "i OK" in out  # an empty "$" is valid and names nothing
    c.cmd("j SEARCH RETURN (SAVE) ALL")
    assert "ALL 2" in c.cmd("k SEARCH RETURN (ALL) UID $ NOT 1")  # "$" as a search key
    c.cmd("l STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.cmd("m EXPUNGE")
    out = c.cmd("n UID FETCH $ (UID)")
    assert out.count(" FETCH (") == 1 and "UID 2" in out  # an expunged message leaves "$"
    c.cmd("o SELECT INBOX")
    assert " FETCH (" not in c.cmd("p FETCH $ (UID)")  # SELECT empties it
    rev1 = h.selected()
    assert "q BAD" in rev1.cmd("q SEARCH RETURN (SAVE) ALL") and "r BAD" in rev1.cmd("r FETCH $ FLAGS")


def test_idle_in_session(h: Harness) -> None:
    c = h.selected()
    assert c.cmd("a IDLE") == "+ idling\r\n"
    h.store.deliver("alice", b"Subject: pushed\r\n\r\nx\r\n")
    assert "* 3 EXISTS" in c.session.idle_updates().decode()
    assert "a OK" in c.cmd("DONE")


def test_parse_errors_and_limits(tmp_path: Path) -> None:
    h = Harness(tmp_path, imap_max_line=1024, imap_max_literal=10, imap_max_depth=3)
    c = h.client()
    assert "a BAD" in c.cmd("a FROB")
    assert "* BAD" in c.cmd("")
    assert "[TOOBIG]" in c.cmd("b NOOP " + "x" * 2000)
    assert "c OK" in c.cmd("c NOOP")
    assert "d NO [TOOBIG]" in c.cmd("d LOGIN {11}")
    assert "e BAD [TOOBIG]" in c.send("e LOGIN {11+}\r\n01234567890 x\r\n")
    assert "f OK" in c.cmd("f NOOP")
    c.cmd("g SELECT INBOX")
    assert "[LIMIT]" in c.cmd("h SEARCH ((((ALL))))")


# -- real sockets ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(settings={"imap_command_timeout": 1, "max_connections": 20}) as srv:
        yield srv


def _imap(srv: EmbeddedServer, account: int = 0) -> imaplib.IMAP4:
    t = srv.target
    conn = imaplib.IMAP4("localhost", t.endpoints["imap"].port)
    conn.starttls(ssl_context=ssl.create_default_context(cafile=t.tls.ca_file))
    acc = t.accounts[account]
    conn.login(acc.user, acc.password)
    return conn


def test_implicit_tls_and_starttls(server: EmbeddedServer) -> None:
    t = server.target
    ctx = ssl.create_default_context(cafile=t.tls.ca_file)
    with imaplib.IMAP4_SSL("localhost", t.endpoints["imaps"].port, ssl_context=ctx) as s:
        assert "LOGINDISABLED" not in s.capabilities
        s.login(t.accounts[0].user, t.accounts[0].password)
    plain = imaplib.IMAP4("localhost", t.endpoints["imap"].port)
    assert "LOGINDISABLED" in plain.capabilities
    plain.shutdown()


def test_idle_push_within_50ms(server: EmbeddedServer) -> None:
    conn = _imap(server, 1)
    conn.select("INBOX")
    conn.send(b"i IDLE\r\n")
    assert conn.readline().startswith(b"+")
    start = time.monotonic()
    server.deliver(server.target.accounts[1], b"Subject: push\r\n\r\nx\r\n")
    line = conn.readline()
    assert line.endswith(b"EXISTS\r\n") and time.monotonic() - start < 0.05
    conn.send(b"DONE\r\n")
    while not conn.readline().startswith(b"i OK"):
        pass
    conn.logout()


def test_pop3_and_imap_share_the_store(server: EmbeddedServer) -> None:
    t = server.target
    acc = t.accounts[2]
    imap = _imap(server, 2)
    imap.append("INBOX", None, None, b"Subject: via imap\r\n\r\nx\r\n")
    imap.select("INBOX")
    ctx = ssl.create_default_context(cafile=t.tls.ca_file)
    pop = poplib.POP3_SSL("localhost", t.endpoints["pop3s"].port, context=ctx)
    pop.user(acc.user)
    pop.pass_(acc.password)
    assert pop.stat()[0] == 1
    pop.dele(1)
    pop.quit()
    imap.noop()
    assert imap.response("EXPUNGE") == ("EXPUNGE", [b"1"])
    imap.logout()


def test_slow_command_is_cut_off(server: EmbeddedServer) -> None:
    t = server.target
    with socket.create_connection(("127.0.0.1", t.endpoints["imap"].port), timeout=5) as s:
        s.recv(1000)
        s.sendall(b"a LOGIN {5}\r\n")
        assert s.recv(1000).startswith(b"+")
        time.sleep(1.5)
        assert b"BYE [LIMIT]" in s.recv(1000)


def test_garbage_never_kills_the_server(server: EmbeddedServer) -> None:
    t = server.target
    with socket.create_connection(("127.0.0.1", t.endpoints["imap"].port), timeout=5) as s:
        s.recv(1000)
        s.sendall(b"\x00\xff\r\n(((\r\na UID\r\nb FETCH\r\n\r\nc NOOP\r\n")
        data = b""
        while b"c OK" not in data:
            chunk = s.recv(4096)
            assert chunk
            data += chunk
        assert data.count(b"BAD") >= 4


def test_imap_config_section() -> None:
    from reference_server.config import ConfigError, parse_config
    cfg = parse_config({"imap_port": 0, "imap": {"capabilities_off": ["idle"], "literal": "minus",
                                                 "quota_messages": 5}})
    assert cfg.imap_port == 0 and cfg.imap_capabilities_off == ("IDLE",) and cfg.quota_messages == 5
    caps = imap_settings(cfg, tls_available=True).capabilities
    assert "LITERAL-" in caps and "LITERAL+" not in caps and "IDLE" not in caps
    with pytest.raises(ConfigError, match="capabilities_off"):
        parse_config({"imap": {"capabilities_off": ["NOPE"]}})
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config({"imap": {"colour": 1}})
