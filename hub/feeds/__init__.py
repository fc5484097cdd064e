"""Signed versioned feeds: keys, artifacts, manifests, build, schedule (docs/ARCHITECTURE.md §5)."""
