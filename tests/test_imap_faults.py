"""Every IMAP fault changes what the server does: one observation per fault, checked with the fault
off (the server is right) and on (the observation fails). Runs the sans-I/O session; fast."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mailspec.faults import FAULTS, IMAP_FAULTS
from tests.test_imap_server import Client, Harness
from tests.tls_probe import verifies_for_wrong_name

Check = Callable[[Harness], bool]  # True when the server behaves correctly


def _uidvalidity(out: str) -> str:
    return out.split("[UIDVALIDITY ")[1].split("]")[0]


def _stable_uidvalidity(h: Harness) -> bool:
    c = h.client()
    return _uidvalidity(c.cmd("a SELECT INBOX")) == _uidvalidity(c.cmd("b SELECT INBOX"))


def _uidnext_above(h: Harness) -> bool:
    return "UIDNEXT 3)" in h.client().cmd("a STATUS INBOX (UIDNEXT)")


def _recent_once(h: Harness) -> bool:
    h.selected()
    return "* 0 RECENT" in h.client().cmd("a SELECT INBOX")


def _examine_read_only(h: Harness) -> bool:
    c = h.client()
    return "[READ-ONLY]" in c.cmd("a EXAMINE INBOX") and " NO " in c.cmd("b STORE 1 +FLAGS (\\Seen)")


def _expunge_not_during_fetch(h: Harness) -> bool:
    a, b = h.selected(), h.selected()
    a.cmd("a STORE 1 +FLAGS (\\Deleted)")
    a.cmd("b EXPUNGE")
    return " EXPUNGE\r\n" not in b.cmd("c FETCH 2 FLAGS")


def _exists_shared(h: Harness) -> bool:
    c = h.selected()
    h.store.deliver("alice", b"Subject: x\r\n\r\nx\r\n")
    return "* 3 EXISTS" in c.cmd("a NOOP")


def _flags_shared(h: Harness) -> bool:
    a, b = h.selected(), h.selected()
    a.cmd("a STORE 1 +FLAGS (\\Flagged)")
    return "* 1 FETCH (FLAGS (\\Flagged))" in b.cmd("b NOOP")


def _idle_pushes(h: Harness) -> bool:
    c = h.selected()
    c.cmd("a IDLE")
    h.store.deliver("alice", b"Subject: x\r\n\r\nx\r\n")
    return "EXISTS" in c.session.idle_updates().decode()


def _copy_trycreate(h: Harness) -> bool:
    return "a NO [TRYCREATE]" in h.selected().cmd("a COPY 1 Missing")


def _append_trycreate(h: Harness) -> bool:
    return "a NO [TRYCREATE]" in h.client().cmd("a APPEND Missing {1+}\r\nx")


def _appenduid(h: Harness) -> bool:
    out = h.client().cmd("a APPEND INBOX {1+}\r\nx")
    return out.split("APPENDUID ")[1].split("]")[0].split()[1] == "3"


def _move_copyuid(h: Harness) -> bool:
    return "* OK [COPYUID " in h.selected().cmd("a MOVE 1 Trash")


def _search_not(h: Harness) -> bool:
    c = h.selected()
    c.cmd("a STORE 1 +FLAGS (\\Seen)")
    return "* SEARCH 2\r\n" in c.cmd("b SEARCH NOT SEEN")


def _uid_search_uids(h: Harness) -> bool:
    c = h.selected()
    c.cmd("a STORE 1 +FLAGS (\\Deleted)")
    c.cmd("b EXPUNGE")
    return "* SEARCH 2\r\n" in c.cmd("c UID SEARCH ALL")


def _esearch_tag(h: Harness) -> bool:
    return '* ESEARCH (TAG "t1")' in h.selected().cmd("t1 SEARCH RETURN (COUNT) ALL")


def _peek_keeps_unseen(h: Harness) -> bool:
    h.selected().cmd("a FETCH 1 BODY.PEEK[]")
    return "\\Seen" not in h.store.flags("alice", 1)


def _body_sets_seen(h: Harness) -> bool:
    h.selected().cmd("a FETCH 1 BODY[]")
    return "\\Seen" in h.store.flags("alice", 1)


def _silent(h: Harness) -> bool:
    return "FETCH" not in h.selected().cmd("a STORE 1 +FLAGS.SILENT (\\Seen)")


def _size(h: Harness) -> bool:
    out = h.selected().cmd("a FETCH 1 (RFC822.SIZE)")
    return f"RFC822.SIZE {len(h.store.fetch_raw('alice', 1))})" in out


def _bodystructure_ext(h: Harness) -> bool:
    c = h.selected()
    body = c.cmd("a FETCH 1 BODY").split("BODY ")[1].split("\r\n")[0]
    return c.cmd("b FETCH 1 BODYSTRUCTURE").split("BODYSTRUCTURE ")[1].split("\r\n")[0] != body


def _permanentflags_star(h: Harness) -> bool:
    return "\\*)] " in h.client().cmd("a SELECT INBOX")


def _create_existing(h: Harness) -> bool:
    return "a NO [ALREADYEXISTS]" in h.client().cmd("a CREATE Sent")


def _delete_inbox(h: Harness) -> bool:
    return "a NO" in h.client().cmd("a DELETE INBOX")


def _rename_inbox(h: Harness) -> bool:
    h.client().cmd("a RENAME INBOX Old")
    return len(h.store.list_messages("alice")) == 0 and len(h.store.list_messages("alice", "Old")) == 2


def _status_messages(h: Harness) -> bool:
    return "(MESSAGES 2)" in h.client().cmd("a STATUS INBOX (MESSAGES)")


def _close_silent(h: Harness) -> bool:
    c = h.selected()
    c.cmd("a STORE 1 +FLAGS (\\Deleted)")
    out = c.cmd("b CLOSE")
    return "EXPUNGE" not in out and len(h.store.list_messages("alice")) == 1


def _expunge_only_deleted(h: Harness) -> bool:
    c = h.selected()
    c.cmd("a STORE 1 +FLAGS (\\Deleted)")
    c.cmd("b EXPUNGE")
    return len(h.store.list_messages("alice")) == 1


def _capability_rev1(h: Harness) -> bool:
    return " IMAP4rev1 " in h.client(user=None).cmd("a CAPABILITY")


def _login_before_tls(h: Harness) -> bool:
    c = h.client(user=None, tls=False)
    return "LOGINDISABLED" in c.cmd("a CAPABILITY") and "b NO" in c.cmd("b LOGIN alice alice-pw")


def _bad_is_bad(h: Harness) -> bool:
    return "a BAD" in h.client().cmd("a FETCH")


def _id_any_state(h: Harness) -> bool:
    return "* ID (" in h.client(user=None).cmd("a ID NIL")


def _literal_plus(h: Harness) -> bool:
    return "+ " not in h.client().send("a LOGIN {5+}\r\nalice alice-pw\r\n")


def _list_special_use(h: Harness) -> bool:
    return "\\Sent)" in h.client().cmd('a LIST "" Sent')


def _namespace_delimiter(h: Harness) -> bool:
    return '(("" "/"))' in h.client().cmd("a NAMESPACE")


def _modseq_rises(h: Harness) -> bool:
    c = h.selected(enable="CONDSTORE")
    before = int(c.cmd("c FETCH 1 (MODSEQ)").split("MODSEQ (")[1].split(")")[0])
    after = int(c.cmd("d STORE 1 +FLAGS (\\Flagged)").split("MODSEQ (")[1].split(")")[0])
    return after > before


def _unchangedsince(h: Harness) -> bool:
    c = h.selected()
    out = c.cmd("a STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)")
    return "[MODIFIED 1]" in out and "\\Flagged" not in h.store.flags("alice", 1)


def _vanished(h: Harness) -> bool:
    c = h.selected(enable="QRESYNC")
    c.cmd("c STORE 1 +FLAGS (\\Deleted)")
    return "* VANISHED 1" in c.cmd("d EXPUNGE")


def _quota_kib(h: Harness) -> bool:
    return "(STORAGE 1 100" in h.client().cmd("a GETQUOTAROOT INBOX")


def _overquota_code(h: Harness) -> bool:
    c = h.client()
    c.cmd("a APPEND INBOX {1+}\r\nx")
    return "b NO [OVERQUOTA]" in c.cmd("b APPEND INBOX {1+}\r\ny")


CHECKS: dict[str, Check] = {
    "imap-capability-no-imap4rev1": _capability_rev1,
    "imap-login-before-tls": _login_before_tls,
    "imap-bad-command-no": _bad_is_bad,
    "imap-id-not-in-nonauth": _id_any_state,
    "imap-literal-plus-ignored": _literal_plus,
    "imap-uidvalidity-changes-on-reselect": _stable_uidvalidity,
    "imap-uidnext-not-advanced": _uidnext_above,
    "imap-recent-in-two-sessions": _recent_once,
    "imap-permanentflags-no-star": _permanentflags_star,
    "imap-examine-writable": _examine_read_only,
    "imap-create-existing-ok": _create_existing,
    "imap-delete-inbox-ok": _delete_inbox,
    "imap-rename-inbox-keeps-messages": _rename_inbox,
    "imap-status-messages-off": _status_messages,
    "imap-append-no-trycreate": _append_trycreate,
    "imap-close-sends-expunge": _close_silent,
    "imap-expunge-ignores-deleted": _expunge_only_deleted,
    "imap-search-ignores-not": _search_not,
    "imap-fetch-peek-sets-seen": _peek_keeps_unseen,
    "imap-fetch-body-no-seen": _body_sets_seen,
    "imap-store-silent-echoes": _silent,
    "imap-copy-no-trycreate": _copy_trycreate,
    "imap-search-uid-msn": _uid_search_uids,
    "imap-expunge-during-fetch": _expunge_not_during_fetch,
    "imap-exists-not-shared": _exists_shared,
    "imap-flags-not-shared": _flags_shared,
    "imap-rfc822-size-off-by-one": _size,
    "imap-bodystructure-no-extension": _bodystructure_ext,
    "imap-idle-no-push": _idle_pushes,
    "imap-appenduid-wrong": _appenduid,
    "imap-move-no-copyuid": _move_copyuid,
    "imap-esearch-no-tag": _esearch_tag,
    "imap-list-no-special-use": _list_special_use,
    "imap-namespace-wrong-delimiter": _namespace_delimiter,
    "imap-modseq-backwards": _modseq_rises,
    "imap-unchangedsince-ignored": _unchangedsince,
    "imap-vanished-missing": _vanished,
    "imap-quota-octets": _quota_kib,
    "imap-overquota-no-code": _overquota_code,
}


# -- section faults (mailspec/section_faults) ----------------------------------------------------------


def _implicit_tls_greeting_ok(h: Harness) -> bool:
    return h.client(user=None, tls=True).greeting.startswith("* OK ")  # a session born on TLS


def _wrong_name_refused(h: Harness) -> bool:
    """Server-level: the implicit-TLS certificate does not verify for a name the server lacks."""
    return not verifies_for_wrong_name(h.faults, "imaps")


def _rev2_keeps_rev1(h: Harness) -> bool:
    c = h.client()
    c.cmd("a ENABLE IMAP4rev2")
    return " IMAP4rev1 " in c.cmd("b CAPABILITY")


def _uid_move_by_uid(h: Harness) -> bool:
    c = h.selected()
    c.cmd("a UID MOVE 1 Trash")
    return "b OK" in c.cmd("b UID MOVE 2 Trash")  # UID 2 is message 1 now


def _nomodseq_honoured(h: Harness) -> bool:
    c = h.client()
    c.cmd("a CREATE Empty")
    return "[NOMODSEQ]" not in c.cmd("b SELECT Empty (CONDSTORE)") or "c BAD" in c.cmd("c SEARCH MODSEQ 1")


def _qresync_lists_condstore(h: Harness) -> bool:
    return " CONDSTORE " in h.client().cmd("a CAPABILITY")


def _sort_modseq_suffix(h: Harness) -> bool:
    return "* SORT 1 2 (MODSEQ " in h.selected().cmd("a SORT (ARRIVAL) UTF-8 MODSEQ 1")


def _search_saved(h: Harness) -> bool:
    c = h.selected(enable="IMAP4rev2")
    c.cmd("c SEARCH RETURN (SAVE) 2")
    return "* 2 FETCH" in c.cmd("d FETCH $ (UID)")


# The section faults added for the sections that had none (issue 4, item 5).
SECTION_CHECKS: dict[str, Check] = {
    "imap-implicit-tls-greeting-bye": _implicit_tls_greeting_ok,
    "imap-tls-cert-any-name": _wrong_name_refused,
    "imap-rev2-drops-imap4rev1": _rev2_keeps_rev1,
    "imap-uid-move-by-sequence": _uid_move_by_uid,
    "imap-nomodseq-empty-mailbox": _nomodseq_honoured,
    "imap-qresync-without-condstore": _qresync_lists_condstore,
    "imap-sort-modseq-missing": _sort_modseq_suffix,
    "imap-searchres-not-saved": _search_saved,
}

# Quota faults need limits; the login fault needs the default (no plaintext login).
SETTINGS: dict[str, dict[str, object]] = {
    "imap-quota-octets": {"quota_storage_kib": 100},
    "imap-overquota-no-code": {"quota_messages": 3},
    "imap-login-before-tls": {"allow_plaintext_auth": False},
}


def test_every_imap_fault_has_a_check() -> None:
    assert {f.name for f in IMAP_FAULTS} == set(CHECKS)
    assert len(IMAP_FAULTS) >= 30


def test_section_checks_name_catalogued_imap_faults() -> None:
    assert {FAULTS[n].protocol for n in SECTION_CHECKS} == {"imap"}


ALL_CHECKS = {**CHECKS, **SECTION_CHECKS}


@pytest.mark.parametrize("name", sorted(ALL_CHECKS))
def test_fault_changes_behaviour(name: str, tmp_path: Path) -> None:
    check = ALL_CHECKS[name]
    settings = SETTINGS.get(name, {})
    good = Harness(tmp_path / "good", **settings)
    assert check(good), f"{name}: the check fails without the fault"
    bad = Harness(tmp_path / "bad", frozenset({name}), **settings)
    assert not check(bad), f"{name}: the fault has no visible effect"
    good.store.close()
    bad.store.close()


def test_client_helper_sends_crlf(tmp_path: Path) -> None:
    c: Client = Harness(tmp_path).client(user=None)
    assert c.cmd("a NOOP") == "a OK NOOP completed\r\n"
