"""Display names for the protocol's codes, in the console's language.

One table for every closed vocabulary the console shows (categories, member
kinds and states, tiers, dispute and report states, feeds, indicator kinds,
member actions, audit-log actions). Templates call `label(code, "category")`
(also a filter: `code|label("category")`); an unknown code shows as itself, so
a new enum value is visible, not hidden. The codes stay in forms, URLs and
`data-*` attributes: only what a person reads is translated.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

LABELS: dict[str, dict[str, LazyString]] = {
    "category": {
        "fraud": _l("Fraud"),
        "harassment": _l("Harassment"),
        "spoofing": _l("Spoofed number"),
        "robocall": _l("Robocall"),
        "debt_collection_abuse": _l("Debt collection abuse"),
        "malicious_complaint": _l("Malicious complaint"),
        "legit": _l("Legitimate"),
    },
    "member_kind": {
        "bank": _l("Bank"),
        "lender": _l("Lender"),
        "insurer": _l("Insurer"),
        "payment": _l("Payment institution"),
        "telecom": _l("Telecom operator"),
        "other": _l("Other institution"),
    },
    "member_state": {
        "pending": _l("Pending approval"),
        "approved": _l("Approved"),
        "rejected": _l("Rejected"),
        "suspended": _l("Suspended"),
        "revoked": _l("Revoked"),
    },
    "tier": {
        "block": _l("Block"),
        "warn": _l("Warn"),
        "allow": _l("Allowlisted"),
        "none": _l("Not listed"),
    },
    "dispute_state": {
        "open": _l("Open"),
        "pending": _l("Pending evidence review"),
        "upheld": _l("Upheld"),
        "delisted": _l("Delisted"),
        "all": _l("All"),
    },
    "number_state": {
        "pending": _l("Awaiting verification"),
        "verified": _l("Verified"),
        "rejected": _l("Rejected"),
        "revoked": _l("Revoked"),
        "withdrawn": _l("Withdrawn by the member"),
    },
    "dispute_opener": {
        "member": _l("A member institution"),
        "admin": _l("An administrator"),
    },
    "report_state": {
        "active": _l("Active"),
        "overturned": _l("Overturned"),
        "retracted": _l("Retracted"),
    },
    "feed": {
        "phone-block": _l("Phone block list"),
        "phone-warn": _l("Phone warn list"),
        "phone-allow": _l("Phone allowlist"),
        "complaint-groups": _l("Complaint groups"),
    },
    "indicator_kind": {
        "phone": _l("Phone number"),
        "id_number": _l("ID number"),
        "email": _l("Email"),
        "bank_account": _l("Bank account"),
        "device": _l("Device"),
        "complaint_text": _l("Complaint text"),
        "group_tag": _l("Group tag"),
    },
    "group_action": {
        "review": _l("Review"),
        "block": _l("Block"),
        "warn": _l("Warn"),
    },
    "member_action": {
        "approve": _l("Approve"),
        "reject": _l("Reject"),
        "suspend": _l("Suspend"),
        "reinstate": _l("Reinstate"),
        "revoke": _l("Revoke"),
    },
    # Fields of the console's forms, as named in a "please check the form" page.
    "form_field": {
        "reason": _l("Reason"),
        "raw_number": _l("Phone number"),
        "region": _l("Region"),
        "note": _l("Note"),
        "confirm": _l("Confirmation"),
        "resolution": _l("Decision"),
        "kind": _l("Indicator kind"),
        "value": _l("Indicator"),
        "form": _l("Form"),
    },
    # The schemas' most common field problems; anything else is shown as the schema says.
    "form_problem": {
        "Missing data for required field.": _l("Required."),
        "required": _l("Required."),
        "Field may not be null.": _l("Required."),
        "must not be blank": _l("Must not be blank."),
        "must not contain control characters": _l("Must not contain control characters."),
        "Must be one of: uphold, delist.": _l("Choose uphold or delist."),
        "Not a valid string.": _l("Not valid text."),
        "Unknown field.": _l("Unknown field."),
    },
    "audit_action": {
        "admin.create": _l("Administrator created"),
        "admin.login": _l("Administrator signed in"),
        "admin.locked": _l("Administrator locked out"),
        "member.apply": _l("Membership applied for"),
        "member.approve": _l("Member approved"),
        "member.reject": _l("Application rejected"),
        "member.suspend": _l("Member suspended"),
        "member.reinstate": _l("Member reinstated"),
        "member.revoke": _l("Member revoked"),
        "dispute.open": _l("Dispute opened"),
        "dispute.upheld": _l("Dispute resolved: listing upheld"),
        "dispute.delisted": _l("Dispute resolved: delisted"),
        "allowlist.add": _l("Added to allowlist"),
        "allowlist.remove": _l("Removed from allowlist"),
        "number.register": _l("Number registered by a member"),
        "number.verify": _l("Number verified"),
        "number.reject": _l("Number registration rejected"),
        "number.revoke": _l("Number verification revoked"),
        "number.withdraw": _l("Number withdrawn by the member"),
        "reader_token.mint": _l("Reader token minted"),
        "reader_token.revoke": _l("Reader token revoked"),
        "consortium_key.issued": _l("Consortium key issued"),
        "consortium_key.rotate": _l("Consortium key rotated"),
        "consortium_key.retire": _l("Consortium key retired"),
        "feeds.build": _l("Feeds built"),
        "retention.purge": _l("Retention purge"),
    },
}


def label(code: object, vocabulary: str) -> str:
    """The display name of `code` in `vocabulary`, or the code itself when unknown."""
    text = "" if code is None else str(code)
    name = LABELS[vocabulary].get(text)
    return str(name) if name is not None else text


def labels(codes: Iterable[object], vocabulary: str) -> str:
    """Several codes as one line (a listing's categories), with the language's separator."""
    return str(_l(", ")).join(label(c, vocabulary) for c in codes)
