"""Section faults: mailboxes (see mailspec/section_faults/__init__.py)."""

from __future__ import annotations

from mailspec.fault_model import Fault

FAULTS: tuple[Fault, ...] = (
    Fault("imap-list-inner-percent-crosses", "imap",
          "LIST treats a \"%\" inside a pattern (not at its end) like \"*\", so \"a%c\" crosses hierarchy levels",
          caught_by=(
              "imap/3501/6.3.8/wildcard-inside-pattern",
          )),
    Fault("imap-list-children-only-on-request", "imap",
          "plain LIST (without RETURN (CHILDREN)) marks every mailbox \\HasNoChildren without looking for inferiors",
          caught_by=(
              "imap/3348/3/children-attributes-accurate",
          )),
    Fault("imap-list-return-children-leaf-unmarked", "imap",
          "with RETURN (CHILDREN), LIST marks parents \\HasChildren but gives leaves no children attribute",
          caught_by=(
              "imap/5258/4/children-return-option-reports-children",
              "imap/9051/6.3.9.2/children-and-status-return-options",
          )),
    Fault("imap-lsub-star-adds-parents", "imap",
          "LSUB also returns unsubscribed superiors of subscribed names that match, even with \"*\"",
          caught_by=(
              "imap/3501/6.3.9/lsub-lists-only-subscribed",
          )),
    Fault("imap-lsub-exact-name-unmatched", "imap",
          "LSUB with a pattern that holds no wildcard matches nothing (not even that very name)",
          caught_by=(
              "imap/3501/6.3.6/subscribe-adds-to-lsub",
              "imap/3501/6.3.6/subscription-outlives-mailbox",
          )),
    Fault("imap-unsubscribe-needs-mailbox", "imap",
          "UNSUBSCRIBE of a name whose mailbox no longer exists is refused with NO",
          caught_by=(
              "imap/3501/6.3.7/unsubscribe-name-without-mailbox",
          )),
    Fault("imap-list-hash-pattern-refused", "imap",
          "LIST answers NO when one pattern names an unknown \"#\" namespace, instead of ignoring that pattern",
          caught_by=(
              "imap/5258/3/unaccepted-pattern-ignored",
          )),
    Fault("imap-list-recursivematch-remote-accepted", "imap",
          "LIST (REMOTE RECURSIVEMATCH) is accepted: only RECURSIVEMATCH alone is refused as lacking a base option",
          caught_by=(
              "imap/5258/3.1/recursivematch-with-remote-only-bad",
          )),
    Fault("imap-list-return-subscribed-ignored", "imap",
          "LIST ... RETURN (SUBSCRIBED) marks no name \\Subscribed (only the SUBSCRIBED selection option does)",
          caught_by=(
              "imap/5258/3.2/subscribed-return-marks-subscribed",
          )),
    Fault("imap-list-no-childinfo", "imap",
          "LIST (SUBSCRIBED RECURSIVEMATCH) lists the unsubscribed parent but without its CHILDINFO extended data",
          caught_by=(
              "imap/5258/3.5/recursivematch-gives-childinfo",
          )),
    Fault("imap-list-status-after-all-lists", "imap",
          "LIST RETURN (STATUS) sends every STATUS response after the last LIST, not each after its LIST",
          caught_by=(
              "imap/5819/2/status-follows-each-list",
              "imap/5819/2/list-status-matches-status",
              "imap/9051/6.3.9.2/children-and-status-return-options",
          )),
    Fault("imap-list-inbox-attribute", "imap",
          "LIST flags INBOX with a made-up \\Inbox attribute no standard defines",
          caught_by=(
              "imap/6154/6/no-unknown-list-attributes",
          )),
    Fault("imap-list-inbox-case-sensitive", "imap",
          "LIST matches INBOX case-sensitively, so the pattern \"InBoX\" finds nothing",
          caught_by=(
              "imap/3501/5.1/inbox-any-case-lists-as-inbox",
          )),
    Fault("imap-list-deep-names-nil-delimiter", "imap",
          "LIST reports NIL as the delimiter of names two or more levels deep",
          caught_by=(
              "imap/3501/5.1.1/hierarchy-uses-one-delimiter",
          )),
    Fault("imap-namespace-rev2-no-personal", "imap",
          "after ENABLE IMAP4rev2, NAMESPACE reports no personal namespace (NIL NIL NIL)",
          caught_by=(
              "imap/9051/5.1.2/inbox-in-personal-namespace",
          )),
    Fault("imap-list-rev2-subscribed-unmarked", "imap",
          "after ENABLE IMAP4rev2, LIST (SUBSCRIBED) lists the subscribed names without marking them \\Subscribed",
          caught_by=(
              "imap/9051/6.3.9.1/subscribed-selection-in-base-protocol",
          )),
    Fault("imap-status-size-in-kib", "imap",
          "STATUS SIZE is reported in KiB rather than octets",
          caught_by=(
              "imap/9051/6.3.11/status-size-covers-messages",
          )),
    Fault("imap-status-deleted-skips-seen", "imap",
          "STATUS DELETED leaves out \\Deleted messages that are also \\Seen",
          caught_by=(
              "imap/9208/5.2/deleted-status-item",
          )),
    Fault("imap-quotaroot-names-root", "imap",
          "the QUOTAROOT response names the quota root where the mailbox name belongs",
          caught_by=(
              "imap/9208/4.1.2/getquotaroot-answers-quotaroot",
          )),
    Fault("imap-getquota-no-response", "imap",
          "GETQUOTA of an existing quota root answers OK without the QUOTA response",
          caught_by=(
              "imap/9208/4.1.1/getquota-answers-quota",
          )),
    Fault("imap-setquota-ok-without-quotaset", "imap",
          "SETQUOTA answers OK although QUOTASET is not advertised",
          caught_by=(
              "imap/9208/1/setquota-implies-quotaset",
          )),
    Fault("imap-quota-unadvertised-resource", "imap",
          "QUOTA responses also report a MAILBOX resource the server does not advertise as QUOTA=RES-MAILBOX",
          caught_by=(
              "imap/9208/5/quota-resources-advertised",
          )),
    Fault("imap-uid-expunge-star-off-by-one", "imap",
          "UID EXPUNGE takes \"*\" as one below the highest UID, so a range up to * leaves the last message",
          caught_by=(
              "imap/4315/2.1/uid-expunge-range",
          )),
    Fault("imap-list-reference-doubles-delimiter", "imap",
          "LIST puts a delimiter between reference and pattern even when the reference already ends with one",
          caught_by=(
              "imap/3501/6.3.8/reference-prefixes-pattern",
              "imap/3501/7.2.2/listed-name-works-as-reference",
          )),
    Fault("imap-list-repeated-option-bad", "imap",
          "LIST answers BAD when a selection option is given twice, e.g. (SUBSCRIBED SUBSCRIBED)",
          caught_by=(
              "imap/5258/3/repeated-option-counts-once",
          )),
    Fault("imap-quota-keywords-case-sensitive", "imap",
          "GETQUOTAROOT is recognised only in upper case: \"getquotaroot\" is an unknown command",
          caught_by=(
              "imap/9208/7/quota-keywords-any-case",
          )),
    Fault("imap-create-unknown-use-leaves-mailbox", "imap",
          "CREATE with an unsupported special use answers NO [USEATTR] but has already created the mailbox",
          caught_by=(
              "imap/6154/3/create-unknown-use-refused",
          )),
    Fault("imap-select-ampersand-name-missing", "imap",
          "SELECT and EXAMINE miss the \"&-\" escape: a mailbox whose name holds \"&\" cannot be opened",
          caught_by=(
              "imap/3501/5.1.3/ampersand-name-encoded",
          )),
)
