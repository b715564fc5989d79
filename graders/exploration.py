"""Exploration: did the candidate look at the data before modelling, and say what they saw?

Static evidence from the code (calls such as ``df.describe()``), real figures (PNG/JPEG outputs of
notebook cells, or image files saved in the snapshot or by our run), and markdown commentary
written next to the exploration code.
"""

from __future__ import annotations

import ast
import os
import re
import stat
from pathlib import Path

from graders.artifacts import sniff_image_file
from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag
from graders.source import (
    CallSite,
    SubmissionSource,
    find_calls,
    find_imports,
    find_names,
    iter_calls,
    iter_trees,
    markdown_evidence,
    output_evidence,
    site_at,
    site_check,
    sort_sites,
    source_for,
    string_constants,
    word_count,
)

OVERVIEW_CALLS = ("info", "describe", "profile_report", "ProfileReport", "nunique")
OVERVIEW_ATTRIBUTES = ("shape", "dtypes")
DISTRIBUTION_CALLS = ("value_counts", "countplot", "hist", "histplot", "bincount", "Counter")
MISSING_CALLS = ("isnull", "isna", "notnull", "notna")
DUPLICATE_CALLS = ("duplicated", "drop_duplicates")
FEATURE_CALLS = (
    "hist", "histplot", "kdeplot", "displot", "distplot", "boxplot", "violinplot", "pairplot",
    "heatmap", "corr", "scatter", "scatterplot", "jointplot", "crosstab", "scatter_matrix",
    "regplot", "lmplot", "catplot", "stripplot", "swarmplot", "barplot",
)  # fmt: skip
OUTLIER_CALLS = (
    "quantile", "zscore", "clip", "boxplot", "IsolationForest", "LocalOutlierFactor",
    "EllipticEnvelope", "percentile",
)  # fmt: skip
OUTLIER_NAMES = ("iqr", "IQR", "Q1", "Q3", "q1", "q3", "z_scores", "zscores", "outliers")
SAVEFIG_CALLS = ("savefig", "write_image")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_IMAGE_FILES = 200
COMMENTARY_WINDOW = 3  # a markdown cell at most this many cells after exploration code
COMMENTARY_MIN_WORDS = 20
_Y_NAME = re.compile(r"^y(_(train|test|tr|te|val|valid|dev|all|full|true))?$")  # not y_pred


class ExplorationGrader:
    """Looks for an overview, target and feature distributions, missing values, duplicates,
    outliers, real figures and commentary on the findings."""

    name = "exploration"
    version = "1"

    def grade(self, context: GraderContext) -> GraderResult:
        """Judge the exploration the submission shows (never raises for candidate faults)."""
        source = source_for(context)
        target = getattr(getattr(context.assignment, "spec", None), "target", None)
        overview = find_calls(source, OVERVIEW_CALLS) + [
            s for s in find_names(source, OVERVIEW_ATTRIBUTES) if "." in s.name
        ]
        missing = find_calls(source, MISSING_CALLS) + _missingno_sites(source)
        target_sites = _target_distribution_sites(source, target)
        features = find_calls(source, FEATURE_CALLS)
        outliers = find_calls(source, OUTLIER_CALLS) + find_names(source, OUTLIER_NAMES)
        duplicates = find_calls(source, DUPLICATE_CALLS)
        figures_check, figure_count = _figures_check(context, source)
        checks = [
            site_check(
                "exploration.overview", overview, weight=1,
                found="Looked at the data's shape, types or summary statistics ({names}).",
                missing="No overview of the data (shape, dtypes, info(), describe()) was found.",
            ),
            site_check(
                "exploration.target_distribution", target_sites, weight=2,
                found=f"Examined the distribution of the target {target!r} ({{names}}).",
                missing=f"The distribution of the target {target!r} was not examined "
                "(value_counts, countplot or histogram of the target).",
            ),
            site_check(
                "exploration.missing_values", missing, weight=1,
                found="Examined missing values ({names}).",
                missing="Missing values were not examined (isnull/isna, missingno).",
            ),
            site_check(
                "exploration.duplicates", duplicates, weight=1,
                found="Checked for duplicate rows ({names}).",
                missing="Duplicate rows were not checked (duplicated, drop_duplicates).",
            ),
            site_check(
                "exploration.feature_distributions", features, weight=2,
                found="Looked at feature distributions or relationships ({names}).",
                missing="Feature distributions and relationships were not examined "
                "(histograms, box plots, pair plots, correlations).",
            ),
            figures_check,
            site_check(
                "exploration.outliers", outliers, weight=1,
                found="Looked for outliers ({names}).",
                missing="Outliers were not examined (quantiles/IQR, z-scores, box plots, clip).",
            ),
        ]  # fmt: skip
        exploration_sites = overview + missing + target_sites + features + outliers + duplicates
        checks.append(_commentary_check(source, exploration_sites))
        explored = sum(check.passed for check in checks[:-1])
        red_flags = []
        if explored <= 1:
            red_flags.append(
                RedFlag(
                    id="exploration.none",
                    severity="high",
                    sentence="Essentially no exploratory data analysis: at most one of overview, "
                    "target distribution, missing values, duplicates, feature distributions, "
                    "figures and outliers was found.",
                )
            )
        details = {
            "target": target,
            "explored_aspects": explored,
            "figures": figure_count,
            "sites": {c.id: len(c.evidence) for c in checks},
        }
        return GraderResult.from_checks(
            self.name, self.version, checks, red_flags, details,
            reason=f"{sum(c.passed for c in checks)} of {len(checks)} exploration checks passed.",
        )  # fmt: skip


def _missingno_sites(source: SubmissionSource) -> list[CallSite]:
    return [site for module, site in find_imports(source) if module.split(".")[0] == "missingno"]


def _target_distribution_sites(source: SubmissionSource, target: str | None) -> list[CallSite]:
    """Distribution calls (value_counts, countplot, hist ...) that mention the target."""
    if not target:
        return []
    aliases = _target_aliases(source, target)
    sites = []
    for unit, call, name, canonical in iter_calls(source):
        last = canonical.rsplit(".", 1)[-1]
        if last not in DISTRIBUTION_CALLS and not (
            last in ("mean", "size", "plot") and target in string_constants(call)
        ):
            continue
        if _mentions_target(call, target, aliases.get(unit.path, set())):
            sites.append(site_at(unit, call, name))
    return sort_sites(sites)


def _target_aliases(source: SubmissionSource, target: str) -> dict[str, set[str]]:
    """Per path, variables holding the target name or column (``TARGET = "y"``, ``y = df[t]``)."""
    aliases: dict[str, set[str]] = {}
    for unit, tree in iter_trees(source):
        known = aliases.setdefault(unit.path, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and _is_target_expr(node.value, target, known):
                known.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return aliases


def _is_target_expr(node: ast.AST, target: str, known: set[str]) -> bool:
    """``"target"``, ``TARGET``, ``df["target"]``, ``df[TARGET]``, ``df.target``, ``df.pop(...)``."""
    if isinstance(node, ast.Constant):
        return node.value == target
    if isinstance(node, ast.Name):
        return node.id in known
    if isinstance(node, ast.Subscript):
        return _is_target_expr(node.slice, target, known)
    if isinstance(node, ast.Attribute):
        return node.attr == target
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "pop" and node.args:
            return _is_target_expr(node.args[0], target, known)
        if node.func.attr in ("copy", "astype", "to_numpy", "map", "replace"):
            return _is_target_expr(node.func.value, target, known)
    return False


def _mentions_target(call: ast.Call, target: str, aliases: set[str]) -> bool:
    for node in ast.walk(call):
        if isinstance(node, ast.Constant) and node.value == target:
            return True
        if isinstance(node, ast.Attribute) and node.attr == target:
            return True
        if isinstance(node, ast.Name) and (node.id in aliases or _Y_NAME.match(node.id)):
            return True
    return False


def _figures_check(context: GraderContext, source: SubmissionSource) -> tuple[Check, int]:
    """Real figures: image outputs of cells, image files in the snapshot or saved by our run."""
    evidence: list[Evidence] = []
    images = [out for out in source.output_units if out.image_bytes_len > 0]
    evidence += [output_evidence(out, note="figure output") for out in images[:3]]
    files = _snapshot_images(source.root)
    evidence += [Evidence(path=rel, note="image file in the submission") for rel in files[:2]]
    saved = _artifact_figures(context)
    evidence += [
        Evidence(image=rel, note="figure saved by the candidate's code") for rel in saved[:2]
    ]
    savefig = find_calls(source, SAVEFIG_CALLS)
    count = len(images) + len(files) + len(saved)
    if count:
        reproduced = any(out.reproduced for out in images) or bool(saved)
        sentence = (
            f"Produced real figures: {len(images)} image output(s) in notebooks, "
            f"{len(files)} image file(s) in the submission, {len(saved)} saved during our run"
            + ("." if reproduced else " (outputs as submitted, not reproduced).")
        )
        return Check(id="exploration.figures", passed=True, weight=1, sentence=sentence,
                     evidence=evidence), count  # fmt: skip
    if savefig:
        check = site_check(
            "exploration.figures", savefig, weight=1,
            found="Saves figures ({names}), though no image was found in the outputs.",
            missing="",
        )  # fmt: skip
        return check, 0
    return Check(id="exploration.figures", passed=False, weight=1,
                 sentence="No figure was found (no image output, saved figure or image file)."
                 ), 0  # fmt: skip


def _snapshot_images(root: Path) -> list[str]:
    """Relative paths of valid PNG/JPEG files in the snapshot (sorted, capped)."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.lower().endswith(IMAGE_SUFFIXES) or len(found) >= MAX_IMAGE_FILES:
                continue
            full = Path(dirpath) / name
            try:
                if not stat.S_ISREG(os.lstat(full).st_mode):
                    continue
            except OSError:
                continue
            if sniff_image_file(full):
                found.append(full.relative_to(root).as_posix())
    return sorted(found)


def _artifact_figures(context: GraderContext) -> list[str]:
    """Artifact-relative paths of valid images the candidate's code saved during our run."""
    artifacts = context.artifacts
    if artifacts is None:
        return []
    found = []
    root = Path(artifacts.root).resolve()
    for figure in artifacts.figures:
        try:
            rel = Path(figure).resolve().relative_to(root).as_posix()
        except (OSError, ValueError):
            continue
        if sniff_image_file(figure):
            found.append(rel)
    return sorted(found)


def _commentary_check(source: SubmissionSource, sites: list[CallSite]) -> Check:
    """Markdown commentary within a few cells after exploration code, with enough words."""
    cells_by_path: dict[str, set[int]] = {}
    for site in sites:
        if site.cell is not None:
            cells_by_path.setdefault(site.path, set()).add(site.cell)
    commentary = []
    for unit in source.markdown_units:
        if unit.cell is None or word_count(unit.text) < COMMENTARY_MIN_WORDS:
            continue
        cells = cells_by_path.get(unit.path, set())
        if any(0 < unit.cell - cell <= COMMENTARY_WINDOW for cell in cells):
            commentary.append(unit)
    if commentary:
        return Check(
            id="exploration.commentary",
            passed=True,
            weight=2,
            sentence=f"Commented on the exploration in {len(commentary)} markdown cell(s) "
            "next to the exploration code.",
            evidence=[markdown_evidence(unit) for unit in commentary[:3]],
        )
    return Check(
        id="exploration.commentary",
        passed=False,
        weight=2,
        sentence=f"No markdown commentary (at least {COMMENTARY_MIN_WORDS} words) within "
        f"{COMMENTARY_WINDOW} cells after the exploration code.",
    )
