"""Domain logic on a Session, one module per concept (see docs/ARCHITECTURE.md)."""
