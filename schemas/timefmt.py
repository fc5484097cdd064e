"""Time on the wire: RFC 3339 UTC with a `Z` and whole seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware, truncated to whole seconds (what the wire can carry)."""
    return datetime.now(UTC).replace(microsecond=0)


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse a wire timestamp; raises ValueError for anything but `YYYY-MM-DDTHH:MM:SSZ`."""
    if not isinstance(text, str) or len(text) != 20 or not text.endswith("Z"):
        raise ValueError(f"not an RFC 3339 UTC timestamp: {text!r}")
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
