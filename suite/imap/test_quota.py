"""QUOTA (RFC 9208): GETQUOTAROOT and GETQUOTA, the resource capabilities, STORAGE counted in units
of 1024 octets, the DELETED and DELETED-STORAGE status items, and [OVERQUOTA] when an APPEND or a
COPY would go over a limit.

The limits are the target's own: tests that need to go over one read the quota root of their
mailbox and skip when no limit is set or when reaching it would take more than a few MiB. Only
`append-over-quota-code` asserts the code on a refused APPEND and only `storage-usage-in-kib` asserts
how usage grows.
"""

from __future__ import annotations

import pytest

from mailspec.fixtures_imap import Appender, ImapFactory, Mailboxes
from mailspec.plugin import Spec, build_test_message
from mailspec.protocol.imap_response import QuotaData, QuotaResource, QuotaRootData, Response, Untagged
from mailspec.wire.imap import ImapClient, quote, untagged
from suite.imap.test_mailboxes import arg, command, opened, status_items

spec = pytest.mark.spec

MAX_FILL_KIB = 16 * 1024  # the most a test appends to reach a limit


def quota_root(client: ImapClient, mailbox: str) -> tuple[QuotaRootData, dict[bytes, QuotaData]]:
    """GETQUOTAROOT mailbox -> (the QUOTAROOT data, {root: QUOTA data})."""
    resps, done = command(client, "GETQUOTAROOT", mailbox)
    assert done.ok, f"GETQUOTAROOT was refused: {done.raw!r}"
    roots = [r.data for r in untagged(resps, "QUOTAROOT") if isinstance(r.data, QuotaRootData)]
    assert len(roots) == 1, f"expected one QUOTAROOT response, got {len(roots)}"
    return roots[0], quotas(resps)


def quotas(responses: list[Response]) -> dict[bytes, QuotaData]:
    return {r.data.root: r.data for r in untagged(responses, "QUOTA") if isinstance(r.data, QuotaData)}


def resource(client: ImapClient, mailbox: str, name: str) -> QuotaResource:
    """The `name` resource (STORAGE, MESSAGE) of the mailbox's quota roots; skips when none limits it."""
    _, found = quota_root(client, mailbox)
    for data in found.values():
        for res in data.resources:
            if res.name == name:
                return res
    pytest.skip(f"no quota root of the test's mailbox limits {name}")


def filler(spec: Spec, octets: int) -> bytes:
    """A marked test message of about `octets` octets (at least that many)."""
    line = "x" * 76
    raw, _ = build_test_message(spec.test_id, "mailspec", body_lines=[line] * (octets // 78 + 1))
    return raw


def storage_headroom(client: ImapClient, mailbox: str) -> int:
    """KiB left under the STORAGE limit; skips when that is more than MAX_FILL_KIB."""
    storage = resource(client, mailbox, "STORAGE")
    left = max(storage.limit - storage.usage, 0)
    if left > MAX_FILL_KIB:
        pytest.skip(f"{left} KiB left under the STORAGE limit; the suite fills at most {MAX_FILL_KIB} KiB")
    return left


@spec("imap/9208/4.1.2/getquotaroot-answers-quotaroot", "RFC9208-4.1.2-01", needs=("QUOTA",))
def test_getquotaroot_answers_quotaroot(imap: ImapFactory, mailbox: str) -> None:
    """GETQUOTAROOT answers one QUOTAROOT response for the mailbox and a QUOTA response for each root it names."""
    data, found = quota_root(imap(), mailbox)
    assert data.mailbox == mailbox, f"QUOTAROOT names {data.mailbox!r}, not {mailbox!r}"
    assert set(found) == set(data.roots), f"roots {data.roots} but QUOTA responses for {sorted(found)}"


@spec("imap/9208/4.1.1/getquota-answers-quota", "RFC9208-4.1.1-01", "RFC9208-3.1.2-02", "RFC9208-3.1.2-04",
      needs=("QUOTA",))
def test_getquota_answers_quota(imap: ImapFactory, mailbox: str) -> None:
    """GETQUOTA of a quota root answers a QUOTA response for that root (its usage and limit numbers
    are checked by the response grammar)."""
    client = imap()
    data, _ = quota_root(client, mailbox)
    if not data.roots:
        pytest.skip("the test's mailbox has no quota root")
    resps, done = client.run(b"GETQUOTA " + quote(data.roots[0]))
    assert done.ok, f"GETQUOTA was refused: {done.raw!r}"
    assert list(quotas(resps)) == [data.roots[0]], f"QUOTA responses: {untagged(resps, 'QUOTA')}"


@spec("imap/9208/1/quota-advertises-a-resource", "RFC9208-1-02", needs=("QUOTA",))
def test_quota_advertises_a_resource(imap: ImapFactory) -> None:
    """A server with QUOTA advertises at least one QUOTA=RES-<resource> capability."""
    client = imap()
    assert any(c.upper().startswith("QUOTA=RES-") for c in client.capabilities), client.capabilities


@spec("imap/9208/5/quota-resources-advertised", "RFC9208-3.1.1-02", "RFC9208-3.1.2-06", "RFC9208-5-01",
      "RFC9208-5-02", "RFC9208-5.1-05", "RFC9208-5.2-03", "RFC9208-5.3-02", "RFC9208-5.4-01", needs=("QUOTA",))
def test_quota_resources_advertised(imap: ImapFactory, mailbox: str) -> None:
    """Every resource a QUOTA response reports is advertised as QUOTA=RES-<resource>."""
    client = imap()
    _, found = quota_root(client, mailbox)
    advertised = {c.upper()[len("QUOTA=RES-"):] for c in client.capabilities if c.upper().startswith("QUOTA=RES-")}
    reported = {res.name for data in found.values() for res in data.resources}
    assert reported <= advertised, f"reported {sorted(reported)}, advertised {sorted(advertised)}"


@spec("imap/9208/5.1/storage-usage-in-kib", needs=("QUOTA=RES-STORAGE",))
def test_storage_usage_in_kib(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """STORAGE usage counts units of 1024 octets (RFC 9208 §5.1): a 40000-octet message adds about
    39, not tens of thousands."""
    client = imap()
    before = resource(client, mailbox, "STORAGE")
    if before.limit - before.usage < 100:
        pytest.skip(f"only {before.limit - before.usage} KiB left under the STORAGE limit")
    raw = filler(spec, 40000)
    _, done = client.append(mailbox, raw)
    assert done.ok, f"APPEND was refused: {done.raw!r}"
    after = resource(client, mailbox, "STORAGE")
    grown = after.usage - before.usage
    assert grown <= len(raw) // 1024 + 16, (
        f"usage grew by {grown} for {len(raw)} octets: not counted in units of 1024 octets")


@spec("imap/9208/4.3.1/append-over-quota-code", "RFC9208-4.3.1-01", "RFC3501-6.3.11-08", needs=("QUOTA",))
def test_append_over_quota_code(imap: ImapFactory, mailbox: str, spec: Spec) -> None:
    """An APPEND that would go over the STORAGE limit fails with NO [OVERQUOTA] and stores nothing."""
    client = imap()
    left = storage_headroom(client, mailbox)
    _, done = client.append(mailbox, filler(spec, (left + 2) * 1024))
    assert done.status == "NO" and done.code == "OVERQUOTA", f"APPEND over the limit answered {done.raw!r}"
    assert opened(client, mailbox).get("EXISTS") == 0, "the refused APPEND left a message behind"


@spec("imap/9208/4.3.1/copy-over-quota-code", "RFC9208-4.3.1-01", "RFC3501-6.4.7-05", needs=("QUOTA",))
def test_copy_over_quota_code(imap: ImapFactory, mailboxes: Mailboxes, spec: Spec) -> None:
    """A COPY that would go over the STORAGE limit fails with NO [OVERQUOTA] and the target stays empty."""
    client = imap()
    source, target = mailboxes.create(), mailboxes.create()
    left = storage_headroom(client, source)
    if left < 16:
        pytest.skip(f"only {left} KiB left: no room for a message to copy")
    _, done = client.append(source, filler(spec, (left * 6 // 10 + 1) * 1024))
    assert done.ok, f"APPEND within the limit was refused: {done.raw!r}"
    opened(client, source, readonly=False)
    _, done = command(client, "COPY 1", target)
    assert done.status == "NO" and done.code == "OVERQUOTA", f"COPY over the limit answered {done.raw!r}"
    client.run("CLOSE")
    assert opened(client, target).get("EXISTS") == 0, "the refused COPY left a message behind"


@spec("imap/9208/5.1/deleted-storage-status-item", "RFC9208-5.1-04", "RFC9208-7-03", "RFC9208-7-05",
      needs=("QUOTA=RES-STORAGE",))
def test_deleted_storage_status_item(imap: ImapFactory, mailbox: str, append: Appender) -> None:
    """With QUOTA=RES-STORAGE, STATUS answers DELETED-STORAGE: nothing to reclaim before any
    message is \\Deleted."""
    client = imap()
    append(client, mailbox)
    resps, done = command(client, "STATUS", mailbox, tail="(DELETED-STORAGE)")
    assert done.ok, f"STATUS (DELETED-STORAGE) was refused: {done.raw!r}"
    assert status_items(resps) == {"DELETED-STORAGE": 0}


@spec("imap/9208/5.2/deleted-status-item", "RFC9208-5.2-02", "RFC9208-7-02", "RFC9208-7-04",
      needs=("QUOTA=RES-MESSAGE",))
def test_deleted_status_item(imap: ImapFactory, mailbox: str, append: Appender) -> None:
    """With QUOTA=RES-MESSAGE, STATUS DELETED counts the messages flagged \\Deleted."""
    client = imap()
    append(client, mailbox, flags=("\\Deleted",))
    append(client, mailbox)
    append(client, mailbox, flags=("\\Deleted", "\\Seen"))
    resps, done = command(client, "STATUS", mailbox, tail="(DELETED)")
    assert done.ok, f"STATUS (DELETED) was refused: {done.raw!r}"
    assert status_items(resps) == {"DELETED": 2}


@spec("imap/9208/4.3.1/no-untagged-overquota-without-cause", "RFC9208-4.3.1-03", needs=("QUOTA",))
def test_no_untagged_overquota_without_cause(imap: ImapFactory, mailbox: str) -> None:
    """With no mailbox selected and nothing being added, no untagged NO [OVERQUOTA] is sent."""
    client = imap()
    got: list[Response] = []
    for line in (b"NOOP", b'LIST "" ""', b"GETQUOTAROOT " + arg(client, mailbox)):
        resps, done = client.run(line)
        assert done.ok, f"{line!r} was refused: {done.raw!r}"
        got += resps
    stray = [r.raw for r in got if isinstance(r, Untagged) and r.code == "OVERQUOTA"]
    assert not stray, f"untagged OVERQUOTA outside any adding command: {stray}"


@spec("imap/9208/1/setquota-implies-quotaset", "RFC9208-1-03", needs=("QUOTA",))
def test_setquota_implies_quotaset(imap: ImapFactory, mailbox: str) -> None:
    """A server where SETQUOTA works advertises QUOTASET (the limit is set to the value it has)."""
    client = imap()
    data, found = quota_root(client, mailbox)
    if not data.roots or not found.get(data.roots[0]):
        pytest.skip("the test's mailbox has no quota root with limits")
    limits = " ".join(f"{r.name} {r.limit}" for r in found[data.roots[0]].resources)
    _, done = client.run(b"SETQUOTA " + quote(data.roots[0]) + f" ({limits})".encode())
    if not done.ok:
        pytest.skip(f"SETQUOTA does not work here ({done.raw!r})")
    assert client.has_capability("QUOTASET"), f"SETQUOTA works but QUOTASET is not advertised: {client.capabilities}"


@spec("imap/9208/7/quota-keywords-any-case", "RFC9208-7-01", needs=("QUOTA",))
def test_quota_keywords_any_case(imap: ImapFactory, mailbox: str) -> None:
    """The extension's keywords are taken in any letter case: "getquotaroot" works as GETQUOTAROOT."""
    client = imap()
    want, _ = quota_root(client, mailbox)
    resps, done = client.run(b"getquotaroot " + arg(client, mailbox))
    assert done.ok, f"lower-case getquotaroot was refused: {done.raw!r}"
    got = [r.data for r in untagged(resps, "QUOTAROOT") if isinstance(r.data, QuotaRootData)]
    assert got == [want], f"lower-case getquotaroot answered {got}, GETQUOTAROOT {want}"
