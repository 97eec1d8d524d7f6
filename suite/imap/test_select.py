"""SELECT and EXAMINE (RFC 3501 §6.3.1, §6.3.2), the UID rules (§2.3.1.1) and PERMANENTFLAGS (§7.1).

Each test opens a mailbox of its own, filled with `append`. Rules that a fault of the reference
server breaks are checked by one test only (the fault names it), so that one bug fails one test:
only `uidvalidity-stable-across-selects` compares UIDVALIDITY between two SELECTs of one session,
only `uidnext-above-newest-uid` compares UIDNEXT with the newest UID, only `examine-is-read-only`
checks EXAMINE's response code and STORE in it.
"""

from __future__ import annotations

import pytest

from mailspec.fixtures_imap import status_of
from suite.imap._selected import SYSTEM_FLAGS, examine_read_only, fetch, fetch_one, flags_of, open_box, store, uids

spec = pytest.mark.spec


# -- SELECT's untagged data (§6.3.1) ------------------------------------------------------------------


@spec("imap/3501/6.3.1/select-reports-flags", "RFC3501-6.3.1-01", "RFC3501-6.3.1-02")
def test_select_reports_flags(imap, mailbox, append):
    """SELECT sends an untagged FLAGS response, naming at least the five system flags, before OK."""
    client = imap()
    append(client, mailbox)
    opened = open_box(client, mailbox)
    assert opened.flags is not None, "SELECT sent no untagged FLAGS response"
    missing = {f.lower() for f in SYSTEM_FLAGS} - {f.lower() for f in opened.flags}
    assert not missing, f"FLAGS {opened.flags} lacks the system flags {sorted(missing)}"


@spec("imap/3501/6.3.1/select-reports-exists", "RFC3501-6.3.1-01", "RFC3501-6.3.1-02")
def test_select_reports_exists(imap, mailbox, append):
    """SELECT sends an untagged EXISTS with the number of messages in the mailbox."""
    client = imap()
    for _ in range(3):
        append(client, mailbox)
    assert open_box(client, mailbox).exists == 3


@spec("imap/3501/6.3.1/select-reports-recent", "RFC3501-6.3.1-01", "RFC3501-6.3.1-02")
def test_select_reports_recent(imap, mailbox, append):
    """The first SELECT after three APPENDs reports '3 RECENT': no session has seen them yet."""
    client = imap()
    for _ in range(3):
        append(client, mailbox)
    opened = open_box(client, mailbox)
    assert opened.recent is not None, "SELECT sent no untagged RECENT response"
    assert opened.recent == 3


@spec("imap/3501/6.3.1/select-reports-uidvalidity", "RFC3501-6.3.1-01", "RFC3501-6.3.1-02")
def test_select_reports_uidvalidity(imap, mailbox):
    """SELECT sends an untagged OK [UIDVALIDITY n] (a non-zero number), even for an empty mailbox."""
    client = imap()
    assert open_box(client, mailbox).uidvalidity is not None, "SELECT sent no OK [UIDVALIDITY n]"


@spec("imap/3501/6.3.1/select-reports-uidnext", "RFC3501-6.3.1-01", "RFC3501-6.3.1-02")
def test_select_reports_uidnext(imap, mailbox, append):
    """SELECT sends an untagged OK [UIDNEXT n]."""
    client = imap()
    append(client, mailbox)
    assert open_box(client, mailbox).uidnext is not None, "SELECT sent no OK [UIDNEXT n]"


@spec("imap/3501/6.3.1/select-reports-permanentflags", "RFC3501-6.3.1-01", "RFC3501-6.3.1-02")
def test_select_reports_permanentflags(imap, mailbox, append):
    """SELECT of a writable mailbox sends OK [PERMANENTFLAGS (...)] naming \\Seen and \\Deleted."""
    client = imap()
    append(client, mailbox)
    permanent = open_box(client, mailbox).permanentflags
    assert permanent is not None, "SELECT sent no OK [PERMANENTFLAGS (...)]"
    # the suite's own account may change every flag of its own mailbox, so these two are permanent
    assert {"\\seen", "\\deleted"} <= {f.lower() for f in permanent}, f"PERMANENTFLAGS {permanent}"


@spec("imap/3501/6.3.1/select-reports-first-unseen", "RFC3501-6.3.1-01", "RFC3501-6.3.1-02")
def test_select_reports_first_unseen(imap, mailbox, append):
    """With messages 1 and 2 seen and 3 not, SELECT sends OK [UNSEEN 3]: the first unseen one."""
    client = imap()
    for _ in range(3):
        append(client, mailbox)
    open_box(client, mailbox)
    store(client, "STORE 1:2 +FLAGS (\\Seen)")
    assert open_box(client, mailbox).unseen == 3


@spec("imap/3501/6.3.1/select-read-write-code", "RFC3501-6.3.1-04", "RFC9051-6.3.2-07")
def test_select_read_write_code(imap, mailbox):
    """SELECT of a mailbox the user may change completes with OK [READ-WRITE]."""
    client = imap()
    done = open_box(client, mailbox).done
    assert done.code == "READ-WRITE", f"SELECT completed with {done.raw!r}"


@spec("imap/3501/6.3.1/select-missing-mailbox-fails")
def test_select_missing_mailbox_fails(imap, mailboxes):
    """SELECT of a mailbox that does not exist is answered NO."""
    client = imap()
    _, done = client.select(mailboxes.name("missing"))
    assert done.status == "NO", f"SELECT of a missing mailbox answered {done.raw!r}"


@spec("imap/3501/6.3.1/failed-select-leaves-nothing-selected")
def test_failed_select_leaves_nothing_selected(imap, mailbox, mailboxes, append):
    """After a failed SELECT the session is back in the authenticated state, even though another
    mailbox was selected before: a following FETCH is refused."""
    client = imap()
    append(client, mailbox)
    open_box(client, mailbox)
    _, done = client.select(mailboxes.name("missing"))
    assert done.status == "NO", f"SELECT of a missing mailbox answered {done.raw!r}"
    _, fetched = client.run("FETCH 1 (FLAGS)")
    assert not fetched.ok, "FETCH worked after a failed SELECT: the earlier mailbox is still selected"


@spec("imap/3501/6.3.1/select-replaces-selected-mailbox")
def test_select_replaces_selected_mailbox(imap, mailboxes, append):
    """SELECT while another mailbox is selected switches to the new one: EXISTS and the messages are
    those of the new mailbox."""
    client = imap()
    first, second = mailboxes.create("first"), mailboxes.create("second")
    for _ in range(2):
        append(client, first)
    wanted = append(client, second).marker
    open_box(client, first)
    assert open_box(client, second).exists == 1
    header = fetch_one(client, 1, "(BODY.PEEK[HEADER.FIELDS (X-Mailspec-Test)])")
    assert str(wanted).encode() in header.get("BODY[HEADER.FIELDS (X-MAILSPEC-TEST)]", b""), \
        "message 1 is not the one appended to the newly selected mailbox"


@spec("imap/3501/6.3.1/reselect-does-not-expunge")
def test_reselect_does_not_expunge(imap, mailboxes, append):
    """Selecting another mailbox leaves the first without expunging it: a message flagged
    \\Deleted there is still present when it is selected again."""
    client = imap()
    first, second = mailboxes.create("first"), mailboxes.create("second")
    for _ in range(2):
        append(client, first)
    open_box(client, first)
    store(client, "STORE 1 +FLAGS (\\Deleted)")
    open_box(client, second)
    assert open_box(client, first).exists == 2


@spec("imap/3501/9/select-inbox-any-case", "RFC3501-9-14")
def test_select_inbox_any_case(imap):
    """SELECT "iNbOx" selects INBOX: every spelling of INBOX names it (read-only here, via EXAMINE)."""
    client = imap()
    _, done = client.select("iNbOx", readonly=True)
    assert done.ok, f"EXAMINE iNbOx answered {done.raw!r}"


# -- EXAMINE (§6.3.2) ------------------------------------------------------------------------------------


@spec("imap/3501/6.3.2/examine-is-read-only", "RFC3501-6.3.2-03", "RFC3501-6.3.2-02")
def test_examine_is_read_only(imap, mailbox, append):
    """EXAMINE completes with OK [READ-ONLY], and a STORE in the examined mailbox changes nothing."""
    client = imap()
    append(client, mailbox)
    opened = open_box(client, mailbox, readonly=True)
    assert opened.read_only, f"EXAMINE completed with {opened.done.raw!r}"
    client.run("STORE 1 +FLAGS (\\Flagged)")  # NO, or OK without effect: both leave the flags alone
    assert "\\flagged" not in flags_of(client, 1), "STORE changed a flag in a mailbox opened with EXAMINE"


@spec("imap/3501/6.3.2/examine-reports-required-data", "RFC3501-6.3.2-01")
def test_examine_reports_required_data(imap, mailbox, append):
    """EXAMINE sends the same data as SELECT: FLAGS, EXISTS, RECENT and OK [UNSEEN], [PERMANENTFLAGS],
    [UIDNEXT], [UIDVALIDITY]."""
    client = imap()
    append(client, mailbox)
    opened = open_box(client, mailbox, readonly=True)
    missing = [name for name, value in (("FLAGS", opened.flags), ("EXISTS", opened.exists),
                                        ("RECENT", opened.recent), ("UNSEEN", opened.unseen),
                                        ("PERMANENTFLAGS", opened.permanentflags),
                                        ("UIDNEXT", opened.uidnext), ("UIDVALIDITY", opened.uidvalidity))
               if value is None]
    assert not missing, f"EXAMINE did not send {missing}"


@spec("imap/3501/6.3.2/examine-keeps-recent", "RFC3501-6.3.2-02")
def test_examine_keeps_recent(imap, mailbox, append):
    """EXAMINE takes \\Recent from no message: a later SELECT in another session still counts the
    new messages as recent."""
    first = imap(label="examiner")
    for _ in range(2):
        append(first, mailbox)
    examine_read_only(first, mailbox)
    second = imap(label="selector")
    assert open_box(second, mailbox).recent == 2


# -- UIDs, UIDVALIDITY and UIDNEXT (§2.3.1.1) ------------------------------------------------------------


@spec("imap/3501/2.3.1.1/uidvalidity-stable-across-selects", "RFC3501-2.3.1.1-02", "RFC3501-2.3.1.1-03",
      "RFC9051-2.3.1.1-02", "RFC9051-2.3.1.1-03")
def test_uidvalidity_stable_across_selects(imap, mailbox, append):
    """Selecting an unchanged mailbox again in the same session reports the same UIDVALIDITY (a new
    value would say the UIDs changed, which they may not within a session)."""
    client = imap()
    append(client, mailbox)
    seen = [open_box(client, mailbox).uidvalidity for _ in range(3)]
    assert seen[0] is not None
    assert seen == [seen[0]] * 3, f"UIDVALIDITY of three SELECTs: {seen}"


@spec("imap/3501/2.3.1.1/uidnext-above-newest-uid", "RFC3501-2.3.1.1-08", "RFC3501-2.3.1.1-04",
      "RFC9051-2.3.1.1-08", "RFC9051-2.3.1.1-04")
def test_uidnext_above_newest_uid(imap, mailbox, append):
    """The UIDNEXT SELECT reports is higher than the UID of every message in the mailbox."""
    client = imap()
    for _ in range(2):
        append(client, mailbox)
    uidnext = open_box(client, mailbox).uidnext
    newest = max(uids(client))
    assert uidnext is not None and uidnext > newest, f"UIDNEXT {uidnext}, newest UID {newest}"


@spec("imap/3501/2.3.1.1/uidnext-unchanged-without-new-messages", "RFC3501-2.3.1.1-05", "RFC9051-2.3.1.1-05")
def test_uidnext_unchanged_without_new_messages(imap, mailbox, append):
    """UIDNEXT stays the same when no message was added, also after a flag change."""
    client = imap()
    append(client, mailbox)
    before = open_box(client, mailbox).uidnext
    store(client, "STORE 1 +FLAGS (\\Flagged)")
    after = open_box(client, mailbox).uidnext
    assert before is not None and after == before, f"UIDNEXT went from {before} to {after}"


@spec("imap/3501/2.3.1.1/uidnext-grows-with-new-messages", "RFC3501-2.3.1.1-05", "RFC9051-2.3.1.1-05")
def test_uidnext_grows_with_new_messages(imap, mailbox, append):
    """UIDNEXT is higher after a message was appended."""
    client = imap()
    append(client, mailbox)
    before = open_box(client, mailbox).uidnext
    append(client, mailbox)
    after = open_box(client, mailbox).uidnext
    assert before is not None and after is not None and after > before, f"UIDNEXT went from {before} to {after}"


@spec("imap/3501/2.3.1.1/uidnext-grows-even-if-expunged", "RFC3501-2.3.1.1-05", "RFC9051-2.3.1.1-05")
def test_uidnext_grows_even_if_expunged(imap, mailbox, append):
    """A message that was added and expunged again still moves UIDNEXT on, though the mailbox is
    as empty as before."""
    client = imap()
    before = open_box(client, mailbox).uidnext
    append(client, mailbox)
    open_box(client, mailbox)
    store(client, "STORE 1 +FLAGS (\\Deleted)")
    client.ok("EXPUNGE")
    after = open_box(client, mailbox)
    assert after.exists == 0
    assert before is not None and after.uidnext is not None and after.uidnext > before, \
        f"UIDNEXT went from {before} to {after.uidnext}"


@spec("imap/3501/2.3.1.1/uids-strictly-ascending", "RFC3501-2.3.1.1-08", "RFC3501-2.3.1.2-01",
      "RFC9051-2.3.1.1-08", "RFC9051-2.3.1.2-01")
def test_uids_strictly_ascending(imap, mailbox, append):
    """The UIDs rise strictly with the message sequence numbers."""
    client = imap()
    for _ in range(4):
        append(client, mailbox)
    open_box(client, mailbox)
    got = uids(client)
    assert len(got) == 4
    assert got == sorted(set(got)), f"UIDs in sequence order: {got}"


@spec("imap/3501/2.3.1.1/uid-not-reused-after-expunge", "RFC3501-2.3.1.1-01", "RFC9051-2.3.1.1-01",
      "RFC9051-2.3.1.1-11")
def test_uid_not_reused_after_expunge(imap, mailbox, append):
    """A message appended after the newest one was expunged gets a UID above the expunged one's."""
    client = imap()
    append(client, mailbox)
    open_box(client, mailbox)
    gone = uids(client)[-1]
    store(client, "STORE 1 +FLAGS (\\Deleted)")
    client.ok("EXPUNGE")
    append(client, mailbox)
    open_box(client, mailbox)
    new = uids(client)
    assert len(new) == 1 and new[0] > gone, f"expunged UID {gone}, new message's UID {new}"


@spec("imap/3501/2.3.1.1/uid-change-shows-in-uidvalidity", "RFC3501-2.3.1.1-03", "RFC3501-2.3.1.1-06",
      "RFC9051-2.3.1.1-03", "RFC9051-2.3.1.1-06")
def test_uid_change_shows_in_uidvalidity(imap, mailbox, append):
    """A second session sees the same UIDs as the first, unless it is told a higher UIDVALIDITY."""
    first = imap(label="first")
    for _ in range(3):
        append(first, mailbox)
    before = open_box(first, mailbox).uidvalidity
    known = uids(first)
    second = imap(label="second")
    after = open_box(second, mailbox).uidvalidity
    assert before is not None and after is not None
    if after == before:
        assert uids(second) == known, "the UIDs changed between sessions under the same UIDVALIDITY"
    else:
        assert after > before, f"UIDVALIDITY went down from {before} to {after}"


@spec("imap/3501/2.3.1.1/uids-persist-across-sessions", "RFC3501-2.3.1.1-07", "RFC9051-2.3.1.1-07")
def test_uids_persist_across_sessions(imap, mailbox, append):
    """A later session sees the same UIDVALIDITY and the same UIDs for the same messages."""
    first = imap(label="first")
    for _ in range(2):
        append(first, mailbox)
    before = (open_box(first, mailbox).uidvalidity, uids(first))
    second = imap(label="second")
    assert (open_box(second, mailbox).uidvalidity, uids(second)) == before


@spec("imap/3501/2.3.1.1/status-and-select-agree-on-uids", "RFC3501-2.3.1.1-04")
def test_status_and_select_agree_on_uids(imap, account, mailboxes, append):
    """STATUS (UIDNEXT UIDVALIDITY) of a mailbox gives the same values as its SELECT in another
    session, when nothing was added in between."""
    box = mailboxes.create()
    for _ in range(2):
        append(account, box)
    status = status_of(imap(label="status"), box, "UIDNEXT UIDVALIDITY")
    opened = open_box(imap(label="select"), box)
    assert (status.get("UIDVALIDITY"), status.get("UIDNEXT")) == (opened.uidvalidity, opened.uidnext)


# -- PERMANENTFLAGS (§7.1) ----------------------------------------------------------------------------------


@spec("imap/3501/7.1/permanentflags-star-when-keywords-allowed")
def test_permanentflags_star_when_keywords_allowed(imap, mailbox, append):
    """When the server lets the client store a keyword the mailbox never had, the PERMANENTFLAGS
    sent at SELECT included \\* (the sign that new keywords may be created)."""
    client = imap()
    append(client, mailbox)
    permanent = open_box(client, mailbox).permanentflags
    assert permanent is not None, "SELECT sent no OK [PERMANENTFLAGS (...)]"
    _, done = client.run("STORE 1 +FLAGS (MailspecNewKeyword)")
    kept = done.ok and "mailspecnewkeyword" in flags_of(client, 1)
    if not kept:
        pytest.skip("the server does not let clients create keywords here; \\* need not be offered")
    assert "\\*" in permanent, f"a new keyword was stored, but PERMANENTFLAGS was {permanent}"


@spec("imap/3501/7.2.6/flags-lists-stored-keyword")
def test_flags_lists_stored_keyword(imap, mailbox, append):
    """A keyword stored on a message is listed in FLAGS at the next SELECT."""
    client = imap()
    append(client, mailbox)
    open_box(client, mailbox)
    _, done = client.run("STORE 1 +FLAGS ($MailspecKept)")
    if not done.ok:
        pytest.skip(f"the server refused to store a new keyword: {done.raw!r}")
    flags = open_box(client, mailbox).flags
    assert flags is not None and "$mailspeckept" in {f.lower() for f in flags}, f"FLAGS {flags}"


@spec("imap/3501/6.3.1/select-exists-matches-fetch", "RFC3501-6.3.1-02")
def test_select_exists_matches_fetch(imap, mailbox, append):
    """The messages FETCH 1:* returns are exactly the EXISTS that SELECT reported."""
    client = imap()
    for _ in range(3):
        append(client, mailbox)
    exists = open_box(client, mailbox).exists
    assert sorted(fetch(client, "1:*", "(UID)")) == list(range(1, (exists or 0) + 1))
