"""Unit tests of the strict IMAP response grammar (mailspec.protocol.imap_*).

Valid examples come from the RFCs' example sections (the section is named next to each); the
invalid ones are written here, each breaking one rule, and each test checks *which* rule is named,
so a grammar that rejects for the wrong reason fails too.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from mailspec.protocol.imap_grammar import parse_response
from mailspec.protocol.imap_lexer import ResponseFramer
from mailspec.protocol.imap_mutf7 import MUtf7Error, decode_mutf7, encode_mutf7
from mailspec.protocol.imap_reader import NEED_DATA, ImapResponseReader
from mailspec.protocol.imap_response import (
    BodyPart,
    Continuation,
    ImapProtocolViolation,
    Malformed,
    Multipart,
    Tagged,
    Untagged,
)

ENVELOPE_3501 = (
    b'("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" '
    b'(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) '
    b'(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) '
    b'((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL '
    b'"<B27397-0100000@cac.washington.edu>")'
)

# (response, kind/tag, note) -- RFC examples unless noted
VALID: list[bytes] = [
    # RFC 3501 §7.1 / §7.2 / §7.3 / §7.4 / §7.5 / §8
    b"* OK IMAP4rev1 Service Ready\r\n",
    b"* OK [ALERT] System shutdown in 10 minutes\r\n",
    b"A001 OK LOGIN completed\r\n",
    b"* NO Disk is 98% full, please delete unnecessary data\r\n",
    b"* BAD Command line too long\r\n",
    b"* BYE Autologout; idle for too long\r\n",
    b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n",
    b"* CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n",  # RFC 9051 §7.2.2
    b'* LIST (\\Noselect) "/" ~/Mail/foo\r\n',
    b'* LSUB () "." #news.comp.mail.misc\r\n',
    b'* LIST (\\Noselect) NIL ""\r\n',
    b'* LIST () "/" "~peter/mail/&U,BTFw-/&ZeVnLIqe-"\r\n',  # §5.1.3
    b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
    b"* SEARCH 2 3 6\r\n",
    b"* SEARCH\r\n",
    b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
    b"* 23 EXISTS\r\n",
    b"* 0 EXISTS\r\n",
    b"* 5 RECENT\r\n",
    b"* 44 EXPUNGE\r\n",
    b"* 23 FETCH (FLAGS (\\Seen) RFC822.SIZE 44827)\r\n",
    b"* 12 FETCH (BODY[HEADER] {14}\r\nSubject: x\r\n\r\n)\r\n",
    b"+ Ready for additional command text\r\n",
    b"+ YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ+iDgMMV29ya3N0YXRpb26jWQRXRmVhdG/7fE8kAl5WBdSt"
    b"uVBFfL23VhnUk2Z6d5mDD6vB1k7t\r\n",
    b"+ \r\n",
    b"* OK [UNSEEN 12] Message 12 is first unseen\r\n",
    b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
    b"* OK [UIDNEXT 4392] Predicted next UID\r\n",
    b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
    b"* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n",
    b"A142 OK [READ-WRITE] SELECT completed\r\n",
    b"A932 OK [READ-ONLY] EXAMINE completed\r\n",
    b"A003 NO [TRYCREATE] No such mailbox\r\n",
    b"A004 NO [BADCHARSET (UTF-8 \"X-SJIS\")] charset not supported\r\n",
    b"A004 NO [BADCHARSET] charset not supported\r\n",
    b"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR] ready\r\n",
    b"a NO [PARSE] bad header\r\n",
    b"* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 ENVELOPE "
    + ENVELOPE_3501
    + b' BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))\r\n',
    b'* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)'
    b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" '
    b'"Compiler diff" "BASE64" 4554 73) "MIXED"))\r\n',
    b"* 2 FETCH (FLAGS (\\Deleted \\Seen \\Recent $Forwarded keyword1))\r\n",
    b"* 1 FETCH (RFC822.HEADER NIL RFC822.TEXT \"\" RFC822 {0}\r\n)\r\n",
    b"* 1 FETCH (BODY[1.2.MIME] NIL BODY[TEXT]<10> \"abc\" BODY[4.2.HEADER.FIELDS.NOT (Subject \"x-y\")] NIL)\r\n",
    # RFC 9051 / RFC 3516 BINARY, literal8
    b"* 1 FETCH (BINARY[1] ~{5}\r\nhe\x00lo BINARY.SIZE[1] 5 BINARY[] NIL)\r\n",
    # RFC 4315 §3 UIDPLUS
    b"A003 OK [APPENDUID 38505 3955] APPEND completed\r\n",
    b"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
    b"* NO [UIDNOTSTICKY] Non-persistent UIDs\r\n",
    # RFC 5530 §3
    b"a NO [UNAVAILABLE] User's backend down for maintenance\r\n",
    b"a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
    b"a NO [AUTHORIZATIONFAILED] No such authorization-ID\r\n",
    b"a NO [EXPIRED] That password isn't valid any more\r\n",
    b"a NO [PRIVACYREQUIRED] Connection security required\r\n",
    b"a NO [CONTACTADMIN] You need to contact the system admin\r\n",
    b"a NO [NOPERM] Access denied\r\n",
    b"a NO [INUSE] Mailbox in use\r\n",
    b"a NO [EXPUNGEISSUED] Some messages were expunged\r\n",
    b"a NO [CORRUPTION] Cannot open mailbox\r\n",
    b"a NO [SERVERBUG] Temporary failure\r\n",
    b"a OK [CLIENTBUG] Done\r\n",
    b"a NO [CANNOT] Cannot do that\r\n",
    b"a NO [LIMIT] At maximum allowed number of mailboxes\r\n",
    b"a NO [OVERQUOTA] Sorry\r\n",
    b"a NO [ALREADYEXISTS] Mailbox exists\r\n",
    b"a NO [NONEXISTENT] No such mailbox\r\n",
    # RFC 7162 CONDSTORE / QRESYNC
    b"* OK [HIGHESTMODSEQ 715194045007] Highest\r\n",
    b"* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n",
    b"d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n",
    b"* OK [CLOSED] Previous mailbox closed\r\n",
    b"* 1 FETCH (UID 4 MODSEQ (12121231000))\r\n",
    b"* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n",
    b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292 HIGHESTMODSEQ 7011231777)\r\n",
    b"* STATUS blurdybloop (HIGHESTMODSEQ 0)\r\n",
    b"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n",
    b"* VANISHED 405,407,410,425\r\n",
    # RFC 4731 / RFC 9051 ESEARCH
    b'* ESEARCH (TAG "a567") UID COUNT 17 ALL 4:18,21,28\r\n',
    b'* ESEARCH (TAG "a") MIN 2 COUNT 10 MODSEQ 917162500\r\n',
    b"* ESEARCH\r\n",
    b'* ESEARCH (TAG "a1") UID PARTIAL (1:5 1,3) XCUSTOM 7\r\n',
    # RFC 5258 LIST-EXTENDED, RFC 3348 CHILDREN, RFC 6154 SPECIAL-USE
    b'* LIST (\\Subscribed \\NonExistent) "/" foo/bar\r\n',
    b'* LIST (\\HasNoChildren) "/" foo ("CHILDINFO" ("SUBSCRIBED"))\r\n',
    b'* LIST (\\Remote) "/" also/jazz\r\n',
    b'* LIST () "/" "Fruit/Peach" (OLDNAME ("Fruit/Apricot"))\r\n',
    b'* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n',
    b'* LIST (\\Marked \\Drafts \\Subscribed) "." Drafts (vendor.x-y (1 2) OTHER 5)\r\n',
    b'* LIST () "/" foo (X ())\r\n',
    # RFC 2342 NAMESPACE
    b'* NAMESPACE (("" "/")) (("~" "/")) (("#shared/" "/")("#public/" "/")("#ftp/" "/")("#news." "."))\r\n',
    b'* NAMESPACE (("" "/")("#mh/" "/" "X-PARAM" ("FLAG1" "FLAG2"))) NIL NIL\r\n',
    b"* NAMESPACE NIL NIL NIL\r\n",
    # RFC 2971 ID
    b'* ID ("name" "Cyrus" "version" "1.5" "os" "sunos" "os-version" "5.5" "support-url" '
    b'"mailto:cyrus-bugs+@andrew.cmu.edu")\r\n',
    b"* ID NIL\r\n",
    # RFC 5161 ENABLE
    b"* ENABLED X-GOOD-IDEA\r\n",
    b"* ENABLED\r\n",
    # RFC 9208 QUOTA
    b'* QUOTAROOT INBOX ""\r\n',
    b'* QUOTA "" (STORAGE 10 512)\r\n',
    b"* QUOTAROOT comp.mail.mime\r\n",
    b'* QUOTA "#user/alice" (MESSAGE 42 1000 STORAGE 1 9)\r\n',
    b"* STATUS INBOX (DELETED 3 DELETED-STORAGE 1000)\r\n",
    # RFC 5256 SORT / THREAD (Dovecot sends them)
    b"* SORT 2 84 882\r\n",
    b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n",
    b"* THREAD ((3)(5))\r\n",
    b"* THREAD\r\n",
    # unknown but well formed: extensibility (RFC 3501 §7: clients accept any response)
    b"* OK [XYZZY some args] hi\r\n",
    b"* OK [X-NEW] hi\r\n",
    b'* XSTATE (a "b" (1 2)) NIL {3}\r\nabc\r\n',
    b"* 3 XFOO bar\r\n",
    # text that ends like a literal announcement is text on a status line
    b"a1 OK done {5}\r\n",
]


@pytest.mark.parametrize("raw", VALID, ids=lambda r: r[:50].decode("latin-1"))
def test_rfc_example_is_valid(raw: bytes) -> None:
    resp = parse_response(raw)
    assert resp.raw == raw


# (response, the ABNF rule the violation must name)
INVALID: list[tuple[bytes, str]] = [
    # status responses and resp-text
    (b"* OK\r\n", "resp-cond-state"),
    (b"A1 OK\r\n", "resp-cond-state"),
    (b"A1 OK  two spaces\r\n", "resp-cond-state"),
    (b"A1 OK \r\n", "resp-text"),  # RFC 3501: text required
    (b"A1 OK [READ-WRITE]\r\n", "resp-text"),  # the code must be followed by SP
    (b"* OK [CLOSED]\r\n", "resp-text"),
    (b"A1 DONE fine\r\n", "resp-cond-state"),
    (b"A1 ok fine\r\nX", "response-tagged"),  # data after the CRLF
    (b"* PREAUTH\r\n", "resp-cond-auth"),
    (b"+\r\n", "continue-req"),
    (b"+OK\r\n", "continue-req"),
    (b"a+b OK x\r\n", "response-tagged"),
    (b"a{b OK x\r\n", "response-tagged"),
    (b"(a OK x\r\n", "tag"),
    (b"* OK hello\n", "CRLF"),
    (b"* OK hel\rlo\r\n", "TEXT-CHAR"),
    (b"* OK h\xc3\xa9llo\r\n", "TEXT-CHAR"),  # 8-bit outside a literal before UTF-8 is enabled
    (b"* OK h\x00llo\r\n", "TEXT-CHAR"),
    # response codes
    (b"* OK [UIDNEXT 0] x\r\n", "resp-text-code"),
    (b"* OK [UIDNEXT abc] x\r\n", "resp-text-code"),
    (b"* OK [UIDNEXT] x\r\n", "resp-text-code"),
    (b"* OK [UIDVALIDITY 4294967296] x\r\n", "resp-text-code"),
    (b"* OK [UNSEEN 01] x\r\n", "resp-text-code"),
    (b"* OK [ALERT extra] x\r\n", "resp-text-code"),
    (b"* OK [READ-ONLY x] x\r\n", "resp-text-code"),
    (b"* OK [PERMANENTFLAGS \\Seen] x\r\n", "resp-text-code"),
    (b"* OK [PERMANENTFLAGS (\\Seen \\*)x] x\r\n", "resp-text-code"),
    (b"* OK [BADCHARSET (UTF-8] x\r\n", "resp-text-code"),
    (b"* OK [COPYUID 1 1:3 5] x\r\n", "copyuid-sets"),
    (b"* OK [COPYUID 1 1:* 5] x\r\n", "uid-set"),
    (b"* OK [APPENDUID 0 4] x\r\n", "resp-code-apnd"),
    (b"* OK [APPENDUID 1] x\r\n", "resp-code-apnd"),
    (b"* OK [HIGHESTMODSEQ 0] x\r\n", "mod-sequence-value"),
    (b"* OK [HIGHESTMODSEQ 9223372036854775808] x\r\n", "mod-sequence-value"),
    (b"* OK [CAPABILITY IMAP4 STARTTLS] x\r\n", "capability-data"),
    (b"* OK [XFOO ] x\r\n", "resp-text-code"),
    (b"* OK [ALERT x\r\n", "resp-text-code"),
    # CAPABILITY / ENABLED
    (b"* CAPABILITY STARTTLS\r\n", "capability-data"),
    (b"* CAPABILITY IMAP4rev1 AUTH=\r\n", "auth-type"),
    (b"* CAPABILITY IMAP4rev1  IDLE\r\n", "capability-data"),
    (b"* ENABLED (X)\r\n", "capability"),
    # FLAGS
    (b"* FLAGS (\\Seen \\*)\r\n", "flag"),
    (b"* FLAGS (\\Seen  \\Draft)\r\n", "flag-list"),
    (b"* FLAGS \\Seen\r\n", "flag-list"),
    (b"* FLAGS (\\Seen\r\n", "flag-list"),
    (b"* FLAGS (\\)\r\n", "flag"),
    # LIST / LSUB and mailbox names
    (b'* LIST (\\Noselect \\Marked) "/" foo\r\n', "mbx-list-flags"),
    (b'* LIST (\\HasChildren \\HasNoChildren) "/" foo\r\n', "child-mbox-flag"),
    (b'* LIST (\\Marked \\marked) "/" foo\r\n', "mbx-list-flags-once"),
    (b'* LIST (Noselect) "/" foo\r\n', "mbx-list-flags"),
    (b'* LIST () "//" foo\r\n', "mailbox-list"),
    (b'* LIST () "" foo\r\n', "mailbox-list"),
    (b"* LIST () / foo\r\n", "mailbox-list"),
    (b'* LIST () "/"\r\n', "mailbox-list"),
    (b'* LIST () "/" &Jjo\r\n', "mailbox-name-mutf7"),
    (b'* LIST () "/" "&AGE-"\r\n', "mailbox-name-mutf7"),
    (b'* LIST () "/" "a&Jjo-&Jjo-"\r\n', "mailbox-name-mutf7"),
    (b'* LIST () "/" {3}\r\n\xc3\xa9x\r\n', "mailbox-name-mutf7"),
    (b'* LIST () "/" "a\x7fb"\r\n', "mailbox-name-mutf7"),
    (b'* LIST () "/" "a\tb"\r\n', "mailbox-name-mutf7"),  # TAB is a TEXT-CHAR, not a mUTF-7 char
    (b'* LIST () "/" foo%\r\n', "response-data"),
    (b'* LIST (\\HasNoChildren) "/" foo ("CHILDINFO" (SUBSCRIBED))\r\n', "list-select-base-opt-quoted"),
    (b'* LIST () "/" foo ("OLDNAME" "bar")\r\n', "oldname-extended-item"),
    (b'* LIST () "/" foo ({3}\r\na b 1)\r\n', "mbox-list-extended-item-tag"),
    # STATUS
    (b"* STATUS foo (MESSAGES)\r\n", "status-att-val"),
    (b"* STATUS foo (UIDNEXT 0)\r\n", "status-att-val"),
    (b"* STATUS foo (MESSAGES 1 MESSAGES 2)\r\n", "status-att-list"),
    (b"* STATUS foo MESSAGES 1\r\n", "mailbox-data"),
    # SEARCH / ESEARCH / SORT / THREAD
    (b"* SEARCH 0\r\n", "mailbox-data"),
    (b"* SEARCH 1  2\r\n", "mailbox-data"),
    (b"* SEARCH (MODSEQ 5)\r\n", "search-sort-mod-seq"),
    (b"* SEARCH 1 (MODSEQ 0)\r\n", "mod-sequence-value"),
    (b'* ESEARCH (TAG "a") MIN 0\r\n', "search-return-data"),
    (b'* ESEARCH (TAG "a") COUNT 1 COUNT 2\r\n', "search-return-data"),
    (b"* ESEARCH (TAG) COUNT 1\r\n", "search-correlator"),
    (b"* ESEARCH ALL $\r\n", "search-return-data"),
    (b"* THREAD (1 (2))\r\n", "thread-data"),
    (b"* THREAD ()\r\n", "thread-data"),
    # message data
    (b"* 0 EXPUNGE\r\n", "message-data"),
    (b"* 0 FETCH (UID 1)\r\n", "message-data"),
    (b"* -1 EXISTS\r\n", "response-data"),
    (b"* 4294967296 EXISTS\r\n", "message-data"),
    (b"* 1 FETCH (UID 0)\r\n", "uniqueid"),
    (b"* 1 FETCH (FLAGS (\\Seen) )\r\n", "msg-att"),
    (b"* 1 FETCH ()\r\n", "msg-att"),
    (b"* 1 FETCH (XYZ 1)\r\n", "msg-att"),
    (b"* 1 FETCH UID 1\r\n", "msg-att"),
    (b"* 1 FETCH (FLAGS (\\*))\r\n", "flag-fetch"),
    (b'* 1 FETCH (INTERNALDATE "7-Jul-1996 02:44:25 -0700")\r\n', "date-time"),
    (b'* 1 FETCH (INTERNALDATE "17-Foo-1996 02:44:25 -0700")\r\n', "date-time"),
    (b'* 1 FETCH (INTERNALDATE "17-Jul-1996 25:44:25 -0700")\r\n', "date-time"),
    (b'* 1 FETCH (INTERNALDATE "31-Feb-1996 02:44:25 -0700")\r\n', "date-time"),
    (b'* 1 FETCH (INTERNALDATE "17-Jul-1996 02:44:25 0700")\r\n', "date-time"),
    (b"* 1 FETCH (INTERNALDATE 17-Jul-1996)\r\n", "date-time"),
    (b"* 1 FETCH (ENVELOPE (NIL NIL () NIL NIL NIL NIL NIL NIL NIL))\r\n", "env-from"),
    (b"* 1 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n", "envelope"),
    (b'* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL "a")) NIL NIL NIL NIL NIL NIL NIL))\r\n', "address"),
    (b'* 1 FETCH (BODY ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 10))\r\n', "body-type-text"),
    (b'* 1 FETCH (BODY ("TEXT" "PLAIN" () NIL NIL "7BIT" 10 1))\r\n', "body-fld-param"),
    (b'* 1 FETCH (BODY ("TEXT" "PLAIN" ("A") NIL NIL "7BIT" 10 1))\r\n', "body-fld-param"),
    (b'* 1 FETCH (BODY ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 10 1 NIL))\r\n', "non-extensible-body"),
    (b'* 1 FETCH (BODY (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 10 1) "MIXED" NIL))\r\n', "non-extensible-body"),
    (b'* 1 FETCH (BODYSTRUCTURE ("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 10 1))\r\n', "envelope"),
    (b'* 1 FETCH (BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" -1 1))\r\n', "body-fld-octets"),
    (b'* 1 FETCH (BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL 7BIT 1 1))\r\n', "body-fld-enc"),
    (b'* 1 FETCH (BODYSTRUCTURE (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1) MIXED))\r\n', "media-subtype"),
    (b'* 1 FETCH (BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1 NIL ("X")))\r\n', "body-fld-dsp"),
    (b'* 1 FETCH (BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1 NIL NIL ()))\r\n', "body-fld-lang"),
    (b'* 1 FETCH (BODYSTRUCTURE ("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1 NIL NIL NIL NIL ()))\r\n',
     "body-extension"),
    (b'* 1 FETCH (BODY[] "a\x00b")\r\n', "QUOTED-CHAR"),
    (b'* 1 FETCH (BODY[] "a\\qb")\r\n', "QUOTED-CHAR"),
    (b'* 1 FETCH (BODY[] "abc)\r\n', "quoted"),
    (b"* 1 FETCH (BODY[] {3}\r\na\x00b)\r\n", "literal"),
    (b"* 1 FETCH (BODY[] {3+}\r\nabc)\r\n", "server-literal-plus"),
    (b"* 1 FETCH (BODY[] {3}abc)\r\n", "literal"),
    (b"* 1 FETCH (BODY[] ~{3}\r\nabc)\r\n", "msg-att-static"),  # literal8 only for BINARY
    (b"* 1 FETCH (BODY[HEADER.FIELDS ()] NIL)\r\n", "header-fld-name"),
    (b"* 1 FETCH (BODY[HEADER.FIELDS] NIL)\r\n", "section-msgtext"),
    (b"* 1 FETCH (BODY[0] NIL)\r\n", "section-part"),
    (b"* 1 FETCH (BODY[1.FOO] NIL)\r\n", "section-text"),
    (b"* 1 FETCH (BODY[MIME] NIL)\r\n", "section-msgtext"),
    (b"* 1 FETCH (BODY[1]<a> NIL)\r\n", "msg-att-static"),
    (b"* 1 FETCH (BINARY[HEADER] NIL)\r\n", "section-binary"),
    (b"* 1 FETCH (BINARY.SIZE[1] NIL)\r\n", "msg-att-static"),
    (b"* 1 FETCH (MODSEQ (0))\r\n", "permsg-modsequence"),
    (b"* 1 FETCH (MODSEQ 5)\r\n", "fetch-mod-resp"),
    (b"* VANISHED 1:*\r\n", "known-uids"),
    (b"* VANISHED (EARLIER)\r\n", "expunged-resp"),
    (b"* VANISHED (LATER) 1\r\n", "expunged-resp"),
    # NAMESPACE / ID / QUOTA
    (b'* NAMESPACE (("" "/")) NIL\r\n', "namespace-response"),
    (b"* NAMESPACE () NIL NIL\r\n", "namespace"),
    (b'* NAMESPACE (("" "//")) NIL NIL\r\n', "namespace-descr"),
    (b'* NAMESPACE (("" "/" "X" ())) NIL NIL\r\n', "namespace-response-extension"),
    (b'* ID ("name")\r\n', "id_params_list"),
    (b'* ID (name "x")\r\n', "id_params_list"),
    (b'* ID ("a-field-name-longer-than-thirty-octets" "x")\r\n', "id-limits"),
    (b'* QUOTA "" ()\r\n', "resource-name"),
    (b'* QUOTA "" (STORAGE 10)\r\n', "quota-resource"),
    (b"* QUOTAROOT\r\n", "quotaroot-response"),
    # unknown responses must still be well formed
    (b'* XFOO "unterminated\r\n', "quoted"),
    (b"* XFOO (a b\r\n", "response-data"),
    (b"* XFOO a  b\r\n", "response-data"),
]


@pytest.mark.parametrize(("raw", "rule"), INVALID,
                         ids=lambda v: v[:50].decode("latin-1") if isinstance(v, bytes) else v)
def test_invalid_response_names_the_broken_rule(raw: bytes, rule: str) -> None:
    with pytest.raises(ImapProtocolViolation) as info:
        parse_response(raw, 1000)
    assert info.value.rule == rule, str(info.value)
    assert 1000 <= info.value.offset < 1000 + len(raw)
    assert info.value.line and info.value.line in raw


def test_violation_message_names_rfc_section_offset_and_line() -> None:
    with pytest.raises(ImapProtocolViolation) as info:
        parse_response(b"A1 OK [UIDNEXT abc] hi\r\n", 40)
    text = str(info.value)
    assert "RFC 3501 §9 resp-text-code" in text
    assert "offset 55" in text  # 40 + position of "abc"
    assert "A1 OK [UIDNEXT abc] hi" in text
    with pytest.raises(ImapProtocolViolation) as info:
        parse_response(b"* VANISHED 1:*\r\n")
    assert info.value.source == "RFC 7162 §7 known-uids"


def test_offset_points_into_the_line_after_a_literal() -> None:
    raw = b"* 1 FETCH (BODY[] {4}\r\nab\r\n UID 0)\r\n"
    with pytest.raises(ImapProtocolViolation) as info:
        parse_response(raw, 100)
    assert info.value.offset == 100 + raw.index(b"0)")
    assert info.value.line == b" UID 0)\r\n"


# -- structured values ---------------------------------------------------------------------


def test_fetch_values_are_structured() -> None:
    raw = VALID[VALID.index(next(v for v in VALID if v.startswith(b"* 12 FETCH (FLAGS")))]
    resp = parse_response(raw)
    assert isinstance(resp, Untagged) and resp.kind == "FETCH" and resp.number == 12
    data = resp.data
    assert isinstance(data, dict)
    assert data["FLAGS"] == ("\\Seen",)
    assert data["RFC822.SIZE"] == 4286
    assert data["INTERNALDATE"] == dt.datetime(1996, 7, 17, 9, 44, 25, tzinfo=dt.UTC)
    env = data["ENVELOPE"]
    assert env.subject == b"IMAP4rev1 WG mtg summary and minutes"
    assert [a.mailbox for a in env.cc] == [b"minutes", b"KLENSIN"]
    assert env.bcc is None and env.message_id == b"<B27397-0100000@cac.washington.edu>"
    body = data["BODY"]
    assert isinstance(body, BodyPart)
    assert (body.type, body.subtype, body.size, body.lines, body.ext) == ("TEXT", "PLAIN", 3028, 92, None)


def test_nested_bodystructure_with_extension_data() -> None:
    inner = b'("TEXT" "PLAIN" ("CHARSET" "UTF-8") NIL NIL "QUOTED-PRINTABLE" 12 1 "md5" ("inline" NIL) "en" NIL)'
    msg = (b'("MESSAGE" "RFC822" NIL "<id>" "desc" "7BIT" 300 ' + ENVELOPE_3501 + b" "
           + b"(" + inner + b'("IMAGE" "PNG" ("NAME" "a.png") NIL NIL "BASE64" 100) "ALTERNATIVE")' + b" 12)")
    raw = (b"* 7 FETCH (BODYSTRUCTURE (" + inner + msg
           + b' "MIXED" ("BOUNDARY" "xx") ("attachment" ("FILENAME" "f")) ("en" "de") "loc" 5 ("x" (1 NIL))))\r\n')
    resp = parse_response(raw)
    top = resp.data["BODYSTRUCTURE"]
    assert isinstance(top, Multipart) and top.subtype == "MIXED"
    assert top.params == ((b"BOUNDARY", b"xx"),)
    assert top.ext.disposition == (b"attachment", ((b"FILENAME", b"f"),))
    assert top.ext.language == (b"en", b"de") and top.ext.location == b"loc"
    assert top.ext.more == (5, (b"x", (1, None)))
    text, message = top.parts
    assert text.ext.md5 == b"md5" and text.ext.language == (b"en",)
    assert message.type == "MESSAGE" and message.lines == 12 and message.envelope.subject.startswith(b"IMAP4rev1")
    assert isinstance(message.body, Multipart) and message.body.subtype == "ALTERNATIVE"
    assert message.body.parts[1].type == "IMAGE" and message.body.parts[1].lines is None


def test_message_rfc822_sent_as_literal_is_a_basic_body() -> None:
    # media-message needs the quoted form; a literal "MESSAGE" is body-type-basic (no envelope)
    resp = parse_response(b'* 1 FETCH (BODY ({7}\r\nMESSAGE "RFC822" NIL NIL NIL "7BIT" 3))\r\n')
    assert resp.data["BODY"].envelope is None


def test_sections_keep_part_and_origin_in_the_key() -> None:
    resp = parse_response(VALID[[v.startswith(b"* 1 FETCH (BODY[1.2.MIME]") for v in VALID].index(True)])
    assert resp.data == {"BODY[1.2.MIME]": None, "BODY[TEXT]<10>": b"abc",
                         'BODY[4.2.HEADER.FIELDS.NOT (SUBJECT X-Y)]': None}
    binary = parse_response(b"* 1 FETCH (BINARY[1] ~{5}\r\nhe\x00lo BINARY.SIZE[1] 5 BINARY[] NIL)\r\n")
    assert binary.data == {"BINARY[1]": b"he\x00lo", "BINARY.SIZE[1]": 5, "BINARY[]": None}


def test_response_codes_carry_typed_arguments() -> None:
    copy = parse_response(b"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n")
    assert isinstance(copy, Tagged) and copy.ok
    assert copy.code_args == (38505, ((304, 304), (319, 320)), ((3956, 3958),))
    flags = parse_response(b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n")
    assert flags.code == "PERMANENTFLAGS" and flags.code_args == ("\\Deleted", "\\Seen", "\\*")
    assert parse_response(b"* OK [xyzzy some args] hi\r\n").code_args == "some args"
    assert parse_response(b"a NO [badcharset (UTF-8 \"X\")] no\r\n").code_args == ("UTF-8", "X")
    modified = parse_response(b"d105 OK [MODIFIED 7,9:*] Conditional STORE failed\r\n")
    assert modified.code == "MODIFIED" and modified.code_args == ((7, 7), (9, None))


def test_mailbox_data_values() -> None:
    lst = parse_response(b'* LIST () "/" "~peter/mail/&U,BTFw-/&ZeVnLIqe-" (CHILDINFO ("SUBSCRIBED"))\r\n').data
    assert lst.name == "~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e" and lst.delimiter == "/"
    assert lst.extended == {"CHILDINFO": (b"SUBSCRIBED",)}
    assert parse_response(b'* LIST (\\Noselect) NIL inbox\r\n').data.name == "INBOX"
    status = parse_response(b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292 HIGHESTMODSEQ 7011231777)\r\n")
    assert status.data.items == {"MESSAGES": 231, "UIDNEXT": 44292, "HIGHESTMODSEQ": 7011231777}
    esearch = parse_response(b'* ESEARCH (TAG "a567") UID COUNT 17 ALL 4:18,21,28\r\n').data
    assert (esearch.tag, esearch.uid) == (b"a567", True)
    assert esearch.items == {"COUNT": 17, "ALL": ((4, 18), (21, 21), (28, 28))}
    vanished = parse_response(b"* VANISHED (EARLIER) 41,43:116\r\n").data
    assert vanished.earlier and vanished.uids == ((41, 41), (43, 116))
    ns = parse_response(b'* NAMESPACE (("" "/")("#mh/" "/" "X-PARAM" ("FLAG1" "FLAG2"))) NIL NIL\r\n').data
    assert ns.personal[1].extensions == ((b"X-PARAM", (b"FLAG1", b"FLAG2")),) and ns.shared is None
    assert parse_response(b'* QUOTA "" (STORAGE 10 512)\r\n').data.resources[0].limit == 512
    assert parse_response(b"* SEARCH 2 5 (MODSEQ 9)\r\n").data.modseq == 9
    assert parse_response(b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n").data == ((2,), (3, 6, (4, 23), (44, 7, 96)))


def test_unknown_responses_are_marked_and_can_be_refused() -> None:
    resp = parse_response(b'* XSTATE (a "b" (1 2)) NIL\r\n')
    assert isinstance(resp, Untagged) and not resp.known and resp.data == ((b"a", b"b", (1, 2)), None)
    with pytest.raises(ImapProtocolViolation) as info:
        parse_response(b"* XSTATE 1\r\n", allow_unknown=False)
    assert info.value.rule == "response-data"


def test_continuation_is_text_or_base64() -> None:
    text = parse_response(b"+ idling\r\n")
    assert isinstance(text, Continuation) and text.text == "idling" and text.base64 is None
    sasl = parse_response(b"+ dGVzdA==\r\n")
    assert sasl.base64 == b"test"
    assert parse_response(b"+ \r\n").base64 == b""
    coded = parse_response(b"+ [ALERT] read this\r\n")
    assert coded.code == "ALERT" and coded.text == "read this"


def test_revision_modes() -> None:
    # RFC 9051 made the text optional and allowed UTF-8 after ENABLE
    assert parse_response(b"A1 OK \r\n", rev2=True).text == ""
    assert parse_response(b"A1 OK [READ-WRITE] \r\n", rev2=True).code == "READ-WRITE"
    assert parse_response("* OK h\u00e9llo\r\n".encode(), utf8=True).text == "h\u00e9llo"
    assert parse_response('* LIST () "/" "\u00e9t\u00e9"\r\n'.encode(), utf8=True).data.name == "\u00e9t\u00e9"
    with pytest.raises(ImapProtocolViolation):
        parse_response(b"* OK h\xc3llo\r\n", utf8=True)  # truncated UTF-8 sequence


# -- modified UTF-7 -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["INBOX", "a&b", "~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e", "\u00e9",
                                  "x\U0001f600y"])
def test_mutf7_round_trip(name: str) -> None:
    assert decode_mutf7(encode_mutf7(name)) == name


@pytest.mark.parametrize("raw", [b"&", b"&Jjo", b"&-&", b"&AGE-", b"&Jjo-&Jjo-", b"&U,BTF2-", b"&2D0-",
                                 b"\xc3\xa9", b"a\x01", b"&AOk", b"&A-"])
def test_mutf7_rejects(raw: bytes) -> None:
    with pytest.raises(MUtf7Error):
        decode_mutf7(raw)


# -- framing and the reader -------------------------------------------------------------------

STREAM = (
    b"* OK [CAPABILITY IMAP4rev1 LITERAL+ ENABLE] ready\r\n"
    b"* 1 FETCH (BODY[] {13}\r\na1 OK {5}\r\n\r\n UID 7)\r\n"
    b"* 2 FETCH (BODY[HEADER] {0}\r\n BINARY[1] ~{3}\r\n\x00\x01\x02)\r\n"
    b"+ go ahead\r\n"
    b"A1 OK done {3}\r\n"
    b"* ENABLED UTF8=ACCEPT\r\n"
    + '* LIST () "/" "\u00e9"\r\n'.encode()
    + b"A2 OK [CAPABILITY IMAP4rev1 IDLE] ok\r\n"
)


def _read_all(reader: ImapResponseReader, chunks: list[bytes]) -> list[object]:
    out = []
    for chunk in chunks:
        reader.receive_data(chunk)
        while (resp := reader.next_response()) is not NEED_DATA:
            out.append(resp)
    return out


def _reader() -> ImapResponseReader:
    reader = ImapResponseReader()
    reader.command_sent("A1")
    reader.command_sent("A2")
    return reader


def test_reader_gives_the_same_responses_for_any_chunking() -> None:
    whole = _read_all(_reader(), [STREAM])
    assert [type(r).__name__ for r in whole] == ["Untagged", "Untagged", "Untagged", "Continuation", "Tagged",
                                                 "Untagged", "Untagged", "Tagged"]
    assert whole[1].data == {"BODY[]": b"a1 OK {5}\r\n\r\n", "UID": 7}
    assert whole[2].data == {"BODY[HEADER]": b"", "BINARY[1]": b"\x00\x01\x02"}
    assert whole[4].text == "done {3}"
    bytewise = _read_all(_reader(), [STREAM[i: i + 1] for i in range(len(STREAM))])
    assert bytewise == whole
    rnd = random.Random(3501)
    for _ in range(20):
        cuts = sorted(rnd.sample(range(1, len(STREAM)), 8))
        chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
        assert _read_all(_reader(), chunks) == whole


def test_reader_tracks_capabilities_enable_and_offsets() -> None:
    reader = _reader()
    responses = _read_all(reader, [STREAM])
    assert reader.greeting is responses[0]
    assert reader.capabilities == ("IMAP4rev1", "IDLE") and reader.has_capability("idle")
    assert reader.utf8 and "UTF8=ACCEPT" in reader.enabled
    assert responses[-1].offset == len(STREAM) - len(responses[-1].raw)
    assert reader.running == ()
    reader.forget_capabilities()
    assert reader.capabilities is None


def test_utf8_before_enable_is_a_violation() -> None:
    reader = ImapResponseReader(expect_greeting=False, check_tags=False)
    reader.receive_data('* LIST () "/" "\u00e9"\r\n'.encode())
    with pytest.raises(ImapProtocolViolation) as info:
        reader.next_response()
    assert info.value.rule == "QUOTED-CHAR"


def test_rev2_only_server_allows_empty_text() -> None:
    reader = ImapResponseReader()
    reader.command_sent("A1")
    got = _read_all(reader, [b"* OK [CAPABILITY IMAP4rev2] hi\r\nA1 OK \r\n"])
    assert reader.rev2 and isinstance(got[1], Tagged)


@pytest.mark.parametrize(("first", "rule"), [
    (b"A1 OK hi\r\n", "greeting"),
    (b"+ hi\r\n", "greeting"),
    (b"* 1 EXISTS\r\n", "greeting"),
    (b"* NO hi\r\n", "greeting"),
])
def test_first_response_must_be_a_greeting(first: bytes, rule: str) -> None:
    reader = ImapResponseReader()
    reader.command_sent("A1")
    reader.receive_data(first)
    with pytest.raises(ImapProtocolViolation) as info:
        reader.next_response()
    assert info.value.rule == rule


@pytest.mark.parametrize("greeting", [b"* OK hi\r\n", b"* PREAUTH logged in as x\r\n", b"* BYE busy\r\n"])
def test_greetings(greeting: bytes) -> None:
    assert isinstance(_read_all(ImapResponseReader(), [greeting])[0], Untagged)


def test_preauth_after_the_greeting_is_a_violation() -> None:
    reader = ImapResponseReader()
    reader.receive_data(b"* OK hi\r\n* PREAUTH again\r\n")
    reader.next_response()
    with pytest.raises(ImapProtocolViolation) as info:
        reader.next_response()
    assert info.value.rule == "greeting-first"


def test_tagged_response_must_echo_a_running_tag() -> None:
    reader = ImapResponseReader(expect_greeting=False)
    reader.command_sent("A1")
    reader.receive_data(b"A1 OK first\r\nA1 OK again\r\n")
    assert isinstance(reader.next_response(), Tagged)
    with pytest.raises(ImapProtocolViolation) as info:
        reader.next_response()  # A1 completed already
    assert info.value.rule == "tag-echo" and "A1" in str(info.value)


def test_tolerated_rule_gives_malformed_and_reading_goes_on() -> None:
    reader = ImapResponseReader(expect_greeting=False, tolerate=frozenset({"resp-text-code"}))
    reader.command_sent("A1")
    got = _read_all(reader, [b"* OK [UIDNEXT x] bad\r\n* 3 EXISTS\r\nA1 OK [UIDNEXT 0] bad\r\n"])
    assert isinstance(got[0], Malformed) and got[0].tag == "*"
    assert isinstance(got[1], Untagged) and got[1].data == 3
    assert isinstance(got[2], Malformed) and got[2].tag == "A1"
    assert [v.rule for v in reader.violations] == ["resp-text-code", "resp-text-code"]
    assert reader.running == ()
    strict = ImapResponseReader(expect_greeting=False)
    strict.receive_data(b"* OK [UIDNEXT x] bad\r\n")
    with pytest.raises(ImapProtocolViolation):
        strict.next_response()


def test_tolerate_all() -> None:
    reader = ImapResponseReader(expect_greeting=False, tolerate=frozenset({"*"}))
    got = _read_all(reader, [b"* OK hi\n* 3 EXISTS\r\n"])
    assert isinstance(got[0], Malformed) and got[0].violation.rule == "CRLF"
    assert got[1].data == 3


def test_connection_closed_inside_a_response() -> None:
    reader = ImapResponseReader(expect_greeting=False)
    reader.receive_data(b"* 1 FETCH (BODY[] {10}\r\nabc")
    assert reader.next_response() is NEED_DATA
    reader.receive_data(b"")
    with pytest.raises(ImapProtocolViolation) as info:
        reader.next_response()
    assert info.value.rule == "CRLF"


def test_clean_close_between_responses() -> None:
    reader = ImapResponseReader(expect_greeting=False)
    reader.receive_data(b"* BYE bye\r\n")
    reader.receive_data(b"")
    assert isinstance(reader.next_response(), Untagged)
    assert reader.next_response() is NEED_DATA and reader.closed


def test_framer_limits() -> None:
    framer = ResponseFramer(max_literal=10)
    framer.receive_data(b"* 1 FETCH (BODY[] {11}\r\n")
    with pytest.raises(ImapProtocolViolation) as info:
        framer.next_frame()
    assert info.value.rule == "limit"
    framer = ResponseFramer(max_line=100)
    framer.receive_data(b"* OK " + b"x" * 200)
    with pytest.raises(ImapProtocolViolation):
        framer.next_frame()
