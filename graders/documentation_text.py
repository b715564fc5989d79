"""Reading a submission's written material for the documentation grader.

The material (documents, notebook markdown cells, module docstrings) is cut into
:class:`Section` objects, a heading and the lines under it up to the next heading. Each section
is read once (:func:`read_section`) into :class:`SectionFacts`: its sentences, commands, metric
values and template leftovers, the question its heading and body answer (:func:`classify`), and
whether it reads as the assignment's prompt. The vocabularies below are the patterns the reading
uses; they are matched, not understood.
"""

from __future__ import annotations

import ast
import bisect
import functools
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from graders.artifacts import read_text_capped
from graders.base import Evidence, clip
from graders.source import SubmissionSource, word_count

README_NAMES = ("readme.md", "readme.rst", "readme.txt", "readme")  # by preference
MAX_DOC_CHARS = 200_000  # per document; the rest is not read
MAX_SECTIONS = 4_000
MAX_ORIGIN_CHARS = 400_000  # documents, notebook markdown, docstrings: each reads at most this
BOLD_LEVEL = 7  # bold-only lines rank below every real heading level

# Files that are not the candidate's account of the work (licences, changelogs, templates,
# instructions written for coding assistants).
_NOT_WRITEUP = re.compile(
    r"(^|/)(changelog|changes|history|license|licence|copying|contributing|code_of_conduct|"
    r"security|authors|notice|pull_request_template|issue_template)[^/]*$"
    r"|(^|/)(agents|claude|gemini|copilot-instructions)\.md$",
    re.IGNORECASE,
)
TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test|conftest)\.py$")

# --------------------------------------------------------------------------- vocabularies

# Heading text -> class, first match wins: run words before "pipeline" (approach), explicit
# limitations before next steps, results before choices before approach.
HEADING_CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "how_to_run",
        re.compile(
            r"\b(how to (?:run|use|reproduce|install|start|test)|running|run|usage|"
            r"getting started|set ?up|installation|install\w*|quick ?start|reproduc\w*|"
            r"instructions|execut\w*|prerequisites|requirements|environment|commands?)\b"
        ),
    ),
    (
        "limitations",
        re.compile(
            r"\b(limitations?|caveats?|known (?:issues|limitations)|shortcomings?|weakness(?:es)?|"
            r"drawbacks?|assumptions?|trade-?offs?|failure modes?|deviations?|"
            r"known gaps|open issues|what'?s missing|not (?:yet )?(?:done|implemented|covered))\b"
        ),
    ),
    (
        "next_steps",
        re.compile(
            r"\b(next steps?|future|improvements?|enhancements?|further work|ideas for|"
            r"with more time|what i would|what didn'?t work|lessons|to ?do|roadmap|outlook|"
            r"considerations?)\b"  # "Deployment considerations": what the work still needs
        ),
    ),
    (
        "results",
        re.compile(
            r"\b(results?|evaluation|performance|metrics?|scores?|outcomes?|benchmarks?|"
            r"conclusions?|comparison|findings)\b"
        ),
    ),
    (
        "choices",
        re.compile(
            r"\b(why|rationale|reasoning|justification|decisions?|choices?|chose|choosing|"
            r"selection|motivation)\b"
        ),
    ),
    (
        "approach",
        re.compile(
            r"\b(approach|method\w*|solution|model\w*|pipeline|architecture|design|feature\w*|"
            r"pre-?processing|processing|cleaning|engineering|training|steps|workflow|process|"
            r"how it works|strategy|analysis|eda|exploration|implementation|algorithms?)\b"
        ),
    ),
    (
        # General-knowledge questions the assignment asks ("Part 1: questions", "What is
        # LASSO?"): their answers are not the candidate's own work (see :func:`about_own_work`).
        "qa",
        re.compile(
            r"\b(questions?|q ?& ?a|faq|quiz|theory|theoretical|conceptual|general knowledge)\b"
            r"|^\W*(?:q\d+\b|what (?:is|are|does|do)\b|define\b|explain\b|difference between\b)"
        ),
    ),
)
# Classes a sub-heading without a class of its own takes from the heading it sits under
# ("## How to run" / "### With Docker"); "approach" and "results" are too broad to pass down.
INHERITED_CLASSES = ("how_to_run", "limitations", "next_steps", "choices", "qa")

_COMMAND = re.compile(
    r"^(?:\$\s*|>\s*)?(?:pip3?\s+install|python3?\s+(?:-m\s+[\w.]+|-c\b|[\w./-]+\.py\b)|"
    r"py\s+[\w./-]+\.py|"
    r"conda\s+(?:env|create|activate|install)|make(?:\s+[\w-]+)?\s*$|make\s+[\w-]+|"
    r"docker(?:-compose|\s+compose)?\s+\w+|jupyter\s+(?:notebook|lab|nbconvert|execute)|"
    r"poetry\s+(?:install|run|shell)|uv\s+(?:sync|run|pip)|pipenv\s+\w+|bash\s+\S+|sh\s+\S+|"
    r"\./[\w./-]+|streamlit\s+run|uvicorn\s+\S+|mlflow\s+\w+|pytest\b|git\s+clone|"
    r"source\s+\S*activate\b|source\s+\S+\.sh\b|rscript\s+\S+|source\(\s*[\"'][^\"']+[\"']|"
    r"r\s+(?:cmd\s+batch|-e|-f)\s+\S+|dvc\s+\w+|papermill\s+\S+|kedro\s+run|airflow\s+\w+|"
    r"npm\s+\w+|cd\s+\S+|virtualenv\s+\S+|python3?\s+-m\s+venv)",
    re.IGNORECASE,
)
_SHELL_FENCE = re.compile(
    r"^\s*(```|~~~)\s*(bash|sh|shell|console|zsh|powershell|cmd|bat)\b", re.IGNORECASE
)
RUN_PROSE = re.compile(
    r"\b(run(?:s|ning)?|open(?:s|ing)?|execut(?:e|es|ing)|launch(?:es|ing)?|install(?:s|ing)?|"
    r"start(?:s|ing)?|clon(?:e|ing))\b.*\b(notebook|cells?|script|commands?|"
    r"requirements|file|app|repository|repo|pipeline|environment|main)\b",
    re.IGNORECASE,
)

# A run instruction naming the file to run, wherever it is written ("Run all cells of
# model.ipynb", "Execute main.py to train").
RUN_FILE = re.compile(
    r"\b(run|execute|open|launch|start)\b[^.;]{0,60}?[\w/-]+\.(?:ipynb|py|r|rmd|sh)\b",
    re.IGNORECASE,
)

_METRIC = re.compile(
    r"\b(accuracy|acc|auc|roc[- _]?auc|pr[- _]?auc|auprc|auroc|average precision|precision|"
    r"recall|f1(?:[- _]score)?|f-?score|f2|f-?beta|rmse|mse|mae|mape|smape|r2|r²|r\^2|"
    r"r-squared|log[- ]?loss|brier|gini|kappa|qwk|mcc|specificity|sensitivity|"
    r"ndcg|map@\d+|c-index|concordance)\b",
    re.IGNORECASE,
)
NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d+)?\s?%|\d{1,4}\.\d+|\.\d+)(?!\w|\.\d)")
_REQUIREMENT = re.compile(
    r"(?:[<>≥≤]=?|=>|at least|at most|minimum|maximum|min\.?|max\.?|target(?: of)?|"
    r"threshold(?: of)?|above|below|over|under|must be|should be)\s*\**\s*$",
    re.IGNORECASE,
)
_FENCED_RESULT = re.compile(
    r"\b(accuracy|auc|precision|recall|f1|rmse|mae|mse|r2|score|loss)\b\s*[:=]\s*[\d.]+",
    re.IGNORECASE,
)

_DECISION = re.compile(
    r"\b(cho(?:se|sen|ose|osing)|select(?:ed|ing)?|decid(?:ed|e)|opted|prefer(?:red)?|picked|"
    r"went with|us(?:e|ed|es|ing)|appl(?:y|ied|ies|ying)|drop(?:ped|s)?|kept|keep|remov(?:e|ed)|"
    r"treat(?:ed)?|instead of|rather than|trade-?offs?|impute[ds]?|encode[ds]?|scale[ds]?|"
    r"tun(?:e|ed|ing)|weight(?:ed|s|ing)?|stratif\w+|resampl\w+|threshold|metric|model|"
    r"approach|design|retain(?:ed)?|exclud(?:e|ed)|includ(?:e|ed)|replac(?:e|ed)|convert(?:ed)?)\b",
    re.IGNORECASE,
)
REASON = re.compile(
    r"\b(because|since (?!\d)|as (?:it|they|this|these|the data|the classes|the target)\b|"
    r"due to|so that|in order to|to (?:avoid|prevent|handle|reduce|account for|mitigate|"
    r"ensure|address|capture|keep|limit|balance|deal with|counter)|which (?:helps|allows|means|"
    r"makes|gives|avoids|keeps|reduces)|given that|the reason|rationale|justif\w*|"
    r"chose|chosen|opted|decided|preferred|rather than|instead of|trade-?offs?|therefore|"
    r"thus|hence|this (?:means|ensures|avoids|prevents)|motivated by|works well (?:for|with|"
    r"when)|suited (?:to|for)|robust to|(?:chosen|selected|picked|kept|preferred) (?:by|as|for|"
    r"over)|(?:final|chosen|selected) model\b.*\b(?:best|simplest|highest|lowest|most))\b",
    re.IGNORECASE,
)
LIMITATION = re.compile(
    r"\b(limitations?|caveats?|shortcomings?|drawbacks?|weakness(?:es)?|downsides?|"
    r"not a claim|not (?:yet )?(?:been )?(?:explored|tuned|implemented|addressed|validated|"
    r"finished|completed|handled|evaluated|tested|considered)|(?:did|could) not (?:explore|"
    r"tune|test|finish|complete|address|handle|evaluate|validate|try|account for)|"
    r"didn'?t (?:have time|explore|tune|try|finish|get to|account for)|"
    r"(?:does|may|might|will) not generali[sz]e|out of scope|"
    r"(?:is|are) (?:only|not) (?:a proxy|an approximation|reliable|representative)|"
    r"(?:small|limited) (?:sample|data ?set|amount of data)|missed opportunit(?:y|ies)|"
    r"time constraints?|(?:limited|lack of|not enough|insufficient) (?:time|data)|"
    r"(?:i|we) should have|(?:risk|possibility) of (?:overfitting|leakage|bias)|"
    # A weakness of the results stated plainly: "the F1 scores are at best average".
    r"at best (?:average|mediocre|modest|moderate|fair)|(?:only|rather) (?:average|mediocre|modest)"
    r"|performs? (?:worse|poorly|badly)|struggl(?:es|ed) (?:with|to|on))\b"
    # An explicit shortcoming bullet: "No cross-validation", "Without hyperparameter tuning".
    r"|^(?:[A-Za-z][\w /&()'-]{0,40}:\s+)?(?:no|without)\s+(?:proper\s+|formal\s+|real\s+|"
    r"systematic\s+|extensive\s+|further\s+|any\s+)?(?:cross[- ]validation|k-?fold|"
    r"(?:hyper-?)?parameter (?:tuning|search|optimi[sz]ation)|(?:model |threshold )?tuning|"
    r"feature selection|baseline|error analysis|calibration|(?:unit )?tests?\b|testing|"
    r"validation (?:set|split)|hold-?out|ensembl\w*|threshold (?:selection|optimi[sz]ation)|"
    r"grid search|monitoring|explainability|interpretab\w+)",
    re.IGNORECASE,
)
NEXT_STEP = re.compile(
    r"\b(future work|next steps?|with more time|given more time|more time|could be improved|"
    r"can be improved|room for improvement|further (?:work|tuning|improvement|investigation|"
    r"research|experiments?)|(?:i|we) would (?:like to|try|explore|add|also|consider|"
    r"investigate|improve|test)|would be (?:worth|interesting|useful|to)|could (?:also )?(?:try|"
    r"explore|be extended|add|investigate|be improved)|potential improvements?|"
    r"improvements? (?:could|would|include))\b",
    re.IGNORECASE,
)

# Names of a model or a model family: a sentence naming one says what was modelled.
MODEL_NAME = re.compile(
    r"\b(models?|classifiers?|regressors?|algorithms?|estimators?|logistic|linear regression|"
    r"ridge|lasso|random forests?|forests?|decision trees?|trees?|gradient boost\w*|boost\w*|"
    r"xgb\w*|lgbm|lightgbm|catboost|svm|svc|svr|knn|neighbou?rs?|naive bayes|mlp|neural|"
    r"network|arima|sarimax?|prophet|lstm|baseline)\b",
    re.IGNORECASE,
)

ML_NOUN = re.compile(
    r"\b(models?|features?|data(?:set|frame)?s?|columns?|variables?|pipelines?|classifiers?|"
    r"regressors?|split|train\w*|validation|test set|targets?|class(?:es)?|encod\w+|imput\w+|"
    r"scal\w+|thresholds?|hyper-?parameters?|cross[- ]validation|baselines?|xgboost|lightgbm|"
    r"catboost|forests?|regression|boosting|trees?|smote|outliers?|missing|values?|labels?|"
    r"predictions?|metrics?|samples?|records?|rows?|api|script|notebook)\b",
    re.IGNORECASE,
)
# Participles that describe the data rather than an action on it ("the classes are highly
# imbalanced", "X is correlated with Y"): an observation, not an account of what was done,
# unless an agent or instrument follows ("were balanced with class weights", "were clustered
# using k-means").
_DATA_STATE = (
    r"(?:(?:un|im|well[- ]?|over|under)balanced|balanced(?!\s+with\b)|skewed|"
    r"(?:un|inter|cross[- ]?)?correlated|distributed|related|associated|concentrated|clustered|"
    r"dominated|(?:un|sparsely |densely )?populated|scattered|cent(?:er|re)d|predetermined|"
    r"biased|saturated|inflated|(?:over|under)[- ]?represented|expected|unexpected|surprised|"
    r"interested|linked|tied|affected)\b(?!\s+(?:using|by|via|through)\b)"
)
# What an author saw or thought rather than did ("I expected larger amounts", "we noticed
# that..."): a finding about the data.
_SAW = (
    r"(?:expected|noticed|observed|discovered|wondered|assumed|suspected|believed|hoped|"
    r"reali[sz]ed|learned|learnt|guessed|imagined|figured)\b"
)
ACTION = re.compile(
    r"\b(?:i|we)\s+(?:then\s+|also\s+|first\s+|finally\s+|next\s+)?(?!" + _SAW + r")"
    r"(?:\w+ed|built|made|used|"
    r"ran|chose|took|split|fit|wrote|kept|set|tried|found|began|did|use|train|apply|drop|"
    r"create|engineer|perform|compare|select|tune|evaluate|remove|convert|encode|impute|scale|"
    r"implement|build|handle|treat|focus|fit|combine|start)\b"
    r"|\b(?:is|are|was|were|has been|have been|gets|got)\s+(?:then\s+|also\s+|first\s+|"
    r"finally\s+|\w+ly\s+)?(?!" + _DATA_STATE + r")(?:\w+ed|built|split|fit|made|chosen|done|"
    r"run|set|kept|taken|written|drawn|given)\b"
    r"|\bthe (?:pipeline|script|notebook|model|code|project|solution|system|service|api|"
    r"module|function|class|approach|workflow)\s+(?:\w+\s+)?(?:\w+s)\b"
    r"|^(?:training|fitting|encoding|scaling|imputing|dropping|removing|tuning|splitting|"
    r"building|creating|engineering|selecting|evaluating|applying|using|handling|cleaning|"
    r"merging|comparing|resampling|oversampling|undersampling)\b",
    re.IGNORECASE,
)

# A subject-less past-tense report, the commonest README style ("Built a logistic regression
# pipeline", "Problem framing: Defined churn as ..."): after an optional "Label:", a
# sentence-initial past-tense verb. Words ending in -ed that usually open a noun phrase
# ("Based on", "Weighted F1", "Supervised learning") are not such verbs.
_PAST_START = re.compile(
    r"^(?:[A-Za-z0-9][\w /&()'-]{0,40}:\s+)?(?:then\s+|also\s+|first\s+|finally\s+|next\s+)?"
    r"(?!(?:based|given|expected|required|needed|related|limited|detailed|advanced|balanced|"
    r"weighted|supervised|unsupervised|labell?ed|mixed|red|bed|seed|speed|feed|need|embed|"
    r"hundred|shed|surprised|interested|excited|amazed|shocked|pleased|disappointed|worried|"
    r"concerned|confused|convinced|intrigued|skewed|unbalanced|imbalanced|correlated)\b)"
    r"(?:[a-z]{2,}ed|built|made|used|ran|chose|took|split|fit|wrote|kept|set up|tried|found|"
    r"did|drew|gave|ran|spent|led|began|held)\b",
    re.IGNORECASE,
)
# A sentence about the candidate's own work, not a general-knowledge answer: first person,
# past tense, or "this notebook/model...".
_OWN_WORK = re.compile(
    r"\b(i|we|my|our|me|us)\b|\b(was|were|did|had)\b|"
    r"\b(?:this|the final) (?:notebook|project|submission|solution|analysis|model|work|"
    r"pipeline|repo\w*)\b",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=16_384)
def describes_action(sentence: str) -> bool:
    """A sentence that reports something done: "I/we + verb", a passive, "the pipeline
    encodes...", a gerund step, or a subject-less past-tense bullet ("Built a pipeline")."""
    return bool(ACTION.search(sentence) or _PAST_START.match(sentence))


@functools.lru_cache(maxsize=16_384)
def about_own_work(sentence: str) -> bool:
    """The sentence speaks of the candidate's own work (used to tell an answer to a
    general-knowledge question, such as a definition of LASSO, from an account of the work)."""
    return bool(_OWN_WORK.search(sentence) or _PAST_START.match(sentence))


# Prompt / template text. Meta verbs ask for an explanation ("Justify ...", "Describe ..."):
# a sentence starting with one is an instruction. Action verbs ("Train ...", "Split ...") also
# start candidates' own step lists, so they only count inside a passage that reads as a prompt.
_META_VERBS = (
    "justify|explain|describe|discuss|document|provide|include|submit|answer|"
    "outline|summari[sz]e|demonstrate|communicate|make sure|ensure|consider|propose|suggest|"
    "recommend|identify|assess|interpret|comment on|think about"
)
_ACTION_VERBS = (
    "build|create|develop|design|implement|train|evaluate|analy[sz]e|explore|investigate|"
    "predict|compare|prepare|perform|handle|select|choose|write|deliver|determine|calculate|"
    "visuali[sz]e|use|apply|clean|engineer|deploy|package|containeri[sz]e|expose|refactor|fix|"
    "test|add|define|split|tune"
)
_LEAD = (
    r"^(?:please\s+|\d+[.)]\s*|[-*•]\s*|(?:step|task|question|part)\s*\d*\s*[:.)-]\s*|"
    r"[A-Za-z][\w ]{0,24}:\s*)?"
)
_META_IMPERATIVE = re.compile(rf"{_LEAD}(?:{_META_VERBS})\b", re.IGNORECASE)
IMPERATIVE = re.compile(rf"{_LEAD}(?:{_META_VERBS}|{_ACTION_VERBS})\b", re.IGNORECASE)
_SECOND_PERSON = re.compile(
    r"\b(you (?:should|must|will|are (?:expected|required|asked|free|encouraged)|need|may|can|"
    r"have to|would)|your (?:task|goal|job|solution|submission|model|code|analysis|answer|"
    r"notebook|approach|work)|the candidate|candidates? (?:should|must|will)|deliverables?|"
    r"submission (?:should|must|will)|you'll|we (?:expect|ask|would like) you)\b",
    re.IGNORECASE,
)
_YOU = re.compile(r"\b(you|your)\b", re.IGNORECASE)
_STRONG_PROMPT = re.compile(
    r"\b(your task is|you are (?:expected|required|asked) to|you will be (?:given|asked|"
    r"provided|evaluated)|the candidate|deliverables?:|time limit|please submit|"
    r"we will evaluate|evaluation criteria|you have \d+ (?:hours|days))\b",
    re.IGNORECASE,
)
_PLANNING = re.compile(
    r"\b(?:i|we)(?:'ll| will| shall| plan to| intend to| am going to| are going to| need to)\b"
    r"|\bwill be (?:used|done|performed|applied|built|trained|evaluated|created)\b"
    r"|\b(?:to ?do|plan)\s*:",
    re.IGNORECASE,
)
_PLACEHOLDER_BODY = re.compile(
    r"^\W*(coming soon|tbd|tba|todo|to ?do|wip|work in progress|to be (?:added|done|"
    r"completed|written|determined)|n/?a|pending|placeholder|\.\.\.|…|lorem ipsum.*)\W*$",
    re.IGNORECASE,
)
_TEMPLATE_LEFTOVER = re.compile(
    r"\b(save the file|click file\s*>|copy (?:and paste )?(?:the|this) (?:content|text|code) "
    r"(?:below|above)|here(?:'s| is) (?:an? |the |your )?(?:updated|complete|improved|revised|"
    r"full) (?:readme|version|documentation)|i hope this helps|replace (?:this|the) "
    r"(?:text|placeholder)|lorem ipsum)\b"
    r"|\[(?=[^\]]{0,60}\b(?:your|here|insert|todo|tbd|placeholder)\b)[^\]]{1,60}\](?!\()"
    r"|<(?:your|insert) [^>]{1,40}>|\{\{\s*[\w.]+\s*\}\}",
    re.IGNORECASE,
)

_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^\s*([=\-~^*+#`'\"])\1{2,}\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)([^*_]{2,80})(?:\*\*|__)\s*:?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"`([^`]+)`")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")


# --------------------------------------------------------------------------- headings


@dataclass(frozen=True)
class Heading:
    """A markdown/rst heading: its text, 1-based line and level (1 = top).

    ``level`` is 1-6 for ATX headings, 1 for ``===`` and 2 for ``---`` underlines (other
    reStructuredText underline characters get 3, 4, ... in order of first use) and
    :data:`BOLD_LEVEL` for bold-only lines. ``underlined`` marks a setext/rst heading, whose
    next line is its underline.
    """

    text: str
    line: int
    level: int = 1
    underlined: bool = False


def headings(text: str) -> list[Heading]:
    """ATX (``# x``), setext / reStructuredText underlined and bold-only-line headings."""
    found: list[Heading] = []
    lines = text.splitlines()
    in_fence = False
    underline_levels = {"=": 1, "-": 2}
    underline_at = -1  # the line under a setext/rst heading (a ``~~~`` one is not a fence)
    for index, line in enumerate(lines):
        if index == underline_at:
            continue
        if line.strip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        atx = _ATX.match(line)
        if atx:
            found.append(Heading(atx.group(2).strip(), index + 1, len(atx.group(1))))
            continue
        bold = _BOLD_LINE.match(line)
        if bold:
            found.append(Heading(bold.group(1).strip(), index + 1, BOLD_LEVEL))
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        title = line.strip()
        underlined = _UNDERLINE.match(following) and len(following.strip()) >= min(len(title), 3)
        if title and underlined and not _UNDERLINE.match(line) and not _TABLE_ROW.match(line):
            char = following.strip()[0]
            level = underline_levels.setdefault(char, len(underline_levels) + 1)
            found.append(Heading(title, index + 1, level, underlined=True))
            underline_at = index + 1
    return found


def heading_class(text: str) -> str | None:
    """The question a heading's words point to (see :data:`HEADING_CLASSES`), or None."""
    lowered = text.lower()
    for name, pattern in HEADING_CLASSES:
        if pattern.search(lowered):
            return name
    return None


def find_readme(root: Path) -> tuple[str, str] | None:
    """``(relative path, text)`` of the README at the snapshot root, or None."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return None
    by_lower: dict[str, str] = {}
    for name in names:
        try:
            if not stat.S_ISREG(os.lstat(root / name).st_mode):
                continue
        except OSError:
            continue
        by_lower.setdefault(name.lower(), name)
    for wanted in README_NAMES:
        if wanted in by_lower:
            text = read_text_capped(root / by_lower[wanted])
            if text is not None:
                return by_lower[wanted], text
    return None


MAKEFILE_NAMES = ("makefile", "gnumakefile")
_HELP_TARGET = re.compile(r"^help\s*:", re.MULTILINE)


def makefile_help(root: Path) -> Hit | None:
    """A self-documenting Makefile at the snapshot root (a ``help`` target that lists the
    others): it tells how to run the work, as a command in a README would."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return None
    for name in names:
        if name.lower() not in MAKEFILE_NAMES:
            continue
        try:
            if not stat.S_ISREG(os.lstat(root / name).st_mode):
                continue
        except OSError:
            continue
        text = read_text_capped(root / name)
        match = _HELP_TARGET.search(text or "")
        if match:
            line = text.count("\n", 0, match.start()) + 1
            return Hit(name, None, line, "make help (the Makefile lists its targets)")
    return None


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Section:
    """A heading (or none) and the lines under it, up to the next heading of any level."""

    path: str
    cell: int | None
    origin: str  # "document", "notebook", "docstring"
    heading: str | None
    heading_line: int | None
    lines: tuple[tuple[int, str], ...]  # (1-based line in the file or cell, text)
    context_heading: str | None = None  # for a notebook cell without a heading: the last one
    # ``(level, text)`` of the headings this one sits under, outermost first
    ancestors: tuple[tuple[int, str], ...] = ()
    heading_level: int | None = None

    def outline(self) -> tuple[tuple[int, str], ...]:
        """The heading path after this section: its ancestors and its own heading."""
        if self.heading is None or self.heading_level is None:
            return self.ancestors
        return (*self.ancestors, (self.heading_level, self.heading))


def split_sections(
    path: str,
    cell: int | None,
    origin: str,
    text: str,
    context: str | None = None,
    outer: tuple[tuple[int, str], ...] = (),
) -> list[Section]:
    """Cut ``text`` into sections at every heading; the text before the first one has none.

    Each section records the headings it sits under (``outer``: those of earlier notebook
    cells), so that a sub-heading can take its parent's class.
    """
    all_lines = text.splitlines()
    marks = headings(text)
    sections: list[Section] = []
    starts = [(h.line, h) for h in marks]
    first = starts[0][0] if starts else len(all_lines) + 1
    preamble = tuple((i + 1, all_lines[i]) for i in range(first - 1))
    if any(line.strip() for _, line in preamble):
        sections.append(
            Section(path, cell, origin, None, None, preamble, context, ancestors=outer)
        )
    stack = list(outer)
    for index, (line, heading) in enumerate(starts):
        body_start = line + (1 if heading.underlined else 0)
        body_end = starts[index + 1][0] - 1 if index + 1 < len(starts) else len(all_lines)
        body = tuple((i + 1, all_lines[i]) for i in range(body_start, body_end))
        while stack and stack[-1][0] >= heading.level:
            stack.pop()
        sections.append(
            Section(
                path, cell, origin, heading.text, line, body, heading.text,
                ancestors=tuple(stack), heading_level=heading.level,
            )
        )
        stack.append((heading.level, heading.text))
    return sections


def is_writeup_document(path: str) -> bool:
    """A ``.md``/``.rst`` file or a README that is the candidate's prose (not a licence...)."""
    name = path.rsplit("/", 1)[-1].lower()
    if _NOT_WRITEUP.search(path):
        return False
    return name.endswith((".md", ".rst", ".markdown")) or name in README_NAMES


def module_docstring(tree: ast.Module | None) -> tuple[int, str] | None:
    """``(line, text)`` of a module's docstring, or None."""
    if tree is None or not tree.body:
        return None
    first = tree.body[0]
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)):
        return None
    if not isinstance(first.value.value, str):
        return None
    return first.lineno, first.value.value


def _document_order(item: tuple[str, str], readme: str | None) -> tuple[bool, int, str]:
    """The README first, then shallower documents, then by path."""
    path = item[0]
    return (path != readme, path.count("/"), path)


def collect_sections(source: SubmissionSource, readme: tuple[str, str] | None) -> list[Section]:
    """Every section of the written material: documents, notebook markdown, docstrings.

    Each origin reads at most :data:`MAX_ORIGIN_CHARS` (the README and shallow documents
    first), and at most :data:`MAX_SECTIONS` sections are kept, so a huge submission costs a
    bounded amount of work.
    """
    sections: list[Section] = []
    documents = [
        (u.path, u.text)
        for u in source.markdown_units
        if u.cell is None and is_writeup_document(u.path)
    ]
    if readme is not None and not any(path == readme[0] for path, _ in documents):
        documents.append(readme)
    budget = MAX_ORIGIN_CHARS
    for path, text in sorted(documents, key=lambda d: _document_order(d, readme and readme[0])):
        if budget <= 0:
            break
        text = text[: min(MAX_DOC_CHARS, budget)]
        budget -= len(text)
        sections.extend(split_sections(path, None, "document", text))
    last_heading: dict[str, str | None] = {}
    outline: dict[str, tuple[tuple[int, str], ...]] = {}
    budget = MAX_ORIGIN_CHARS
    for unit in source.markdown_units:
        if unit.cell is None or not unit.text.strip():
            continue
        if budget <= 0:
            break
        budget -= len(unit.text)
        context = last_heading.get(unit.path)
        cell_sections = split_sections(
            unit.path, unit.cell, "notebook", unit.text, context, outline.get(unit.path, ())
        )
        sections.extend(cell_sections)
        for section in cell_sections:
            if section.heading:
                last_heading[unit.path] = section.heading
        if cell_sections:
            outline[unit.path] = cell_sections[-1].outline()
    budget = MAX_ORIGIN_CHARS
    for code in source.code_units:
        if code.origin != "py" or TEST_FILE.search(code.path) or budget <= 0:
            continue
        found = module_docstring(code.tree)
        if found is not None:
            line, text = found
            budget -= len(text)
            lines = tuple((line + i, part) for i, part in enumerate(text.splitlines()))
            sections.append(Section(code.path, None, "docstring", None, None, lines))
    return sections[:MAX_SECTIONS]


# --------------------------------------------------------------------------- reading a section


@dataclass(frozen=True)
class Hit:
    """One line or sentence that answers a question, where it is and what it says."""

    path: str
    cell: int | None
    line: int
    text: str
    count: int = 1  # values reported on the line (metric hits only)

    def evidence(self, note: str | None = None) -> Evidence:
        """This hit as :class:`Evidence`."""
        return Evidence(
            path=self.path, cell=self.cell, line=self.line, excerpt=clip(self.text, 240), note=note
        )


@dataclass
class SectionFacts:
    """What one section says, question by question."""

    section: Section
    kind: str | None  # the question the section answers, from its heading and its body
    words: int = 0  # prose words
    prompt: bool = False  # reads as the assignment's prompt or a template
    placeholder: bool = False  # a heading whose body is "Coming soon", "TBD"...
    sentences: list[Hit] = field(default_factory=list)
    commands: list[Hit] = field(default_factory=list)
    metric_values: list[Hit] = field(default_factory=list)
    leftovers: list[Hit] = field(default_factory=list)

    def hit(self, line: int, text: str, count: int = 1) -> Hit:
        """A :class:`Hit` at ``line`` of this section."""
        return Hit(self.section.path, self.section.cell, line, text.strip(), count)


def _prose_paragraphs(
    lines: Iterable[tuple[int, str]],
) -> Iterator[list[tuple[int, str]]]:
    """The ``(line, text)`` parts of each prose paragraph; every list item starts its own."""
    parts: list[tuple[int, str]] = []
    for number, line in lines:
        stripped = line.strip()
        if not stripped or _LIST_MARK.match(line) or _TABLE_ROW.match(line):
            if parts:
                yield parts
            parts = []
            if stripped and not _TABLE_ROW.match(line):
                parts = [(number, _LIST_MARK.sub("", line).strip())]
            continue
        parts.append((number, stripped))
    if parts:
        yield parts


def _plain(text: str) -> str:
    """Markdown text without inline code ticks, link targets and emphasis marks."""
    text = _INLINE_CODE.sub(lambda m: m.group(1), text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[*_]{1,3}([^*_]+)[*_]{1,3}", r"\1", text).strip()


def _sentences(parts: list[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """``(line, sentence)`` of each sentence of a paragraph, on the line where it starts."""
    offsets, numbers, length = [], [], 0
    for number, text in parts:
        offsets.append(length)
        numbers.append(number)
        length += len(text) + 1
    joined = " ".join(text for _, text in parts) + " "
    position = 0
    for piece in _SENTENCE_END.split(joined):
        offset = max(joined.find(piece, position), 0)
        position = offset + len(piece)
        line = numbers[bisect.bisect_right(offsets, offset) - 1]
        sentence = _plain(piece)
        if sentence:
            yield line, sentence


@functools.lru_cache(maxsize=16_384)
def is_prompt_sentence(sentence: str) -> bool:
    """An instruction to the candidate: "Justify ...", "Describe ...", "you should", "your
    task", or a question addressed to "you"."""
    return bool(
        _SECOND_PERSON.search(sentence)
        or _STRONG_PROMPT.search(sentence)
        or _META_IMPERATIVE.match(sentence)
        or (sentence.rstrip().endswith("?") and _YOU.search(sentence))
    )


def _is_command(text: str) -> bool:
    return bool(_COMMAND.match(text.strip())) and len(text.strip()) <= 200


def _is_bare_command(line: str) -> bool:
    """A command written on its own line outside code: ``$ make train``, or a short lower-case
    line that is a command and not a sentence (``pip install -r requirements.txt``)."""
    if line.startswith("$"):
        return _is_command(line.lstrip("$ "))
    return (
        bool(line)
        and (line[0].islower() or line.startswith("Rscript "))
        and len(line.split()) <= 12
        and not line.endswith(".")
        and _is_command(line)
    )


def _metric_line(text: str) -> bool:
    return bool(_METRIC.search(text)) and bool(NUMBER.search(text))


def reported_values(text: str, table_row: bool = False) -> int:
    """How many metric values a line reports: its numbers, less requirements and thresholds
    ("F1 >= 75%", "at least 0.8"); in prose at most one per metric named."""
    numbers = [
        m
        for m in NUMBER.finditer(text)
        if not _REQUIREMENT.search(text[max(0, m.start() - 14) : m.start()])
    ]
    if table_row:
        return len(numbers)
    return min(len(numbers), len(_METRIC.findall(text)))


def read_section(section: Section) -> SectionFacts:
    """Commands, metric values, sentences and prompt/template markers of one section."""
    facts = SectionFacts(section, None)
    in_fence, shell_fence, table_metric = False, False, False
    table_words = 0
    prose: list[tuple[int, str]] = []
    for number, line in section.lines:
        if _FENCE.match(line):
            in_fence = not in_fence
            shell_fence = in_fence and bool(_SHELL_FENCE.match(line))
            continue
        stripped = line.strip()
        if in_fence:
            if stripped and (shell_fence or _is_command(stripped)) and _is_command(stripped):
                facts.commands.append(facts.hit(number, stripped))
            elif _FENCED_RESULT.search(stripped) and section.origin != "docstring":
                facts.metric_values.append(facts.hit(number, stripped, reported_values(stripped)))
            continue
        if _TABLE_ROW.match(line):
            if _TABLE_RULE.match(line):
                continue
            table_words += word_count(line)
            if not NUMBER.search(line):
                table_metric = table_metric or bool(_METRIC.search(line))
            elif table_metric or _METRIC.search(line):
                facts.metric_values.append(
                    facts.hit(number, stripped, reported_values(stripped, table_row=True))
                )
            continue
        table_metric = False
        for span in _INLINE_CODE.findall(line):
            if _is_command(span):
                facts.commands.append(facts.hit(number, span))
        bare = _LIST_MARK.sub("", stripped)
        if _is_bare_command(bare):
            facts.commands.append(facts.hit(number, bare))
            continue
        if _TEMPLATE_LEFTOVER.search(line):
            facts.leftovers.append(facts.hit(number, stripped))
        if _metric_line(line):
            facts.metric_values.append(facts.hit(number, stripped, reported_values(stripped)))
        prose.append((number, line))
    for paragraph in _prose_paragraphs(prose):
        for line, sentence in _sentences(paragraph):
            facts.sentences.append(facts.hit(line, sentence))
    body_text = "\n".join(line for _, line in prose)
    facts.words = word_count(body_text) + table_words
    facts.placeholder = bool(section.heading) and _is_placeholder_body(section, body_text)
    facts.kind = classify(section, facts)
    facts.prompt = section.origin != "docstring" and _reads_as_prompt(facts)
    return facts


def _is_placeholder_body(section: Section, body: str) -> bool:
    text = " ".join(body.split())
    return bool(text) and bool(_PLACEHOLDER_BODY.match(text)) and not section.cell


def _reads_as_prompt(facts: SectionFacts) -> bool:
    """An unmistakable prompt phrase ("Your task is"...), or a passage addressed to "you" whose
    sentences mostly instruct. Run instructions ("you can run ...") are not a prompt."""
    sentences = [s.text for s in facts.sentences]
    if not sentences:
        return False
    if any(_STRONG_PROMPT.search(s) for s in sentences):
        return True
    if facts.kind == "how_to_run" or not any(_YOU.search(s) for s in sentences):
        return False
    instructing = sum(1 for s in sentences if is_prompt_sentence(s) and not _metric_line(s))
    imperative = sum(
        1
        for s in sentences
        if (IMPERATIVE.match(s) or is_prompt_sentence(s)) and not _metric_line(s)
    )
    return (instructing >= 2 and instructing >= 0.4 * len(sentences)) or (
        imperative >= 2 and imperative >= 0.6 * len(sentences)
    )


def inherited_class(section: Section) -> str | None:
    """The class a section takes from the nearest heading above it that has one of
    :data:`INHERITED_CLASSES` (None when the nearest classified one has another class)."""
    for _, text in reversed(section.ancestors):
        if text == section.heading:
            continue
        kind = heading_class(text)
        if kind is not None:
            return kind if kind in INHERITED_CLASSES else None
    return None


def classify(section: Section, facts: SectionFacts) -> str | None:
    """The question a section answers: its heading's words, corrected by its body.

    A body of commands with little prose is how-to-run whatever the heading says; a run
    heading over prose without a command or run instruction is read as approach.
    """
    heading = section.heading or section.context_heading
    kind = heading_class(heading) if heading else None
    inherited = inherited_class(section)
    if (
        (kind is None and inherited)
        or (inherited == "how_to_run" and kind == "approach")  # "### Training" under a run heading
        or (inherited == "qa" and heading and heading.rstrip().endswith("?"))  # a listed question
    ):
        kind = inherited
    has_run_prose = any(RUN_PROSE.search(s.text) for s in facts.sentences)
    if facts.commands and facts.words < 40 and kind not in ("limitations", "next_steps"):
        return "how_to_run"
    if kind == "how_to_run" and not facts.commands and not has_run_prose:
        return "approach" if facts.words >= 30 else None
    return kind


@functools.lru_cache(maxsize=16_384)
def own_statement(sentence: str) -> bool:
    """A declarative sentence of the candidate: not an instruction, a question or a plan."""
    return not (
        is_prompt_sentence(sentence)
        or sentence.rstrip().endswith("?")
        or _PLANNING.search(sentence)
    )


@functools.lru_cache(maxsize=16_384)
def own_reason(sentence: str) -> bool:
    """A reason for something done, stated rather than asked for or planned: declarative, not
    an imperative step, and tied to a decision or an action (an observation that merely
    contains "because" explains no choice)."""
    return (
        own_statement(sentence)
        and not IMPERATIVE.match(sentence)
        and bool(_DECISION.search(sentence))
    )


# --------------------------------------------------------------------------- files a write-up names

_DOC_FILE_REF = re.compile(
    r"(?<![\w/.:@-])((?:\.{0,2}/)?(?:[\w.-]+/)*[\w-][\w.-]*\."
    r"(?:py|ipynb|md|sh|bat|txt|ya?ml|toml|cfg|ini|sql))(?![\w/])"
)
_URL = re.compile(r"(?:https?|ftp)://\S+|www\.\S+")
MAX_DOC_DEPTH = 1  # documents at the root or one folder down (nested exports cite other roots)


def referenced_files(documents: list[tuple[str, str]]) -> dict[str, tuple[str, int]]:
    """Local code, notebook, document and configuration files the documents name (data and
    model files are left out: they are often kept out of a repository on purpose), as
    ``{reference: (document path, line)}``. URLs are ignored."""
    found: dict[str, tuple[str, int]] = {}
    for path, text in documents:
        if path.count("/") > MAX_DOC_DEPTH:
            continue
        for number, line in enumerate(text.splitlines()[:20_000], start=1):
            for match in _DOC_FILE_REF.finditer(_URL.sub(" ", line)):
                found.setdefault(match.group(1), (path, number))
    return found


def snapshot_file_names(root: Path, limit: int = 50_000) -> set[str]:
    """Lower-cased names of every file in the snapshot (``.git`` skipped), at most ``limit``."""
    names: set[str] = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        names.update(name.lower() for name in files)
        if len(names) >= limit:
            break
    return names
