"""Similarity of submissions ("copy-pasted solutions"), with copydetect's winnowing fingerprints.

Every submission's Python code (``.py`` files and notebook code cells) is joined into one
document per submission, fingerprinted with copydetect (identifiers filtered, so renaming
variables does not hide a copy), with the assignment's starter code as boilerplate. Pairs whose
overlap exceeds a threshold are reported with the matching excerpts side by side. copydetect
(which imports matplotlib) is imported only when there is a pair to compare.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
from pydantic import BaseModel

if TYPE_CHECKING:  # copydetect pulls in matplotlib: imported only when comparing
    from copydetect import CodeFingerprint

NOISE_K = 25  # tokens per k-gram: shorter matches are noise
WINDOW = 4  # winnowing window (guarantees matches of NOISE_K + WINDOW - 1 tokens are found)
DEFAULT_THRESHOLD = 0.6
MAX_DOCUMENT_CHARS = 400_000
MAX_EXCERPTS = 3
EXCERPT_CHARS = 400


class SimilarityPair(BaseModel):
    """Two submissions whose code overlaps; ``score`` is the larger of the two overlap shares."""

    first: str
    second: str
    score: float
    overlap_first: float
    overlap_second: float
    excerpts: list[tuple[str, str]]  # (excerpt in first, excerpt in second), side by side
    second_is_public: bool = False


@dataclass(frozen=True)
class CodeDocument:
    """All Python code of one submission, in a deterministic order."""

    name: str
    text: str


def _notebook_code(path: Path) -> str:
    try:
        notebook = nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - a broken notebook simply contributes no code
        return ""
    cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    lines = []
    for cell in cells:
        # IPython magics and shell escapes are not Python; drop them so the lexer stays sane.
        lines.extend(ln for ln in cell.splitlines() if not ln.lstrip().startswith(("%", "!")))
    return "\n".join(lines)


def collect_code(root: Path, name: str) -> CodeDocument:
    """Join every ``.py`` file and notebook code cell under ``root`` (sorted by path)."""
    parts: list[str] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        if path.suffix == ".py":
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
        elif path.suffix == ".ipynb":
            parts.append(_notebook_code(path))
    text = "\n".join(parts)[:MAX_DOCUMENT_CHARS]
    return CodeDocument(name=name, text=text)


def _fingerprint(doc: CodeDocument, boilerplate: list[int]) -> CodeFingerprint:
    from copydetect import CodeFingerprint  # slow (matplotlib): only when comparing

    return CodeFingerprint(
        f"{doc.name}.py",
        NOISE_K,
        WINDOW,
        boilerplate=boilerplate,
        filter=True,
        language="python",
        fp=io.StringIO(doc.text),
    )


def _excerpts(fp1: CodeFingerprint, fp2: CodeFingerprint, slices) -> list[tuple[str, str]]:
    first, second = slices
    pairs = []
    for i in range(min(MAX_EXCERPTS, first.shape[1], second.shape[1])):
        a = fp1.raw_code[first[0, i] : first[1, i]][:EXCERPT_CHARS]
        b = fp2.raw_code[second[0, i] : second[1, i]][:EXCERPT_CHARS]
        pairs.append((a, b))
    return pairs


def starter_boilerplate(starter_roots: Iterable[Path]) -> list[int]:
    """Fingerprint hashes of the assignment's starter code, ignored when comparing."""
    hashes: list[int] = []
    for root in starter_roots:
        doc = collect_code(root, "starter") if root.is_dir() else CodeDocument(
            "starter", root.read_text(encoding="utf-8", errors="replace")
        )
        if doc.text.strip():
            hashes.extend(int(h) for h in _fingerprint(doc, []).hashes)
    return sorted(set(hashes))


def compare_documents(
    documents: Sequence[CodeDocument],
    public: Sequence[CodeDocument] = (),
    boilerplate: Sequence[int] = (),
    threshold: float = DEFAULT_THRESHOLD,
    earlier: Sequence[CodeDocument] = (),
) -> list[SimilarityPair]:
    """Pairwise comparison of ``documents``, and of each against the ``public`` solutions and
    the ``earlier`` submissions (graded before; not compared with each other again)."""
    if not _anything_to_compare(documents, [*public, *earlier]):
        return []
    from copydetect import compare_files  # slow (matplotlib): only when comparing

    plate = list(boilerplate)
    prints = {d.name: _fingerprint(d, plate) for d in documents if d.text.strip()}
    public_prints = {d.name: _fingerprint(d, plate) for d in public if d.text.strip()}
    earlier_prints = {d.name: _fingerprint(d, plate) for d in earlier
                      if d.text.strip() and d.name not in prints}
    names = sorted(prints)
    candidates: list[tuple[str, str, bool]] = [
        (a, b, False) for i, a in enumerate(names) for b in names[i + 1 :]
    ]
    candidates += [(a, p, True) for a in names for p in sorted(public_prints)]
    candidates += [(a, e, False) for a in names for e in sorted(earlier_prints)]
    pairs: list[SimilarityPair] = []
    for first, second, is_public in candidates:
        fp1 = prints[first]
        fp2 = (public_prints[second] if is_public
               else prints.get(second) or earlier_prints[second])
        if len(fp1.hashes) == 0 or len(fp2.hashes) == 0:
            continue
        _, (sim1, sim2), slices = compare_files(fp1, fp2)
        score = float(max(sim1, sim2))
        if score >= threshold:
            pairs.append(
                SimilarityPair(
                    first=first,
                    second=second,
                    score=round(score, 4),
                    overlap_first=round(float(sim1), 4),
                    overlap_second=round(float(sim2), 4),
                    excerpts=_excerpts(fp1, fp2, slices),
                    second_is_public=is_public,
                )
            )
    pairs.sort(key=lambda p: (-p.score, p.first, p.second))
    return pairs


def _anything_to_compare(documents: Sequence[CodeDocument],
                         public: Sequence[CodeDocument]) -> bool:
    """At least one pair: two submissions with code, or one and a public solution."""
    with_code = sum(1 for d in documents if d.text.strip())
    return with_code >= 2 or (with_code >= 1 and any(d.text.strip() for d in public))


def find_similar(
    submissions: dict[str, Path],
    public_dir: Path | None = None,
    starter: Sequence[Path] = (),
    threshold: float = DEFAULT_THRESHOLD,
    earlier: dict[str, Path] | None = None,
) -> list[SimilarityPair]:
    """Compare snapshot folders (name -> root) pairwise and against known public solutions.

    ``earlier``: snapshot folders of submissions graded before (name -> root); each of
    ``submissions`` is compared with them too, they are not compared with each other.
    """
    documents = [collect_code(root, name) for name, root in sorted(submissions.items())]
    before = [collect_code(root, name) for name, root in sorted((earlier or {}).items())]
    public: list[CodeDocument] = []
    if public_dir is not None and public_dir.is_dir():
        for entry in sorted(public_dir.iterdir()):
            if entry.is_dir():
                public.append(collect_code(entry, f"public:{entry.name}"))
            elif entry.suffix in {".py", ".ipynb"}:
                text = _notebook_code(entry) if entry.suffix == ".ipynb" else entry.read_text(
                    encoding="utf-8", errors="replace"
                )
                public.append(CodeDocument(f"public:{entry.name}", text))
    if not _anything_to_compare(documents, [*public, *before]):  # copydetect is not imported
        return []
    return compare_documents(documents, public, starter_boilerplate(starter), threshold, before)


def pairs_to_json(pairs: Sequence[SimilarityPair]) -> str:
    """Serialise pairs deterministically."""
    return json.dumps([p.model_dump() for p in pairs], sort_keys=True, indent=2)
