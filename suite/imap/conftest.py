"""IMAP-suite fixtures that replace the POP3 ones of the same name for tests in this package.

`account`, `second_account` and `third_account` here are plain disposable accounts: the POP3
versions also purge the POP3 maildrop first, which IMAP tests neither need nor can rely on.
"""

from __future__ import annotations

import pytest

from mailspec.plugin import MailspecSession, disposable_account
from mailspec.targets import Account


@pytest.fixture
def account(mailspec_session: MailspecSession) -> Account:
    """This process's first disposable account (the one `imap()` logs in as by default)."""
    return disposable_account(mailspec_session, 0)


@pytest.fixture
def second_account(mailspec_session: MailspecSession) -> Account:
    """A second disposable account (skips when the process has only one)."""
    return disposable_account(mailspec_session, 1)


@pytest.fixture
def third_account(mailspec_session: MailspecSession) -> Account:
    """A third disposable account (skips when the process has fewer)."""
    return disposable_account(mailspec_session, 2)
