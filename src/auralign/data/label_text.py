"""Label text from the AudioSet ontology: the node(s) a corpus label fits, and several positive texts per clip.

`OntologyIndex` reads `../shared/data/labels/audioset_ontology.json` once: each class's display-name
synonyms ("Male speech, man speaking" -> "male speech", "man speaking"), description and parents
(the inverted `child_ids`). `map_label` finds the node(s) a corpus label fits, in order: the reviewed
tables below, an exact match with a synonym, then `audioset_name`'s rule (`corpus/labels.py`); a label
none of them fits stays unmapped rather than guessed. Abstract and blacklisted classes are never
targets of the automatic rules (a reviewed entry may still name one that is exactly right, e.g. "Crash
cymbal"), but they stay parents ("Human voice" above "Speech").

`positive_texts` gives a clip several true texts, without randomness: the label, its nodes' synonyms,
two or three templates a person would write from the label and the clip's metadata ("a dog barks",
"someone speaks czech", "a loud violin note"), the parent class ("bowed string instrument") and the
ontology's description when it is short (< 25 words). `ontology_texts(row)` adds the row's own
captions, minus the SmolLM2 description when the ontology describes the label: pass it to
`CachedPairs(..., text_source=ontology_texts)`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from auralign.corpus.captions import dynamic_word, template_captions
from auralign.corpus.labels import audioset_name
from auralign.corpus.speech import LANGUAGES
from auralign.data.manifest import ManifestRow
from auralign.data.pairs import label_caption
from auralign.paths import shared_data_dir

MAX_DESCRIPTION_WORDS = 25
# Display names whose commas belong to one phrase, not a list of synonyms.
_PHRASE_NAMES = frozenset({"Dishes, pots, and pans", "Channel, environment and background"})
_PHRASE_PREFIXES = ("Inside, ", "Outside, ")
_QUALIFIER = re.compile(r"\s*\([^)]*\)")
# Parents too vague to be a text a person would write about a clip.
VAGUE_PARENTS = frozenset({
    "Human sounds", "Animal", "Music", "Natural sounds", "Sounds of things", "Source-ambiguous sounds",
    "Channel, environment and background", "Onomatopoeia", "Brief tone", "Generic impact sounds",
    "Specific impact sounds", "Surface contact", "Deformable shell", "Miscellaneous sources", "Other sourceless",
    "Musical concepts", "Music role", "Acoustic environment", "Sound reproduction", "Sound equipment",
})

# Reviewed: labels whose right node(s) a string match misses or gets wrong; () = no node fits.
EXPLICIT_NODES: dict[str, tuple[str, ...]] = {
    # drums and percussion (drums.py, render.py GM percussion, Hydrogen)
    "kick drum": ("Bass drum",),
    "closed hi-hat": ("Hi-hat",), "open hi-hat": ("Hi-hat",), "pedal hi-hat": ("Hi-hat",),
    "crash cymbal": ("Crash cymbal",), "ride cymbal": ("Cymbal",), "splash cymbal": ("Cymbal",),
    "chinese cymbal": ("Cymbal",), "ride bell": ("Cymbal",), "reverse cymbal": ("Cymbal",),
    "high tom": ("Drum",), "mid tom": ("Drum",), "low tom": ("Drum",), "floor tom": ("Drum",), "tom-tom": ("Drum",),
    "melodic tom": ("Drum",), "taiko drum": ("Drum",), "war drums": ("Drum",), "bongo": ("Drum",),
    "conga": ("Drum",), "timbales": ("Drum",), "cajon": ("Drum",), "djembe": ("Drum",), "dundun drum": ("Drum",),
    "cuica": ("Drum",), "synth drum": ("Drum machine",), "steel drums": ("Steelpan",),
    "hand clap": ("Clapping",), "maracas": ("Maraca",), "shaker": ("Rattle (instrument)",),
    "cabasa": ("Rattle (instrument)",), "agogo": ("Percussion",), "claves": ("Percussion",),
    "guiro": ("Percussion",), "vibraslap": ("Percussion",), "triangle": ("Percussion",),
    "castanets": ("Percussion",), "glass tap": ("Chink, clink",), "tinkle bell": ("Bell",),
    # melodic instruments (GM programs in render.py, LMMS, GCompris)
    "acoustic grand piano": ("Piano",), "bright acoustic piano": ("Piano",), "honky-tonk piano": ("Piano",),
    "electric grand piano": ("Electric piano",), "clavinet": ("Clavinet",), "celesta": ("Keyboard (musical)",),
    "music box": ("Musical instrument",), "kalimba": ("Musical instrument",),
    "glass harmonica": ("Musical instrument",), "dulcimer": ("Zither",), "koto": ("Zither",),
    "drawbar organ": ("Hammond organ",), "percussive organ": ("Hammond organ",), "rock organ": ("Hammond organ",),
    "church organ": ("Organ",), "reed organ": ("Organ",), "electric organ": ("Electronic organ",),
    "nylon string guitar": ("Acoustic guitar",), "steel string guitar": ("Acoustic guitar",),
    "jazz guitar": ("Electric guitar",), "overdriven guitar": ("Electric guitar",),
    "distorted guitar": ("Electric guitar",), "guitar harmonics": ("Guitar",), "guitar fret noise": ("Guitar",),
    "guitar strum": ("Strum",), "acoustic bass": ("Double bass",), "fingered electric bass": ("Bass guitar",),
    "picked electric bass": ("Bass guitar",), "fretless bass": ("Bass guitar",), "slap bass": ("Bass guitar",),
    "viola": ("Bowed string instrument",), "tremolo strings": ("String section",),
    "string ensemble": ("String section",), "pizzicato strings": ("Pizzicato",), "orchestral harp": ("Harp",),
    "choir aahs": ("Choir",), "voice oohs": ("Choir",), "orchestra hit": ("Orchestra",),
    "tuba": ("Brass instrument",), "brass section": ("Brass instrument",),
    "soprano saxophone": ("Soprano saxophone",), "alto saxophone": ("Alto saxophone",),
    "english horn": ("Wind instrument, woodwind instrument",), "shanai": ("Wind instrument, woodwind instrument",),
    "blown bottle": ("Wind instrument, woodwind instrument",), "piccolo": ("Flute",), "recorder": ("Flute",),
    "shakuhachi": ("Flute",), "ocarina": ("Flute",), "shamisen": ("Plucked string instrument",),
    "bagpipe": ("Bagpipes",), "synth voice": ("Synthesizer",), "synth sweep": ("Synthesizer",),
    "polysynth pad": ("Synthesizer",),
    # GM sound effects and samples
    "breath noise": ("Breathing",), "ocean waves": ("Waves, surf",), "bird chirp": ("Chirp, tweet",),
    "telephone ring": ("Telephone bell ringing",), "wind chimes": ("Wind chime",), "metronome": ("Clicking",),
    "electronic blip": ("Beep, bleep",), "robot voice": ("Speech synthesizer",), "burp": ("Burping, eructation",),
    "crowd cheering": ("Cheering", "Crowd"), "ambient drone": (), "glitch": (), "bass loop": (),
    # animals
    "cow moo": ("Moo",), "wolf growl": ("Growling", "Canidae, dogs, wolves"), "horse gallop": ("Clip-clop",),
    "pig squeal": ("Pig",), "pig death squeal": ("Pig",), "night insects": ("Insect",),
    "camel death cry": ("Livestock, farm animals, working animals",), "elephant death cry": ("Wild animals",),
    "donkey bray": ("Donkey, ass",), "bull bellow": ("Cattle, bovinae",),  # "Bellow" is a human shout
    "elk bellow": ("Wild animals",), "red deer roar": ("Wild animals",),  # "Roar" sits under roaring cats
    "wolf howl": ("Howl", "Canidae, dogs, wolves"), "coyote howl": ("Howl", "Canidae, dogs, wolves"),
    # animals named without their call (Tux Paint stamps, heldout_sources.py)
    "cow": ("Cattle, bovinae",), "bull": ("Cattle, bovinae",), "camel": ("Livestock, farm animals, working animals",),
    "hen": ("Chicken, rooster",), "lamb": ("Sheep",), "kitten": ("Cat",), "lion": ("Roaring cats (lions, tigers)",),
    "tiger": ("Roaring cats (lions, tigers)",), "whale": ("Whale vocalization",), "orca": ("Whale vocalization",),
    **dict.fromkeys(("blackbird", "lark", "heron", "toucan", "vulture", "quetzal", "cuckoo", "penguin"), ("Bird",)),
    **dict.fromkeys(("elephant", "bear", "bison", "deer", "reindeer", "zebra", "hippopotamus", "gorilla", "chimpanzee",
                     "koala", "squirrel", "fox", "dolphin", "sea lion"), ("Wild animals",)),
    "grasshopper": ("Insect",), "hornet": ("Bee, wasp, etc.",),
    # game effects and voices
    "crossbow shot": ("Arrow",), "squelch": ("Squish",), "coins": ("Coin (dropping)",), "click": ("Clicking",),
    "witch cackle": ("Laughter",), "pain grunt": ("Grunt",), "steam hiss": ("Hiss", "Steam"),
    "ship creaking": ("Creak",), "factory noise": ("Mechanisms",), "stone grinding": ("Grind",),
    "furnace burning": ("Fire",), "pistol shot": ("Gunshot, gunfire",), "rifle shot": ("Gunshot, gunfire",),
    "motorcycle passing by": ("Motorcycle",), "door opening and closing": ("Door",), "woman scream": ("Screaming",),
    "bell tolling": ("Bell",), "tambura": ("Plucked string instrument",), "3d printer": ("Mechanisms",),
}
# Reviewed label families, matched in order with re.fullmatch. Only clearly human cries get a node;
# a fantasy creature's cry stays unmapped.
_LANGUAGE = "|".join(sorted({*LANGUAGES.values(), "greek", "latin", "persian"}, key=len, reverse=True))
_GENDERED_SPEECH = {"male": ("Male speech, man speaking", "Speech"), "female": ("Female speech, woman speaking", "Speech")}
_ANIMAL_CRIES = {"wolf": ("Canidae, dogs, wolves",), "horse": ("Horse",)}
EXPLICIT_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"spoken .+", ("Speech",)),
    (rf"(?:(?:{_LANGUAGE}) )?male speech", _GENDERED_SPEECH["male"]),
    (rf"(?:(?:{_LANGUAGE}) )?female speech", _GENDERED_SPEECH["female"]),
    (rf"(?:{_LANGUAGE}) speech", ("Speech",)),
    (r"(?:old )?(?:man|woman) pain cry", ("Groan",)),
    (r"(?:old )?(?:man|woman) death cry", ("Screaming",)),
    *((rf"{animal} (?:pain|death) cry", nodes) for animal, nodes in _ANIMAL_CRIES.items()),
    (r".+ (?:pain|death) cry", ()),
    (r".+ running footsteps", ("Run",)),
    (r".+ lead synth|.+ synth pad|synth .+ effect|synth (?:strings|brass)", ("Synthesizer",)),
)
_COMPILED_PATTERNS = tuple((re.compile(pattern), nodes) for pattern, nodes in EXPLICIT_PATTERNS)


@dataclass(frozen=True)
class Node:
    """One ontology class."""

    id: str
    name: str  # the display name, "Violin, fiddle"
    synonyms: tuple[str, ...]  # ("violin", "fiddle")
    description: str
    restrictions: tuple[str, ...]

    @property
    def is_target(self) -> bool:
        """Neither abstract nor blacklisted: a class automatic matching may assign."""
        return not self.restrictions

    @property
    def short_description(self) -> str | None:
        text = " ".join(self.description.split())
        return text if text and len(text.split()) < MAX_DESCRIPTION_WORDS else None


@dataclass(frozen=True)
class LabelMatch:
    nodes: tuple[Node, ...]
    rule: str  # "explicit", "exact", "audioset_name" or "none"


def display_synonyms(name: str) -> tuple[str, ...]:
    """'Male speech, man speaking' -> ('male speech', 'man speaking'); 'Frying (food)' -> ('frying',);
    'Bee, wasp, etc.' -> ('bee', 'wasp'); 'Outside, rural or natural' stays one phrase."""
    if name in _PHRASE_NAMES or name.startswith(_PHRASE_PREFIXES):
        return (name.lower(),)
    parts = (part.strip().lower() for part in _QUALIFIER.sub("", name).split(", "))
    return tuple(dict.fromkeys(part for part in parts if part and part != "etc."))


@dataclass
class OntologyIndex:
    """Names, synonyms, descriptions and parents of the AudioSet ontology."""

    nodes: dict[str, Node]  # by id
    parent_ids: dict[str, tuple[str, ...]]
    by_name: dict[str, Node] = field(init=False)
    by_text: dict[str, Node] = field(init=False)  # synonym or lower-cased display name -> target node
    _matches: dict[str, LabelMatch] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {node.name: node for node in self.nodes.values()}
        self.by_text = {}
        for node in self.nodes.values():
            if node.is_target:
                for text in (*node.synonyms, node.name.lower()):
                    self.by_text.setdefault(text, node)

    @classmethod
    def from_file(cls, path: Path) -> OntologyIndex:
        """The index of an ontology JSON file; an empty index when the file is absent."""
        records = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
        nodes = {r["id"]: Node(r["id"], r["name"], display_synonyms(r["name"]), r.get("description", ""),
                               tuple(r.get("restrictions", ()))) for r in records}
        parents: dict[str, list[str]] = {}
        for record in records:
            for child in record.get("child_ids", ()):
                parents.setdefault(child, []).append(record["id"])
        return cls(nodes, {child: tuple(ids) for child, ids in parents.items()})

    def node(self, name: str) -> Node:
        return self.by_name[name]

    def parents(self, node: Node) -> tuple[Node, ...]:
        return tuple(self.nodes[i] for i in self.parent_ids.get(node.id, ()))

    def match(self, label: str) -> LabelMatch:
        """The node(s) `label` fits and the rule that found them (memoised per label)."""
        if label not in self._matches:
            self._matches[label] = self._match(label)
        return self._matches[label]

    def _match(self, label: str) -> LabelMatch:
        if not self.nodes:
            return LabelMatch((), "none")
        explicit = EXPLICIT_NODES.get(label)
        if explicit is None:
            explicit = next((nodes for pattern, nodes in _COMPILED_PATTERNS if pattern.fullmatch(label)), None)
        if explicit is not None:
            return LabelMatch(tuple(self.node(name) for name in explicit), "explicit" if explicit else "none")
        if label in self.by_text:
            return LabelMatch((self.by_text[label],), "exact")
        named = self.by_name.get(audioset_name(label) or "")
        if named is not None and named.is_target:
            return LabelMatch((named,), "audioset_name")
        return LabelMatch((), "none")

    def parent_texts(self, nodes: Sequence[Node]) -> list[str]:
        """The first synonym of each node's parent, when that parent is unambiguous: a node under several
        parents ("Growling": dog, cat, ...) gives none unless one of them is also among `nodes`."""
        texts = []
        for node in nodes:
            parents = [p for p in self.parents(node) if p.name not in VAGUE_PARENTS]
            if any(p in nodes for p in parents) or len(parents) != 1:
                continue
            texts.append(parents[0].synonyms[0])
        return texts


def ontology_file() -> Path:
    return shared_data_dir() / "labels" / "audioset_ontology.json"


@cache
def _load(path: str) -> OntologyIndex:
    return OntologyIndex.from_file(Path(path))


def ontology(path: Path | None = None) -> OntologyIndex:
    """The ontology index, loaded once per file."""
    return _load(str(path or ontology_file()))


def map_label(label: str) -> list[Node]:
    """The ontology node(s) a corpus label fits; [] when none fits (never a guess)."""
    return list(ontology().match(label).nodes)


# --- templates -------------------------------------------------------------------------------------

_MASS_NOUNS = frozenset({"applause", "rain", "thunder", "laughter", "fire", "wind", "static", "noise", "water",
                         "music", "gunfire", "speech", "traffic", "machinery", "breathing", "coins", "glass",
                         "birdsong"})
_CALL_VERBS = {"bark": "barks", "moo": "moos", "bleat": "bleats", "quack": "quacks", "grunt": "grunts",
               "neigh": "neighs", "hoot": "hoots", "meow": "meows", "cluck": "clucks", "growl": "growls",
               "roar": "roars", "trumpet": "trumpets", "squeal": "squeals", "screech": "screeches", "call": "calls"}
_SPOKEN = re.compile(rf"spoken (?P<what>.+?)(?: in (?P<language>{_LANGUAGE}))?")
_SPEECH = re.compile(rf"(?:(?P<language>{_LANGUAGE}) )?(?:(?P<gender>male|female) )?speech")
_CRY = re.compile(r"(?P<creature>.+) (?P<cry>pain|death) cry")
_WHAT = {"letter": "a letter", "number": "a number", "syllable": "a syllable", "weekday": "a day of the week",
         "month name": "the name of a month", "phonetic alphabet": "a word of the phonetic alphabet"}
_DIGITS = frozenset({"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"})
_ADVERBS = {"soft": "softly", "medium": "moderately", "loud": "loudly"}


def with_article(phrase: str) -> str:
    """'violin' -> 'a violin', 'oboe' -> 'an oboe'; plurals, mass nouns and '-ing' words take none."""
    last = phrase.split()[-1]
    if last in _MASS_NOUNS or last.endswith("ing") or (last.endswith("s") and not last.endswith(("ss", "us"))):
        return phrase
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _person(gender: object) -> str:
    return {"male": "a man", "female": "a woman"}.get(str(gender), "someone")


def _language(code: object) -> str | None:
    """'es-MX' / 'cs' / 'en_GB' -> 'spanish' / 'czech' / 'english'."""
    return LANGUAGES.get(re.split(r"[-_]", str(code))[0].lower()) if code else None


def _speech_templates(label: str, extra: Mapping[str, object]) -> list[str] | None:
    spoken, speech = _SPOKEN.fullmatch(label), _SPEECH.fullmatch(label)
    if spoken:
        what, language = spoken["what"], spoken["language"] or _language(extra.get("language")) or "english"
        person = _person(extra.get("gender"))
        if what.startswith("digit ") and what.removeprefix("digit ") in _DIGITS:
            digit = what.removeprefix("digit ")
            return [f"{person} says {digit}", f"a voice saying the number {digit}"]
        said = _WHAT.get(what, what)
        return [f"{person} says {said} in {language}", f"{said} spoken in {language}"]
    if speech:
        person = _person(speech["gender"] or extra.get("gender"))
        language = speech["language"] or _language(extra.get("language"))
        if language is None:
            return [f"{person} speaks", f"{person} talking"]
        return [f"{person} speaks {language}", f"speech in {language}"]
    return None


def _voice_templates(label: str) -> list[str] | None:
    cry = _CRY.fullmatch(label)
    if cry:
        creature = with_article(cry["creature"])
        if cry["cry"] == "pain":
            return [f"{creature} cries out in pain", f"{creature} groaning in pain"]
        return [f"{creature} dying", f"the death scream of {creature}"]
    noun, _, verb = label.rpartition(" ")
    if verb in _CALL_VERBS and noun and not {"death", "pain"} & set(noun.split()):
        return [f"{with_article(noun)} {_CALL_VERBS[verb]}", f"the {verb} of {with_article(noun)}"]
    return None


def _instrument_templates(label: str, kind: str, extra: Mapping[str, object]) -> list[str]:
    texts = [f"the sound of {with_article(label)}"]
    velocity = extra.get("velocity")
    dynamic = dynamic_word(int(str(velocity))) if velocity is not None else None
    if kind == "drum":
        texts.append(f"{with_article(label)} from a drum kit")
        if dynamic:
            texts.append(f"{with_article(label)} played {_ADVERBS[dynamic]}")
    elif kind == "music":
        texts.append(f"{with_article(label)} playing")
    else:
        texts.append(f"someone plays {with_article(label)}")
        if dynamic:
            texts.append(f"a {dynamic} {label} note")
    return texts


def caption_templates(label: str, extra: Mapping[str, object] | None = None) -> list[str]:
    """Two or three texts a person would write for a clip of one label, from its metadata (`kind`,
    `velocity`, `language`, `gender`); lower case, no final period."""
    extra = extra or {}
    kind = str(extra.get("kind", ""))
    templates = _speech_templates(label, extra) or _voice_templates(label)
    if templates:
        return templates
    if kind in ("instrument", "drum", "music"):
        return _instrument_templates(label, kind, extra)
    if kind == "ambience":
        return [f"the sound of {with_article(label)}", f"{label} in the background"]
    return [f"the sound of {with_article(label)}", f"a recording of {with_article(label)}"]


# --- positive texts ----------------------------------------------------------------------------------


def _label_texts(label: str, extra: Mapping[str, object], index: OntologyIndex) -> list[str]:
    nodes = index.match(label).nodes
    described = nodes[0].short_description if nodes else None
    return [label, *(s for node in nodes for s in node.synonyms), *caption_templates(label, extra),
            *index.parent_texts(nodes), *([described] if described else [])]


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _mixture_texts(labels: Sequence[str]) -> list[str]:
    """Texts naming every label of a multi-label clip (a text about one of its sounds is only part of it)."""
    return [_join(labels), f"the sound of {_join([with_article(label) for label in labels])}"]


def positive_texts(labels: Sequence[str], extra: Mapping[str, object] | None = None) -> list[str]:
    """Several true texts for a clip of `labels` (sorted, unique; no randomness)."""
    labels = list(dict.fromkeys(labels))
    if not labels:
        return []
    texts = _label_texts(labels[0], extra or {}, ontology()) if len(labels) == 1 else _mixture_texts(labels)
    return sorted(set(texts))


def llm_descriptions(row: ManifestRow) -> set[str]:
    """The captions of a corpus clip that its label's LLM description wrote (any caption the corpus
    templates cannot produce); none for mixtures and rows the corpus did not caption (a corpus clip has
    a `kind` and CoLLAT's template first)."""
    kind = row.extra.get("kind")
    if not kind or kind == "mixture" or not row.labels or row.captions[:1] != [label_caption(row.labels)]:
        return set()
    return set(row.captions) - template_captions(row.labels, str(kind), dict(row.extra))


def ontology_texts(row: ManifestRow) -> list[str]:
    """`positive_texts` of the row plus its captions; the SmolLM2 description is left out when the
    ontology describes every label of the row. A `CachedPairs` text source."""
    index = ontology()
    described = all(index.match(label).nodes for label in row.labels)
    dropped = llm_descriptions(row) if described else set()
    captions = [caption for caption in row.captions if caption not in dropped]
    return sorted(set(positive_texts(row.labels, row.extra)) | set(captions))
