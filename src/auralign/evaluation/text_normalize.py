"""Pure-Python tokenisation matching the COCO caption evaluation.

pycocoevalcap tokenises every caption with Stanford CoreNLP 3.4.1's ``PTBTokenizer``
(``-preserveLines -lowerCase``) and then drops a fixed list of punctuation tokens. Caption
metrics are only comparable with published numbers when computed on exactly that text, so this
module reproduces the behaviour without Java.

It is a re-implementation of the rules that matter for captions, not a port of the JFlex lexer:
lowercasing, splitting clitics (``don't`` -> ``do n't``, ``dog's`` -> ``dog 's``, ``cannot`` ->
``can not``), keeping hyphens, slashes and number punctuation inside tokens, keeping the dot of
abbreviations (``mr.``, ``e.g.``), and the COCO quirks that follow from lowercasing: brackets
become ``-lrb-``/``-rrb-`` etc. and survive, because COCO's removal list has them in upper case;
runs such as ``!!!`` or ``?!`` survive too. Known divergences from the Java tokenizer (emoticons
such as ``:)``, rare contractions like ``more'n``) are listed in ``tests/test_caption_metrics.py``.
"""

from __future__ import annotations

import re

# Exactly the tokens pycocoevalcap removes after tokenising (its list is case-sensitive).
COCO_PUNCTUATION: frozenset[str] = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)

_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}

# Abbreviations whose final dot CoreNLP keeps attached (the subset plausible in captions).
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "jr",
        "sr",
        "mt",
        "prof",
        "gen",
        "rep",
        "sen",
        "gov",
        "lt",
        "col",
        "capt",
        "sgt",
        "co",
        "corp",
        "inc",
        "ltd",
        "bros",
        "vs",
        "etc",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "ave",
        "blvd",
        "rd",
    ]
)

# Words CoreNLP splits although they contain no apostrophe.
_SPLIT_WORDS = {
    "cannot": ("can", "not"),
    "gonna": ("gon", "na"),
    "gotta": ("got", "ta"),
    "wanna": ("wan", "na"),
    "lemme": ("lem", "me"),
    "gimme": ("gim", "me"),
    "'tis": ("'t", "is"),
    "'twas": ("'t", "was"),
}

_CLITIC = re.compile(r"^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$")

_UNICODE_REPLACEMENTS = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2014": " -- ",
        "\u2013": " -- ",
        "\u2026": "...",
    }
)

_TOKEN = re.compile(
    r"""
    (?P<tag><[A-Za-z][^<>\s]*>)
  | (?P<ellipsis>\.{3,})
  | (?P<dashes>-{2,})
  | (?P<initials>(?:[^\W\d_]\.){2,})                       # e.g. u.s. a.m.
  | (?P<leading_quote_word>'(?:em|n'|\d0s|tis|twas)(?![\w']))
  | (?P<number_abbreviation>no\.(?=\s+\d))                 # "no. 5" keeps its dot
  | (?P<word>
        (?:(?<![\w.])-(?=\d)|\.(?=\d))?                     # -5  .5
        [\w#@]+
        (?:(?:[-/'&.]|(?<=\d)[,:](?=\d))[\w]+)*             # inner - / ' & . and 1,000 10:30
        (?:\.(?=\s|$))?                                     # candidate abbreviation dot
    )
  | (?P<marks>[!?]+)
  | (?P<symbol>\S)
    """,
    re.VERBOSE,
)


def _split_word(word: str) -> list[str]:
    """Split one lowercased word the way PTBTokenizer does: abbreviation dot, clitics, hyphens."""
    if word.endswith(".") and "." not in word[:-1]:
        stem = word[:-1]
        if (len(stem) == 1 and stem.isalpha()) or stem in _ABBREVIATIONS:
            return [word]
        return [*_split_word(stem), "."]
    if word in _SPLIT_WORDS:
        return list(_SPLIT_WORDS[word])
    if "-" in word and "'" in word:
        # A clitic inside a hyphenated compound splits the compound: "bird's-eye" -> bird 's - eye.
        head, _, tail = word.partition("-")
        if _CLITIC.match(head):
            return [*_split_word(head), "-", *_split_word(tail)]
    if word.startswith("y'") and len(word) > 2:
        return ["y'", word[2:]]
    match = _CLITIC.match(word)
    if match:
        return [*_split_word(match.group(1)), match.group(2)]
    return [word]


def ptb_tokenize(text: str) -> list[str]:
    """All PTB tokens of ``text``, lowercased, punctuation included (quotes become `` and '')."""
    text = text.translate(_UNICODE_REPLACEMENTS).lower()
    tokens: list[str] = []
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group()
        if kind == "ellipsis":
            tokens.append("...")
        elif kind == "dashes":
            tokens.append("--")
        elif kind in ("word", "leading_quote_word"):
            tokens.extend(_split_word(value))
        elif kind == "symbol":
            tokens.append(_symbol_token(value, text, match.start()))
        else:
            tokens.append(value)
    return tokens


def _symbol_token(symbol: str, text: str, position: int) -> str:
    if symbol in _BRACKETS:
        return _BRACKETS[symbol]
    opens_quote = position == 0 or text[position - 1].isspace() or text[position - 1] in "([{"
    if symbol == '"':
        return "``" if opens_quote else "''"
    if symbol == "'":
        return "`" if opens_quote else "'"
    return symbol


def coco_tokenize(text: str) -> str:
    """The caption as pycocoevalcap's PTBTokenizer returns it: tokens joined by one space."""
    return " ".join(token for token in ptb_tokenize(text.replace("\n", " ")) if token not in COCO_PUNCTUATION)
