"""Safe intake: a submission (folder, archive, notebook, git repository or bundle) becomes a
normalised, read-only snapshot folder with a content hash and the submitted git history.

See docs/intake.md for the formats, the caps and every rejection reason.
"""

from harness.intake.models import GitCommit, IntakeCaps, Snapshot, SnapshotKind
from harness.intake.snapshot import content_hash, ingest, remove_snapshot

__all__ = [
    "GitCommit",
    "IntakeCaps",
    "Snapshot",
    "SnapshotKind",
    "content_hash",
    "ingest",
    "remove_snapshot",
]
