"""Written findings in prose: which sentences of a markdown cell or report state what the data
showed ("amount is right-skewed", "churn is 3x higher on monthly contracts"), as opposed to
headings, plans ("we will explore ..."), descriptions of a figure or of the code's own steps.

Pure text functions, no I/O: the exploration grader decides which prose is about exploration.
"""

from __future__ import annotations

import re

# Words that state something about the data's behaviour: shape of a distribution, a comparison,
# an association, a quality problem, a share.
_FINDING_CUES = re.compile(
    r"\b(skew\w*|long[- ]tail\w*|tail\w*|outlier\w*|anomal\w*|imbalanc\w*|balanced|"
    r"majority|minority|dominat\w*|concentrat\w*|peak\w*|spread|varian\w*|"
    r"correlat\w*|associat\w*|relationship|related|depend\w*|predictive|"
    r"higher|lower|greater|smaller|larger|fewer|more likely|less likely|"
    r"increas\w*|decreas\w*|declin\w*|rises?|drops?|tends?|trend\w*|pattern\w*|"
    r"differ\w*|similar\w*|significant\w*|strong\w*|weak\w*|"
    r"missing|null\w*|nan|nans|empty|blank|zeros?|duplicat\w*|negative|invalid|inconsisten\w*|typo\w*|"
    r"sentinel|placeholder|mislabel\w*|noisy|noise|leak\w*|drift\w*|"
    r"rate|ratio|proportion|percent\w*|share|most|mostly|only|rarely|never|always|"
    r"normal(?:ly)? distributed|uniform\w*|bimodal|constant|zero variance|unique|"
    r"widen\w*|narrow\w*|grow\w*|grew|shrink\w*|exceed\w*|outnumber\w*|than|compared|"
    r"spikes?|fall\w*|fell|jumps?|doubl\w*|highest|lowest|largest|smallest|least)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d")
# Plans, instructions and descriptions of what the code or the figure does, not findings.
_NOT_A_FINDING = re.compile(
    r"^\s*(we|i)\s+(will|would|shall|are going to|want to|need to|start|define|use|create|"
    r"apply|convert|drop|remove|replace|fill|impute|encode|split|train|fit|load|read|import|"
    r"first|then|now|also|plot|check|look|explore|begin|proceed|repeat)\b|"
    r"^\s*(let'?s|let us|next|now|here|below|above|the (figure|plot|chart|graph|table|cell|"
    r"code|function)s? (below|above)|this (notebook|section|cell|function|script)|"
    r"in this (notebook|section)|to (check|see|explore|understand|investigate)|"
    r"import|install|run|todo)\b|"
    r"^\s*(check|create|convert|drop|remove|replace|fill|plot|compute|calculate|get|set|load|"
    r"read|save|define|print|show|display|add|make|use|apply|filter|iterate|loop|split|encode|"
    r"map|rename|select|sort|merge|group|count|find|initiali[sz]e|update|return|handle|impute|"
    r"visuali[sz]e|identify|ensure|keep|clean|fix|transform|normali[sz]e|scale|extract|parse|"
    r"view|inspect|explore|examine|investigate|analy[sz]e|look|see|try|test|train|fit|build|"
    r"sample|assume|bin|cap|clip|limit|aggregate|store|generate|append|join|only keep)\b",
    re.IGNORECASE,
)
_MODEL_WORDS = re.compile(
    r"\b(model|classifier|regressor|f1|auc|precision|recall|accuracy|hyperparam\w*|"
    r"cross[- ]validation|grid ?search|epoch\w*|predictions?)\b",
    re.IGNORECASE,
)
# What a profiling tool or library offers ("Sweetviz provides ..."): advertising, not data.
_TOOL_TALK = re.compile(
    r"\b(sweetviz|pandas[- ]profiling|ydata[- ]profiling|profil(e|ing) report|d-?tale|autoviz|"
    r"dataprep|library|package|tool|framework)\b.{0,80}\b(provides?|offers?|allows?|lets|"
    r"enables?|helps?|generates?|gives?|makes? it|supports?|comes with)\b|"
    r"\b(tool|library|package|framework)\s+(for|to|that|which)\b",
    re.IGNORECASE,
)
_FENCE = re.compile(r"```.*?(```|\Z)", re.DOTALL)
_HTML = re.compile(r"<[^>]{0,200}>")
_IMAGE_OR_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
MIN_FINDING_WORDS = 5
LONG_HEADING_WORDS = 8  # a heading this long is a sentence, often a conclusion
_NOT_GERUNDS = frozenset(
    {"interesting", "surprising", "during", "according", "nothing", "something"}
)
MAX_SENTENCE_CHARS = 600


def prose_lines(text: str) -> list[str]:
    """The prose of a markdown text, one entry per paragraph line or bullet, without code
    blocks, HTML, tables, headings or link targets."""
    text = _FENCE.sub("\n", text)
    text = _HTML.sub(" ", text)
    text = _IMAGE_OR_LINK.sub(r"\1", text)
    lines = []
    for raw in text.split("\n"):
        line = raw.strip()
        heading = re.match(r"^#{1,6}\s+(.*)", line)
        if heading and len(heading.group(1).split()) >= LONG_HEADING_WORDS:
            line = heading.group(1)  # "### Conclusion: age does not differ between ..."
        elif not line or line.startswith(("#", "|", "    ", "\t")) or set(line) <= set("-=*_ "):
            continue
        lines.append(re.sub(r"^([-*+>]|\d+[.)])\s+", "", line))
    return lines


def sentences(text: str) -> list[str]:
    """Prose split into sentences (bullets are sentences of their own)."""
    found = []
    for line in prose_lines(text):
        for part in re.split(r"(?<=[.!?;])\s+(?=[A-Z(\"'*_])", line):
            part = part.strip(" *_")
            if part:
                found.append(part[:MAX_SENTENCE_CHARS])
    return found


def _not_about_data(sentence: str) -> bool:
    """Plans, questions, modelling talk and descriptions of a tool rather than of the data."""
    return bool(
        _NOT_A_FINDING.search(sentence)
        or sentence.rstrip().endswith(("?", ":"))
        or _MODEL_WORDS.search(sentence)
        or _TOOL_TALK.search(sentence)
    )


def is_finding(sentence: str) -> bool:
    """True when ``sentence`` states something the data showed (see the module docstring)."""
    words = re.findall(r"[A-Za-z][A-Za-z'\-]*", sentence)
    if len(words) < MIN_FINDING_WORDS or _not_about_data(sentence):
        return False
    if words[0].lower().endswith("ing") and words[0].lower() not in _NOT_GERUNDS:
        return False  # "Checking the target ...", "Analyzing correlations ...": a task title
    return bool(_FINDING_CUES.search(sentence)) or (
        bool(_NUMBER.search(sentence)) and "%" in sentence
    )


_STATEMENT = re.compile(
    r"\d|\b(is|are|was|were|seems?|appears?|shows?|has|have|had|tends?|"
    r"conclusion|observ\w*|insight|finding|noted?)\b",
    re.IGNORECASE,
)


def comment_finding(comment: str) -> bool:
    """True when a ``#`` comment is a written finding (``# Conclusion: churn is higher ...``):
    a finding that also states something (a number or a verb such as *is*, *shows*, *has*),
    since most comments only describe the next line of code."""
    text = re.sub(r"^[#\s]+", "", comment)
    return is_finding(text) and bool(_STATEMENT.search(text))


_FINDINGS_LABEL = re.compile(
    r"^\W*(key\s+)?(observations?|findings?|insights?|takeaways?|conclusions?|"
    r"what we (see|found|learn\w*))\W*$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*([-*+]|\d+[.)])\s+(.*)")
MIN_LABELLED_WORDS = 3


def labelled_bullets(text: str) -> list[str]:
    """Bullets listed under an "Observations" / "Findings" / "Insights" label: the author
    says these are findings, so they count even when short or without a cue word."""
    found: list[str] = []
    under_label = False
    for raw in _FENCE.sub("\n", _HTML.sub(" ", text)).split("\n"):
        line = raw.strip()
        if not line:
            continue
        bullet = _BULLET.match(raw)
        if bullet and under_label:
            item = _IMAGE_OR_LINK.sub(r"\1", bullet.group(2)).strip(" *_")
            words = re.findall(r"[A-Za-z][A-Za-z'\-]*", item)
            if len(words) >= MIN_LABELLED_WORDS and not _not_about_data(item):
                found.append(item[:MAX_SENTENCE_CHARS])
            continue
        label = re.sub(r"^#{1,6}\s+", "", line).strip(" *_")
        under_label = bool(_FINDINGS_LABEL.match(label))
    return found


def findings(text: str) -> list[str]:
    """The sentences of ``text`` that are written findings about the data."""
    found = [s for s in sentences(text) if is_finding(s)]
    return found + [b for b in labelled_bullets(text) if b not in found]


_INLINE_CODE = re.compile(r"`[^`]*`")
_DATA_FACT = re.compile(
    r"\b(outliers?|skew\w*|missing|nulls?|nans?|duplicat\w*|imbalanc\w*|distribut\w*|"
    r"max(imum)?|min(imum)?|median|mean|average|percentile|p\d\d|rows|records|range|"
    r"negative|zeros?|correlat\w*|minority|majority|positives?)\b",
    re.IGNORECASE,
)


def data_facts(text: str) -> list[str]:
    """Findings of any prose (a README's approach section) that state a measured fact about
    the dataset: a number next to a distribution or data-quality word ("height has a max of
    1.13 against a p75 of 0.17, an outlier")."""
    found = []
    for sentence in sentences(text):
        prose = _INLINE_CODE.sub(" ", sentence)  # a number or word inside `code` is not a fact
        if is_finding(prose) and _NUMBER.search(prose) and _DATA_FACT.search(prose):
            found.append(sentence)
    return found
