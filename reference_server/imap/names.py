"""Mailbox names between the wire and the store (RFC 3501 §5.1 and §5.1.3; RFC 9051 §5.1, Appendix A.1).

The store keeps every name as Unicode text. A session that has not enabled IMAP4rev2 speaks
modified UTF-7 on the wire, one that has speaks UTF-8 (RFC9051-A-02), so the names are converted
at the session's edge: both kinds of client then see one mailbox under one name, and LIST never
hands raw 8-bit text to a client that did not ask for it.

Names that already exist are looked up leniently (a name that is not valid modified UTF-7 is taken
as it is); names being created are checked strictly, since a mailbox made under a malformed or
non-canonical spelling could never be named consistently again (RFC3501-5.1.3-04, RFC3501-5.1-02,
RFC9051-5.1-02).
"""

from __future__ import annotations

import dataclasses
import unicodedata

from reference_server.imap.commands import (
    Append,
    CommandArgs,
    CopyArgs,
    Create,
    ListArgs,
    MailboxArg,
    Rename,
    Select,
    Status,
)
from reference_server.imap.encode import astring, decode_mutf7, encode_mutf7

__all__ = ["BadMailboxName", "new_name", "stored_args", "stored_name", "wire_name"]


class BadMailboxName(ValueError):
    """A name given to CREATE or RENAME that may not become a mailbox (its text goes to the client in
    a tagged NO, which escapes anything not ASCII)."""


def stored_name(name: str, utf8: bool) -> str:
    """The stored form of a name a client sent to look a mailbox up (or a LIST pattern)."""
    if utf8 or "&" not in name:
        return name
    try:
        return decode_mutf7(name)
    except ValueError:
        return name  # not modified UTF-7, so it can only be a name stored literally


def new_name(name: str, utf8: bool) -> str:
    """The stored form of a name CREATE or RENAME is to give a mailbox; BadMailboxName if refused."""
    if utf8:
        text = name
    else:
        if not name.isascii():
            raise BadMailboxName("8-bit mailbox names need ENABLE IMAP4rev2; send the name in modified "
                                 "UTF-7 (RFC 3501 section 5.1.3)")
        try:
            text = decode_mutf7(name)
        except ValueError as exc:
            raise BadMailboxName(f"{name} is not valid modified UTF-7 (RFC 3501 section 5.1.3): "
                                 f"{exc}") from None
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise BadMailboxName("mailbox names may not hold control characters (RFC 9051 section 5.1)")
    if unicodedata.normalize("NFC", text) != text:
        raise BadMailboxName("mailbox names must be in Unicode Normalization Form C (RFC 9051 section 5.1)")
    return text


def wire_name(name: str, utf8: bool) -> bytes:
    """A stored name as the session writes it in a response (an astring)."""
    return astring(name if utf8 else encode_mutf7(name))


def stored_args(args: CommandArgs, utf8: bool) -> CommandArgs:
    """`args` with every mailbox name in stored form; BadMailboxName for a name that may not be created."""
    if isinstance(args, Create):
        return dataclasses.replace(args, mailbox=new_name(args.mailbox, utf8))
    if isinstance(args, Rename):
        return Rename(stored_name(args.old, utf8), new_name(args.new, utf8))
    if isinstance(args, (Select, MailboxArg, Status, Append, CopyArgs)):
        return dataclasses.replace(args, mailbox=stored_name(args.mailbox, utf8))
    if isinstance(args, ListArgs):
        return dataclasses.replace(args, reference=stored_name(args.reference, utf8),
                                   patterns=tuple(stored_name(p, utf8) for p in args.patterns))
    return args
