"""Is the database at the schema revision this code expects?

`serve`, `init --if-needed` and `/readyz` all ask the same question, so the
answer (and the one-line advice to the operator) lives here once. The
expected revision is the head of `hub/migrations`, read from the scripts
shipped with this code, not from the database.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from hub.db import alembic_config, current_revision


@functools.lru_cache(maxsize=1)
def expected_revision() -> str:
    """The single Alembic head this code was written against."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"hub/migrations has {len(heads)} heads; merge them first")
    return heads[0]


def known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(rev.revision for rev in script.walk_revisions())


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    expected: str

    @property
    def ok(self) -> bool:
        return self.current == self.expected

    @property
    def problem(self) -> str | None:
        """One line saying what is wrong and what to run; None when the schema is current."""
        if self.ok:
            return None
        if self.current is None:
            return "the database is not initialised; run `lianfang-hub init`"
        if self.current not in known_revisions():
            return (
                f"the database schema {self.current} is newer than this code "
                f"({self.expected}); upgrade lianfang-hub (or restore a matching backup)"
            )
        return (
            f"the database schema is at {self.current}, this code expects {self.expected}; "
            "run `lianfang-hub migrate`"
        )


def schema_state(url: str) -> SchemaState:
    return SchemaState(current_revision(url), expected_revision())
