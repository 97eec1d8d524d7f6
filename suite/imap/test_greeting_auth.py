"""Connection set-up: greeting, CAPABILITY, NOOP, LOGOUT, STARTTLS and implicit TLS, LOGIN and
AUTHENTICATE (with SASL-IR), the not-authenticated state, ID (RFC 2971), ENABLE (RFC 5161) and
NAMESPACE (RFC 2342)."""

from __future__ import annotations

import socket
import ssl

import pytest

from mailspec.delivery import tls_context
from mailspec.fixtures_imap import WRONG_PASSWORD, sasl_plain
from mailspec.protocol.imap_lexer import Cursor
from mailspec.protocol.imap_response import NamespaceData, Response, Tagged, Untagged
from mailspec.wire.imap import ImapClient, ImapConnectionClosed, Literal, mailbox_arg, quote, untagged

spec = pytest.mark.spec

# The IANA "IMAP Capabilities" registry (checked 2024): exact names, then families registered as
# a prefix (AUTH= with a SASL mechanism, THREAD= with an algorithm, QUOTA=RES- with a resource...).
REGISTERED_CAPABILITIES = frozenset({
    "ACL", "ANNOTATE-EXPERIMENT-1", "APPENDLIMIT", "BINARY", "CATENATE", "CHILDREN", "COMPRESS=DEFLATE",
    "CONDSTORE", "CONTEXT=SEARCH", "CONTEXT=SORT", "CONVERT", "CREATE-SPECIAL-USE", "ENABLE", "ESEARCH",
    "ESORT", "FILTERS", "I18NLEVEL=1", "I18NLEVEL=2", "ID", "IDLE", "IMAP4", "IMAP4REV1", "IMAP4REV2",
    "INPROGRESS", "JMAPACCESS", "LANGUAGE", "LIST-EXTENDED", "LIST-METADATA", "LIST-MYRIGHTS",
    "LIST-STATUS", "LITERAL+", "LITERAL-", "LOGIN-REFERRALS", "LOGINDISABLED", "MAILBOX-REFERRALS",
    "MESSAGELIMIT", "METADATA", "METADATA-SERVER", "MOVE", "MULTIAPPEND", "MULTISEARCH", "NAMESPACE",
    "NOTIFY", "OBJECTID", "PARTIAL", "PREVIEW", "QRESYNC", "QUOTA", "QUOTASET", "REPLACE", "SASL-IR",
    "SAVEDATE", "SAVELIMIT", "SEARCH=FUZZY", "SEARCHRES", "SORT", "SORT=DISPLAY", "SPECIAL-USE",
    "STARTTLS", "STATUS=SIZE", "UIDONLY", "UIDPLUS", "UNAUTHENTICATE", "UNSELECT", "URL-PARTIAL",
    "URLAUTH", "URLAUTH=BINARY", "UTF8=ACCEPT", "UTF8=ALL", "UTF8=APPEND", "UTF8=ONLY", "UTF8=USER",
    "WITHIN",
})
REGISTERED_FAMILIES = ("AUTH=", "THREAD=", "QUOTA=RES-", "RIGHTS=", "IMAPSIEVE=", "APPENDLIMIT=",
                       "MESSAGELIMIT=", "SAVELIMIT=", "X")
# Extensions RFC 5161 (and RFC 9051 §6.3.1) let a client turn on with ENABLE.
ENABLEABLE = ("CONDSTORE", "QRESYNC", "IMAP4REV2", "UTF8=ACCEPT")


# -- helpers ------------------------------------------------------------------------------------------


def _caps(responses: list[Response]) -> list[tuple[str, ...]]:
    return [r.data for r in untagged(responses, "CAPABILITY")]  # type: ignore[misc]


def _upper(names: tuple[str, ...] | list[str]) -> set[str]:
    return {n.upper() for n in names}


def _capability_command(client: ImapClient) -> set[str]:
    """CAPABILITY -> its names (upper-cased), checking there is exactly one untagged response."""
    resps, done = client.run("CAPABILITY")
    assert done.ok, f"CAPABILITY failed: {done.raw!r}"
    found = _caps(resps)
    assert len(found) == 1, f"expected exactly one untagged CAPABILITY response, got {len(found)}"
    return _upper(found[0])


def _refused(client: ImapClient, *parts: str | bytes | Literal) -> str:
    """Send a command that must not succeed; return how it was refused: BAD, NO, or BYE (the
    server said BYE and closed the connection, which a server may do after repeated errors)."""
    try:
        _, done = client.run(*parts)
    except ImapConnectionClosed as exc:
        assert untagged(exc.responses, "BYE"), (
            f"{client.label}: the server closed the connection without an untagged BYE")
        return "BYE"
    first = parts[0]
    name = first.decode() if isinstance(first, bytes) else str(first)
    assert not done.ok, f"{name.split(' ')[0]} succeeded in a state where it is not valid: {done.raw!r}"
    return done.status


def _each_refused_before_login(imap, commands: list[tuple[str | bytes | Literal, ...]]) -> None:
    """Every command is refused in the not-authenticated state (a new connection after a BYE)."""
    client = None
    for parts in commands:
        if client is None or client.sock is None or client.reader.closed:
            client = imap(login=False, label=f"n{len(imap.opened) + 1}")
        if _refused(client, *parts) == "BYE":
            client.close()


def _starttls_endpoint(target) -> None:
    ep = target.endpoint("imap")
    if ep is None or ep.tls != "starttls":
        pytest.skip("target has no STARTTLS (cleartext) IMAP endpoint")


def _not_authenticated(client: ImapClient, what: str) -> None:
    """EXAMINE INBOX is only valid after login, so a refusal shows the session is not authenticated."""
    _, done = client.run("EXAMINE INBOX")
    assert not done.ok, f"{what}: the session is authenticated (EXAMINE INBOX succeeded)"


def _namespace(client: ImapClient) -> NamespaceData:
    resps, done = client.run("NAMESPACE")
    assert done.ok, f"NAMESPACE failed: {done.raw!r}"
    found = untagged(resps, "NAMESPACE")
    assert len(found) == 1, f"expected exactly one untagged NAMESPACE response, got {len(found)}"
    return found[0].data  # type: ignore[return-value]


def _enabled(responses: list[Response]) -> set[str]:
    return {c.upper() for r in untagged(responses, "ENABLED") for c in r.data}  # type: ignore[attr-defined]


# -- greeting ------------------------------------------------------------------------------------------


@spec("imap/3501/7.1.1/greeting-ok-or-preauth")
def test_greeting_ok_or_preauth(imap, target):
    """The first thing the server sends is an untagged OK greeting (or PREAUTH), not BYE: on the
    target's first IMAP listener and on its implicit-TLS one, if it has both."""
    modes = ("auto", "implicit") if target.endpoint("imap") and target.endpoint("imaps") else ("auto",)
    for tls in modes:
        client = imap(login=False, tls=tls, label=tls)
        assert isinstance(client.greeting, Untagged), f"{tls}: greeting is {client.greeting.raw!r}"
        assert client.greeting.kind in ("OK", "PREAUTH"), f"{tls}: greeting is {client.greeting.raw!r}"


@spec("imap/3501/7.2.1/greeting-capability-code-is-current")
def test_greeting_capability_code_is_current(imap, target):
    """When the greeting carries a CAPABILITY response code, it lists what CAPABILITY lists in the
    same state (before any STARTTLS)."""
    ep = target.endpoint("imap")
    client = imap(tls="none" if ep is not None and ep.tls == "starttls" else "auto", login=False)
    if client.greeting.code != "CAPABILITY":
        pytest.skip("the greeting has no CAPABILITY response code")
    assert _upper(client.greeting.code_args) == _capability_command(client)


@spec("imap/9051/7.1.4/no-preauth-on-cleartext", "RFC9051-7.1.4-02")
def test_no_preauth_on_cleartext(imap, target):
    """On a connection without TLS the greeting is not PREAUTH (a session authenticated by other
    means belongs on a protected connection)."""
    _starttls_endpoint(target)
    client = imap(tls="none", login=False)
    assert client.greeting.kind != "PREAUTH", f"PREAUTH on a cleartext connection: {client.greeting.raw!r}"


# -- CAPABILITY ----------------------------------------------------------------------------------------


@spec("imap/3501/6.1.1/capability-lists-imap4rev1", "RFC3501-6.1.1-01", "RFC3501-6.1.1-02",
      "RFC3501-7.2.1-01")
def test_capability_lists_imap4rev1(imap):
    """CAPABILITY answers one untagged CAPABILITY response that lists IMAP4rev1, before and after login."""
    before = imap(login=False, label="before-login")
    assert "IMAP4REV1" in _capability_command(before), "IMAP4rev1 missing before login"
    after = imap(label="after-login")
    assert "IMAP4REV1" in _capability_command(after), "IMAP4rev1 missing after login"


@spec("imap/3501/6.1.1/capability-single-response-in-every-state", "RFC3501-6.1.1-02")
def test_capability_single_response_in_every_state(imap, mailbox):
    """CAPABILITY works in the not-authenticated, authenticated and selected states, each time with
    exactly one untagged CAPABILITY response before the tagged OK."""
    _capability_command(imap(login=False, label="not-authenticated"))
    client = imap(label="authenticated")
    _capability_command(client)
    client.ok(b"SELECT ", mailbox_arg(mailbox))
    _capability_command(client)


@spec("imap/9051/6.1.1/capability-lists-imap4rev2", "RFC9051-6.1.1-01", "RFC9051-6.1.1-02",
      "RFC9051-7.2.2-01", needs=("IMAP4rev2",))
def test_capability_lists_imap4rev2(imap):
    """A server that offers IMAP4rev2 lists it in every CAPABILITY response, before and after login."""
    assert "IMAP4REV2" in _capability_command(imap(login=False, label="before-login"))
    assert "IMAP4REV2" in _capability_command(imap(label="after-login"))


@spec("imap/3501/7.2.1/capability-names-registered", "RFC3501-7.2.1-05", "RFC3501-7.2.1-06")
def test_capability_names_registered(imap_capabilities):
    """Every advertised capability is registered with IANA or starts with X (private names)."""
    unregistered = sorted(
        c for c in imap_capabilities.all
        if c not in REGISTERED_CAPABILITIES and not c.startswith(REGISTERED_FAMILIES))
    assert not unregistered, f"capabilities neither registered nor X-prefixed: {unregistered}"


@spec("imap/3501/6.1.1/auth-plain-advertised", "RFC3501-6.1.1-03", "RFC3501-7.2.1-02", "RFC9051-6.1.1-04",
      "RFC9051-7.2.2-02")
def test_auth_plain_advertised(imap):
    """Once TLS is active (and before login) the capability list offers AUTH=PLAIN."""
    client = imap(login=False)
    assert client.tls_active
    assert "AUTH=PLAIN" in _capability_command(client)


@spec("imap/3501/6.1.1/starttls-advertised-on-cleartext", "RFC3501-6.1.1-03", "RFC9051-6.1.1-03")
def test_starttls_advertised_on_cleartext(imap, target):
    """On the cleartext endpoint the capability list offers STARTTLS."""
    _starttls_endpoint(target)
    assert "STARTTLS" in _capability_command(imap(tls="none", login=False))


@spec("imap/9051/6.2.1/starttls-not-advertised-after-tls", "RFC9051-6.2.1-05")
def test_starttls_not_advertised_after_tls(imap, target):
    """After a successful STARTTLS the capability list no longer offers STARTTLS."""
    _starttls_endpoint(target)
    client = imap(tls="starttls", login=False)
    assert "STARTTLS" not in _capability_command(client)


# -- NOOP and LOGOUT -----------------------------------------------------------------------------------


@spec("imap/3501/6.1.2/noop-ok-before-login")
def test_noop_ok_before_login(imap):
    """NOOP is valid in the not-authenticated state and completes with OK."""
    _, done = imap(login=False).run("NOOP")
    assert done.ok, done.raw


@spec("imap/3501/6.1.2/noop-ok-when-selected")
def test_noop_ok_when_selected(imap, mailbox):
    """NOOP is valid with a mailbox selected and completes with OK."""
    client = imap()
    client.ok(b"SELECT ", mailbox_arg(mailbox))
    _, done = client.run("NOOP")
    assert done.ok, done.raw


def _check_logout(client: ImapClient) -> None:
    tag = client.send_command("LOGOUT")
    got: list[Response] = []
    while True:
        resp = client.read_response()
        got.append(resp)
        if isinstance(resp, Tagged) and resp.tag == tag:
            break
    byes = [i for i, r in enumerate(got) if isinstance(r, Untagged) and r.kind == "BYE"]
    assert byes, "LOGOUT completed without an untagged BYE"
    assert got[-1].ok, f"LOGOUT did not complete with OK: {got[-1].raw!r}"  # type: ignore[union-attr]
    assert byes[0] < len(got) - 1
    assert client.read_until_closed() == [], "the server sent more after the LOGOUT completion"


@spec("imap/3501/6.1.3/logout-bye-ok-then-close", "RFC3501-6.1.3-01", "RFC3501-6.1.3-02", "RFC3501-3.4-01",
      "RFC9051-6.1.3-01", "RFC9051-6.1.3-02", "RFC9051-3.4-01")
def test_logout_bye_ok_then_close(imap):
    """LOGOUT when logged in: untagged BYE, then the tagged OK, then the server closes the connection."""
    _check_logout(imap())


@spec("imap/3501/6.1.3/logout-before-login", "RFC3501-6.1.3-02", "RFC3501-3.4-01", "RFC9051-6.1.3-02")
def test_logout_before_login(imap):
    """LOGOUT in the not-authenticated state: untagged BYE, tagged OK, then the connection closes."""
    _check_logout(imap(login=False))


# -- STARTTLS ------------------------------------------------------------------------------------------


@spec("imap/3501/6.2.1/starttls-verified-handshake", "RFC8314-4-11", "RFC8314-4.4-01", "RFC3501-11.1-09",
      "RFC2595-2.5-01")
def test_starttls_verified_handshake(imap, target):
    """STARTTLS completes with OK and a TLS 1.2+ handshake follows whose certificate verifies
    against the target's CA for its server name; the session then works."""
    _starttls_endpoint(target)
    client = imap(tls="starttls", login=False)
    assert client.tls_active
    assert client.sock.version() in ("TLSv1.2", "TLSv1.3"), client.sock.version()
    assert client.sock.getpeercert(), "no verified peer certificate"
    _, done = client.run("NOOP")
    assert done.ok, done.raw


@spec("imap/3501/6.2.1/starttls-refused-when-tls-active")
def test_starttls_refused_when_tls_active(imap):
    """A second STARTTLS once TLS is active is refused, and the session keeps working."""
    client = imap(login=False)
    assert client.tls_active
    _refused(client, "STARTTLS")
    _, done = client.run("NOOP")
    assert done.ok, done.raw


@spec("imap/3501/6.2.1/starttls-refused-when-authenticated")
def test_starttls_refused_when_authenticated(imap):
    """STARTTLS belongs to the not-authenticated state: after login it is refused."""
    _refused(imap(), "STARTTLS")


@spec("imap/9051/6.2.1/starttls-bad-on-implicit-tls", "RFC9051-6.2.1-01", needs=("IMAP4rev2",))
def test_starttls_bad_on_implicit_tls(imap):
    """STARTTLS on the implicit-TLS port is answered with a tagged BAD."""
    client = imap(tls="implicit", login=False)
    _, done = client.run("STARTTLS")
    assert done.status == "BAD", f"expected BAD, got {done.raw!r}"


@spec("imap/9051/6.2.1/starttls-ignores-pipelined-command", "RFC9051-6.2.1-03", needs=("IMAP4rev2",))
def test_starttls_ignores_pipelined_command(imap, target):
    """A command sent in the same packet right after STARTTLS is never executed: the server
    either treats those bytes as the start of the handshake (which then fails) or drops them."""
    _starttls_endpoint(target)
    client = imap(tls="none", login=False)
    client.reader.command_sent("S1")
    client.reader.command_sent("S2")  # so an answer to the injected command parses, and is seen
    client.send_raw(b"S1 STARTTLS\r\nS2 CAPABILITY\r\n")
    done = client.read_response()
    assert isinstance(done, Tagged) and done.tag == "S1" and done.ok, f"STARTTLS: {done.raw!r}"
    assert not client.reader.framer.buffered, "cleartext data followed the STARTTLS completion"
    try:
        client._start_tls()  # the STARTTLS command is already sent (pipelined), so only the handshake
    except (ssl.SSLError, OSError):
        return  # the pipelined bytes broke the handshake: the first allowed behaviour
    client.reader.command_sent("S3")
    client.send_raw(b"S3 NOOP\r\n")
    got: list[Response] = []
    while not (got and isinstance(got[-1], Tagged) and got[-1].tag == "S3"):
        got.append(client.read_response())
    # Responses come in order, so an executed S2 would have been answered before S3's completion.
    answered = [r for r in got if isinstance(r, Tagged) and r.tag == "S2"]
    assert not answered, f"the command pipelined after STARTTLS was executed: {answered[0].raw!r}"


# -- LOGIN ---------------------------------------------------------------------------------------------


@spec("imap/3501/6.2.3/login-refused-before-tls", "RFC3501-6.2.3-03", "RFC9051-6.2.3-04", "RFC2595-3.2-02",
      "RFC3501-6.2.2-05", "RFC9051-6.2.2-11", "RFC2595-2.3-01")
def test_login_refused_before_tls(imap, target, account):
    """Before STARTTLS the server advertises LOGINDISABLED and refuses cleartext passwords: LOGIN
    and AUTHENTICATE PLAIN fail even with valid credentials."""
    _starttls_endpoint(target)
    if target.settings.get("allow_plaintext_auth"):
        pytest.skip("the target declares that it allows cleartext passwords (allow_plaintext_auth)")
    client = imap(tls="none", login=False)
    assert "LOGINDISABLED" in _capability_command(client), "LOGINDISABLED is not advertised before TLS"
    _, done = client.run(b"LOGIN " + quote(account.user) + b" " + quote(account.password))
    assert not done.ok, f"LOGIN succeeded without TLS: {done.raw!r}"
    response = sasl_plain(account.user, account.password).encode()
    _, done = client.run("AUTHENTICATE PLAIN", on_continuation=lambda _c: response)
    assert not done.ok, f"AUTHENTICATE PLAIN succeeded without TLS: {done.raw!r}"


@spec("imap/3501/6.2.3/login-enters-authenticated-state")
def test_login_enters_authenticated_state(imap, account):
    """LOGIN with valid credentials completes with OK and the session is then authenticated
    (EXAMINE INBOX, refused before, now works)."""
    client = imap(login=False)
    _not_authenticated(client, "before LOGIN")
    done = client.login(account.user, account.password)
    assert done.ok, done.raw
    _, done = client.run("EXAMINE INBOX")
    assert done.ok, f"EXAMINE INBOX after login: {done.raw!r}"


@spec("imap/3501/6.2.3/login-wrong-password-no")
def test_login_wrong_password_no(imap, account):
    """A wrong password gets a tagged NO; the session stays not authenticated and a later LOGIN
    with the right password succeeds."""
    client = imap(login=False)
    done = client.login(account.user, WRONG_PASSWORD)
    assert done.status == "NO", f"expected NO for a wrong password, got {done.raw!r}"
    _not_authenticated(client, "after the failed LOGIN")
    done = client.login(account.user, account.password)
    assert done.ok, f"LOGIN after a failed one: {done.raw!r}"


@spec("imap/3501/6.2.3/login-capability-code-is-current")
def test_login_capability_code_is_current(imap, account):
    """When LOGIN's OK carries a CAPABILITY response code, it lists what CAPABILITY then lists."""
    client = imap(login=False)
    done = client.login(account.user, account.password)
    assert done.ok, done.raw
    if done.code != "CAPABILITY":
        pytest.skip("LOGIN's OK has no CAPABILITY response code")
    assert _upper(done.code_args) == _capability_command(client)


@spec("imap/3501/6.2.3/login-accepts-literals")
def test_login_accepts_literals(imap, account):
    """LOGIN takes its user name and password as synchronising literals too (astring)."""
    client = imap(login=False)
    _, done = client.run(b"LOGIN ", Literal(account.user.encode(), non_sync=False), b" ",
                         Literal(account.password.encode(), non_sync=False))
    assert done.ok, f"LOGIN with literals: {done.raw!r}"
    _, done = client.run("EXAMINE INBOX")
    assert done.ok, f"EXAMINE INBOX after login: {done.raw!r}"


@spec("imap/3501/6.2.3/login-refused-when-authenticated")
def test_login_refused_when_authenticated(imap, account):
    """Once authenticated, LOGIN and AUTHENTICATE are no longer valid and are refused."""
    client = imap()
    _refused(client, b"LOGIN " + quote(account.user) + b" " + quote(account.password))
    _refused(client, "AUTHENTICATE PLAIN")


@spec("imap/3501/6.2.3/refused-role-gets-no")
def test_refused_role_gets_no(imap, target):
    """An account the server does not serve over IMAP (an admin or guest role) is refused with a
    tagged NO, not BAD or a dropped connection, and the session stays usable."""
    special = target.accounts_with_role("admin") + target.accounts_with_role("guest")
    if not special:
        pytest.skip("the target lists no admin or guest account")
    client = imap(login=False)
    for acc in special:
        done = client.login(acc.user, acc.password)
        if done.ok:
            pytest.skip(f"the target lets the {acc.role} account {acc.user} use IMAP")
        assert done.status == "NO", f"{acc.role} login: expected NO, got {done.raw!r}"
    _, done = client.run("NOOP")
    assert done.ok, done.raw


# -- AUTHENTICATE --------------------------------------------------------------------------------------


@spec("imap/3501/6.2.2/authenticate-plain-with-continuation", "RFC3501-6.2.2-04", "RFC4959-4-01",
      "RFC4959-6-01", "RFC4959-3-06", "RFC9051-6.2.2-10", "RFC9051-6.2.2-20", needs=("AUTH=PLAIN",))
def test_authenticate_plain_with_continuation(imap, account):
    """AUTHENTICATE PLAIN without an initial response gets an empty "+" continuation; the base64
    credentials sent back log the session in."""
    client = imap(login=False)
    asked = []

    def answer(cont):
        asked.append(cont)
        return sasl_plain(account.user, account.password).encode()

    _, done = client.run("AUTHENTICATE PLAIN", on_continuation=answer)
    assert done.ok, done.raw
    assert len(asked) == 1, f"expected one continuation, got {len(asked)}"
    _, done = client.run("EXAMINE INBOX")
    assert done.ok, f"EXAMINE INBOX after AUTHENTICATE: {done.raw!r}"


@spec("imap/4959/3/authenticate-plain-initial-response", "RFC4959-6-03", needs=("SASL-IR", "AUTH=PLAIN"))
def test_authenticate_plain_initial_response(imap, account):
    """With SASL-IR, AUTHENTICATE PLAIN <initial response> logs in with no continuation round trip."""
    client = imap(login=False)
    _, done = client.run(f"AUTHENTICATE PLAIN {sasl_plain(account.user, account.password)}")
    assert done.ok, done.raw
    _, done = client.run("EXAMINE INBOX")
    assert done.ok, f"EXAMINE INBOX after AUTHENTICATE: {done.raw!r}"


@spec("imap/4959/3/initial-response-refused-for-server-first-mechanism", "RFC4959-3-05", "RFC9051-6.2.2-09",
      needs=("SASL-IR",))
def test_initial_response_refused_for_server_first_mechanism(imap, imap_capabilities):
    """An initial response with a mechanism where the server speaks first (LOGIN, CRAM-MD5) is
    answered with a tagged BAD."""
    server_first = [m for m in ("CRAM-MD5", "LOGIN") if m in imap_capabilities.auth_mechanisms()]
    if not server_first:
        pytest.skip("the target offers no SASL mechanism in which the server speaks first")
    client = imap(login=False)
    _, done = client.run(f"AUTHENTICATE {server_first[0]} bWFpbHNwZWM=")
    assert done.status == "BAD", f"expected BAD, got {done.raw!r}"


@spec("imap/2595/6/plain-accepts-255-octet-fields", "RFC2595-6-03", needs=("AUTH=PLAIN",))
def test_plain_accepts_255_octet_fields(imap, account):
    """A PLAIN response whose password is 255 octets long is read and judged (a NO for a wrong
    password), not rejected as malformed; the session stays usable for a correct login."""
    client = imap(login=False)
    long_password = (WRONG_PASSWORD * 20)[:255]
    response = sasl_plain(account.user, long_password).encode()
    _, done = client.run("AUTHENTICATE PLAIN", on_continuation=lambda _c: response)
    assert done.status == "NO", f"expected NO for the wrong 255-octet password, got {done.raw!r}"
    assert client.login(account.user, account.password).ok


@spec("imap/3501/6.2.2/authenticate-cancel-is-bad", "RFC3501-6.2.2-03", "RFC9051-6.2.2-04",
      needs=("AUTH=PLAIN",))
def test_authenticate_cancel_is_bad(imap):
    """A client that answers the continuation with "*" cancels: the command ends with a tagged BAD
    and the session is still not authenticated."""
    client = imap(login=False)
    _, done = client.run("AUTHENTICATE PLAIN", on_continuation=lambda _c: b"*")
    assert done.status == "BAD", f"expected BAD after '*', got {done.raw!r}"
    _not_authenticated(client, "after the cancelled AUTHENTICATE")


@spec("imap/9051/6.2.2/authenticate-invalid-base64-is-bad", "RFC9051-6.2.2-04",
      needs=("IMAP4rev2", "AUTH=PLAIN"))
def test_authenticate_invalid_base64_is_bad(imap):
    """A continuation answer that is not valid base64 ends AUTHENTICATE with a tagged BAD."""
    client = imap(login=False)
    _, done = client.run("AUTHENTICATE PLAIN", on_continuation=lambda _c: b"!!not-base64!!")
    assert done.status == "BAD", f"expected BAD for invalid base64, got {done.raw!r}"


@spec("imap/9051/6.2.2/initial-response-invalid-base64-is-bad", "RFC9051-6.2.2-08",
      needs=("IMAP4rev2", "SASL-IR", "AUTH=PLAIN"))
def test_initial_response_invalid_base64_is_bad(imap):
    """An initial response that is not valid base64 is answered with a tagged BAD."""
    client = imap(login=False)
    _, done = client.run("AUTHENTICATE PLAIN AB=C!D")
    assert done.status == "BAD", f"expected BAD for an invalid initial response, got {done.raw!r}"


@spec("imap/3501/6.2.2/authenticate-unknown-mechanism-no", "RFC3501-6.2.2-02", "RFC9051-6.2.2-03")
def test_authenticate_unknown_mechanism_no(imap):
    """AUTHENTICATE with a mechanism the server does not support gets a tagged NO."""
    client = imap(login=False)
    _, done = client.run("AUTHENTICATE X-MAILSPEC-NO-SUCH-MECHANISM")
    assert done.status == "NO", f"expected NO, got {done.raw!r}"


@spec("imap/3501/6.2.2/authenticate-wrong-password-no", needs=("AUTH=PLAIN",))
def test_authenticate_wrong_password_no(imap, account):
    """AUTHENTICATE PLAIN with a wrong password gets a tagged NO and the session stays not authenticated."""
    client = imap(login=False)
    response = sasl_plain(account.user, WRONG_PASSWORD).encode()
    _, done = client.run("AUTHENTICATE PLAIN", on_continuation=lambda _c: response)
    assert done.status == "NO", f"expected NO for a wrong password, got {done.raw!r}"
    _not_authenticated(client, "after the failed AUTHENTICATE")


# -- the not-authenticated state -----------------------------------------------------------------------


@spec("imap/3501/3.1/select-refused-before-login")
def test_select_refused_before_login(imap):
    """SELECT and EXAMINE are refused before authentication."""
    _each_refused_before_login(imap, [("SELECT INBOX",), ("EXAMINE INBOX",)])


@spec("imap/3501/3.1/mailbox-commands-refused-before-login")
def test_mailbox_commands_refused_before_login(imap, mailboxes):
    """The authenticated-state commands (CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST,
    LSUB, STATUS) are refused before authentication."""
    name = mailboxes.name().encode()
    _each_refused_before_login(imap, [
        (b"CREATE " + name,), (b"DELETE " + name,), (b"RENAME " + name + b" " + name + b"x",),
        (b"SUBSCRIBE " + name,), (b"UNSUBSCRIBE " + name,), ('LIST "" "*"',), ('LSUB "" "*"',),
        ("STATUS INBOX (MESSAGES)",),
    ])


@spec("imap/3501/3.1/message-commands-refused-before-login")
def test_message_commands_refused_before_login(imap):
    """The selected-state commands (CHECK, CLOSE, EXPUNGE, SEARCH, FETCH, STORE, COPY, UID) are
    refused before authentication."""
    _each_refused_before_login(imap, [
        ("CHECK",), ("CLOSE",), ("EXPUNGE",), ("SEARCH ALL",), ("FETCH 1 FLAGS",),
        ("STORE 1 +FLAGS (\\Seen)",), ("COPY 1 INBOX",), ("UID FETCH 1 FLAGS",),
    ])


@spec("imap/3501/3.1/append-refused-before-login")
def test_append_refused_before_login(imap):
    """APPEND is refused before authentication (at the literal or after it)."""
    message = b"Subject: mailspec\r\n\r\nnot to be stored\r\n"
    _each_refused_before_login(imap, [(b"APPEND INBOX ", Literal(message, non_sync=False))])


@spec("imap/5161/3.1/enable-before-login-enables-nothing", needs=("ENABLE",))
def test_enable_before_login_enables_nothing(imap, imap_capabilities):
    """ENABLE belongs to the authenticated state: before login it is refused, or at least enables
    no extension."""
    wanted = [c for c in ENABLEABLE if imap_capabilities.has(c)]
    if not wanted:
        pytest.skip("the target advertises no extension that ENABLE turns on")
    client = imap(login=False)
    resps, done = client.run(f"ENABLE {wanted[0]}")
    if done.ok:
        assert not _enabled(resps), f"ENABLE before login enabled {_enabled(resps)}"


@spec("imap/2342/5/namespace-refused-before-login", needs=("NAMESPACE",))
def test_namespace_refused_before_login(imap):
    """NAMESPACE is refused before authentication."""
    _each_refused_before_login(imap, [("NAMESPACE",)])


@spec("imap/3501/3.2/message-commands-refused-without-selection")
def test_message_commands_refused_without_selection(imap):
    """Logged in but with no mailbox selected, FETCH, STORE, SEARCH and EXPUNGE are refused."""
    client = imap()
    for command in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "EXPUNGE"):
        if _refused(client, command) == "BYE":
            client = imap(label=f"c{len(imap.opened) + 1}")


# -- implicit TLS (RFC 8314) ---------------------------------------------------------------------------


@spec("imap/8314/3.2/implicit-tls-greeting", "RFC8314-4-11")
def test_implicit_tls_greeting(imap):
    """On the implicit-TLS port the TLS 1.2+ handshake comes first, then the greeting; with an OK
    greeting the session is not authenticated."""
    client = imap(tls="implicit", login=False)
    assert client.tls_active and client.sock.version() in ("TLSv1.2", "TLSv1.3"), client.sock.version()
    assert client.greeting.kind in ("OK", "PREAUTH"), client.greeting.raw
    if client.greeting.kind == "OK":
        _not_authenticated(client, "after the implicit-TLS greeting")


@spec("imap/8314/3.2/implicit-tls-login", "RFC8314-4-01")
def test_implicit_tls_login(imap, account):
    """A client can log in over implicit TLS and use its mailboxes."""
    client = imap(account, tls="implicit")
    _, done = client.run("EXAMINE INBOX")
    assert done.ok, done.raw


@spec("imap/8314/4.4/certificate-verifies-for-server-name", "RFC8314-4.4-01")
def test_certificate_verifies_for_server_name(target):
    """The implicit-TLS certificate verifies against the target's CA for its name, and a check for
    another name fails (so the verification really happens)."""
    ep = target.endpoint("imaps")
    if ep is None:
        pytest.skip("target has no implicit-TLS IMAP endpoint (imaps)")
    ctx = tls_context(target)
    if not ctx.check_hostname:
        pytest.skip("target disables certificate verification")
    with socket.create_connection((ep.host, ep.port), timeout=target.timeout) as raw, \
            ctx.wrap_socket(raw, server_hostname=target.tls.server_name or ep.host) as tls:
        assert tls.getpeercert()
    with socket.create_connection((ep.host, ep.port), timeout=target.timeout) as raw, \
            pytest.raises(ssl.SSLCertVerificationError):
        ctx.wrap_socket(raw, server_hostname="wrong-name.invalid")


# -- ID (RFC 2971) -------------------------------------------------------------------------------------


@spec("imap/2971/3.1/id-in-any-state", "RFC2971-3.2-01", needs=("ID",))
def test_id_in_any_state(imap):
    """ID works before login as well as after: each time an untagged ID response, then OK."""
    for client in (imap(login=False, label="before-login"), imap(label="after-login")):
        resps, done = client.run('ID ("name" "mailspec")')
        assert done.ok, f"{client.label}: ID failed: {done.raw!r}"
        assert len(untagged(resps, "ID")) == 1, f"{client.label}: expected one untagged ID response"


@spec("imap/2971/3.1/id-nil-accepted", "RFC2971-3.2-01", needs=("ID",))
def test_id_nil_accepted(imap):
    """A client may send ID NIL (no information); the server still answers with its ID response."""
    resps, done = imap().run("ID NIL")
    assert done.ok, done.raw
    assert len(untagged(resps, "ID")) == 1, "expected one untagged ID response"


@spec("imap/2971/3.3/id-response-within-limits", "RFC2971-3.3-01", "RFC2971-3.3-02", "RFC2971-3.3-03",
      "RFC2971-3.3-05", needs=("ID",))
def test_id_response_within_limits(imap):
    """The server's ID list has at most 30 pairs, field names of at most 30 octets, values of at most
    1024, and no field name twice."""
    resps, done = imap().run('ID ("name" "mailspec")')
    assert done.ok, done.raw
    (response,) = untagged(resps, "ID")
    cur = Cursor(response.raw)
    cur.keyword(b"* ID ", "id_response")
    names: list[bytes] = []
    if not cur.nil():
        cur.char(b"(", "id_params_list")
        while not cur.try_char(b")"):
            if names:
                cur.sp("id_params_list")
            names.append(cur.string("id_params_list").lower())
            cur.sp("id_params_list")
            value = cur.nstring("id_params_list")
            assert value is None or len(value) <= 1024, f"value of {names[-1]!r} is {len(value)} octets"
    assert len(names) <= 30, f"{len(names)} field-value pairs"
    assert all(len(n) <= 30 for n in names), f"field names over 30 octets: {[n for n in names if len(n) > 30]}"
    assert len(names) == len(set(names)), f"a field name is sent twice: {names}"


@spec("imap/2971/3/id-changes-no-capabilities", "RFC2971-3-01", "RFC2971-3-02", "RFC2971-3-04", "RFC2971-3-06",
      needs=("ID",))
def test_id_changes_no_capabilities(imap):
    """What the client says in ID changes nothing: the capability list stays the same and the
    session keeps working, whatever client it claims to be."""
    client = imap()
    before = _capability_command(client)
    _, done = client.run('ID ("name" "Microsoft Outlook" "version" "16.0" "vendor" "Microsoft")')
    assert done.ok, done.raw
    assert _capability_command(client) == before, "the capability list changed after ID"
    _, done = client.run("EXAMINE INBOX")
    assert done.ok, f"EXAMINE INBOX after ID: {done.raw!r}"


# -- ENABLE (RFC 5161) ---------------------------------------------------------------------------------


@spec("imap/5161/3.1/enable-unknown-ignored", "RFC5161-3.1-01", "RFC9051-6.3.1-01", needs=("ENABLE",))
def test_enable_unknown_ignored(imap):
    """ENABLE of an extension the server does not know is ignored: the command succeeds and no
    ENABLED response lists the name."""
    resps, done = imap().run("ENABLE X-MAILSPEC-UNKNOWN")
    assert done.ok, done.raw
    assert "X-MAILSPEC-UNKNOWN" not in _enabled(resps)


@spec("imap/5161/3.1/enable-always-answers-enabled", "RFC5161-3.1-04", "RFC9051-6.3.1-04", needs=("ENABLE",))
def test_enable_always_answers_enabled(imap):
    """A successful ENABLE is answered by an untagged ENABLED response, even when it enables
    nothing (the list is then empty)."""
    resps, done = imap().run("ENABLE X-MAILSPEC-UNKNOWN")
    assert done.ok, done.raw
    assert len(untagged(resps, "ENABLED")) == 1, "expected one untagged ENABLED response"


@spec("imap/5161/3.1/enable-condstore-reported", "RFC5161-3.1-03", "RFC9051-6.3.1-03",
      needs=("ENABLE", "CONDSTORE"))
def test_enable_condstore_reported(imap):
    """ENABLE CONDSTORE is answered by an ENABLED response that lists CONDSTORE."""
    resps, done = imap().run("ENABLE CONDSTORE")
    assert done.ok, done.raw
    assert "CONDSTORE" in _enabled(resps), f"ENABLED lists {_enabled(resps) or 'nothing'}"


@spec("imap/5161/3.1/enable-non-enableable-ignored", "RFC5161-3.1-02", "RFC9051-6.3.1-02", needs=("ENABLE",))
def test_enable_non_enableable_ignored(imap, imap_capabilities):
    """ENABLE of an extension the server has but that is not turned on by ENABLE (IDLE, NAMESPACE
    ...) is ignored: the ENABLED response does not list it."""
    candidates = [c for c in ("IDLE", "NAMESPACE", "UIDPLUS", "ID") if imap_capabilities.has(c)]
    if not candidates:
        pytest.skip("the target advertises none of IDLE, NAMESPACE, UIDPLUS, ID")
    resps, done = imap().run(f"ENABLE {candidates[0]}")
    assert done.ok, done.raw
    assert candidates[0] not in _enabled(resps), f"ENABLED lists {candidates[0]}"


@spec("imap/5161/3.1/enable-keeps-capabilities", "RFC5161-3.1-08", "RFC9051-6.3.1-08", needs=("ENABLE",))
def test_enable_keeps_capabilities(imap, imap_capabilities):
    """CAPABILITY right after ENABLE lists exactly what it listed before."""
    wanted = [c for c in ENABLEABLE if imap_capabilities.has(c)] or ["X-MAILSPEC-UNKNOWN"]
    client = imap()
    before = _capability_command(client)
    client.ok(f"ENABLE {wanted[0]}")
    assert _capability_command(client) == before


@spec("imap/5161/4/enable-case-insensitive", "RFC5161-4-01", needs=("ENABLE", "CONDSTORE"))
def test_enable_case_insensitive(imap):
    """Extension names in ENABLE are case-insensitive: "condstore" enables CONDSTORE."""
    resps, done = imap().run("ENABLE condstore")
    assert done.ok, done.raw
    assert "CONDSTORE" in _enabled(resps), f"ENABLED lists {_enabled(resps) or 'nothing'}"


@spec("imap/5161/3.1/enabled-lists-only-new", "RFC5161-3.1-07", "RFC9051-6.3.1-07", needs=("ENABLE", "CONDSTORE"))
def test_enabled_lists_only_new(imap):
    """A second ENABLE of an extension already on reports it no more in its ENABLED response."""
    client = imap()
    client.ok("ENABLE CONDSTORE")
    resps, done = client.run("ENABLE CONDSTORE")
    assert done.ok, done.raw
    assert "CONDSTORE" not in _enabled(resps), "the second ENABLED lists CONDSTORE again"


@spec("imap/9051/6.3.1/enable-imap4rev2", "RFC9051-6.3.1-03", "RFC9051-6.3.1-04", needs=("ENABLE", "IMAP4rev2"))
def test_enable_imap4rev2(imap):
    """A server offering both revisions answers ENABLE IMAP4rev2 with ENABLED IMAP4rev2."""
    resps, done = imap().run("ENABLE IMAP4rev2")
    assert done.ok, done.raw
    assert "IMAP4REV2" in _enabled(resps), f"ENABLED lists {_enabled(resps) or 'nothing'}"


@spec("imap/9051/6.3.1/enable-imap4rev2-keeps-capabilities", "RFC9051-6.3.1-08", needs=("ENABLE", "IMAP4rev2"))
def test_enable_imap4rev2_keeps_capabilities(imap):
    """CAPABILITY right after ENABLE IMAP4rev2 lists exactly what it listed before (IMAP4rev1 too:
    the server still offers both revisions, only this session's behaviour changed)."""
    client = imap()
    before = _capability_command(client)
    client.ok("ENABLE IMAP4rev2")
    after = _capability_command(client)
    assert after == before, f"after ENABLE IMAP4rev2: missing {before - after or '-'}, new {after - before or '-'}"


# -- NAMESPACE (RFC 2342) ------------------------------------------------------------------------------


@spec("imap/2342/5/namespace-single-response", "RFC9051-6.3.10-01", needs=("NAMESPACE",))
def test_namespace_single_response(imap):
    """NAMESPACE is answered by exactly one untagged NAMESPACE response, then OK."""
    _namespace(imap())
