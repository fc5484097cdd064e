"""Request authentication decorators.

- `require_member` (member_signature.py): Ed25519-signed member requests.
- `require_reader_or_member` (reader_tokens.py): a reader token or a member signature.
- `require_admin` (admin_auth.py): an admin bearer token.

Each sets `flask.g` (`g.member`, `g.reader_token`, `g.admin`) and refuses with
the documented error codes.
"""

from hub.auth.admin_auth import require_admin
from hub.auth.member_signature import require_member
from hub.auth.reader_tokens import require_reader_or_member

__all__ = ["require_admin", "require_member", "require_reader_or_member"]
