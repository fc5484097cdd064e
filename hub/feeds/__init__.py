"""Signed, versioned feeds: keys, artifacts + manifests, builder, schedule (DESIGN §5)."""
