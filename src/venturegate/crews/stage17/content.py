"""Copy for campaigns: a content-provider interface (a deterministic template provider, and an OpenAI-compatible
chat-completions provider), Jinja2 sandboxed rendering, and the brand rules every piece is checked against.

The rules (length, CTA, banned words and claims, readability band, UTM-tagged links) decide; a provider's copy is
never trusted, and copy that fails goes back to the provider with the reasons (see `generate_element`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import pyphen
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

CTA_PHRASES = {"book_demo": "Book a demo", "start_trial": "Start your free trial"}
BANNED_CLAIMS = ("guaranteed", "risk-free", "#1", "best in the world", "100% success", "no risk", "miracle")
"""Claims no brand may make (unsubstantiated superlatives and guarantees)."""
VOICE_BANNED = {
    "professional": ("insanely", "crazy", "awesome", "killer", "revolutionary"),
    "friendly": ("synergy", "leverage", "revolutionary"),
    "authoritative": ("maybe", "kinda", "awesome"),
    "playful": ("synergy", "paradigm"),
    "inspirational": ("cheap", "crazy"),
    "technical": ("magic", "revolutionary", "awesome"),
}
READABILITY = {  # Flesch reading ease band per voice (60-70 is plain English; under 30 reads like a paper)
    "professional": (30.0, 90.0),
    "friendly": (50.0, 100.0),
    "authoritative": (20.0, 85.0),
    "playful": (55.0, 110.0),
    "inspirational": (45.0, 100.0),
    "technical": (0.0, 75.0),
}
HEADLINE_CHARS = {"email": 78, "ad": 40, "landing": 90}
ACCEPT_SCORE = 0.8


class ContentError(Exception):
    """A template or provider could not produce content (the message says which and why)."""


@dataclass(frozen=True)
class Brief:
    """What a provider is asked to write for one element."""

    element: str
    kind: str
    """email, ad or landing."""
    voice: str
    cta: str
    positioning: str
    proposition: str
    segment: str
    pain_points: tuple[str, ...]
    words: int
    step: int = 1


@dataclass(frozen=True)
class Copy:
    """One variant's copy (before it is rendered into its template)."""

    headline: str
    body: str


class ContentProvider(Protocol):
    """Writes `n` variants of copy for a brief, avoiding the words listed."""

    name: str

    def variants(self, brief: Brief, n: int, avoid: Sequence[str], attempt: int) -> list[Copy]: ...


_HOOKS = (
    "Guaranteed results in 30 days.",
    "{segment} lose hours to {pain}.",
    "There is a calmer way to handle {pain}.",
    "Revolutionary tools for {segment}.",
    "What if {pain} took care of itself?",
    "Most {segment} accept {pain} as normal.",
)
_BENEFITS = (
    "{proposition}",
    "{positioning}",
    "Teams that switch spend less time on {pain} and more on their customers.",
    "Setup takes an afternoon, and your data stays where it is.",
    "You see the effect in your own numbers within the first month.",
    "Our customers report fewer manual steps and clearer weekly reports.",
    "It works with the tools your team already uses.",
    "Each step is documented, so nobody has to guess what happens next.",
)


class TemplateProvider:
    """Deterministic copy from a phrase bank: the same brief, variant and attempt give the same text."""

    name = "template"

    def variants(self, brief: Brief, n: int, avoid: Sequence[str], attempt: int) -> list[Copy]:
        out = []
        for k in range(n):
            seed = int(hashlib.sha256(f"{brief.element}|{k}|{attempt}".encode()).hexdigest(), 16)
            hooks = [h for h in _HOOKS if not _contains_any(h, avoid)] or list(_HOOKS)
            pain = brief.pain_points[(seed >> 8) % len(brief.pain_points)] if brief.pain_points else "manual work"
            values = {
                "segment": brief.segment,
                "pain": pain.lower().rstrip("."),
                "proposition": brief.proposition.rstrip(".") + ".",
                "positioning": brief.positioning.rstrip(".") + ".",
            }
            hook = hooks[seed % len(hooks)].format(**values)
            count = {"email": 4, "ad": 2, "landing": 5}.get(brief.kind, 3)
            start = (seed >> 16) % len(_BENEFITS)
            sentences = [_BENEFITS[(start + j) % len(_BENEFITS)].format(**values) for j in range(count)]
            sentences = [s for s in sentences if not _contains_any(s, avoid)]
            headline = hook if len(hook) <= HEADLINE_CHARS.get(brief.kind, 78) else hook[:36].rsplit(" ", 1)[0]
            out.append(Copy(headline=headline, body=" ".join([hook, *sentences])))
        return out


class OpenAIProvider:
    """Copy from an OpenAI-compatible chat-completions endpoint (a local model server or a hosted one)."""

    name = "openai"

    def __init__(self, base_url: str, model: str, api_key: str, timeout: float = 30.0) -> None:
        from openai import OpenAI

        self.model = model
        self.client = OpenAI(base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=0)

    def variants(self, brief: Brief, n: int, avoid: Sequence[str], attempt: int) -> list[Copy]:
        import openai

        system = (
            f"You write {brief.kind} marketing copy in a {brief.voice} voice. Answer with JSON only: "
            '{"variants": [{"headline": "...", "body": "..."}]}. '
            f"Write {n} distinct variants of at most {brief.words} words each, no links, "
            f"headline at most {HEADLINE_CHARS.get(brief.kind, 78)} characters. Never use these words: "
            + json.dumps(sorted(set(avoid) | set(BANNED_CLAIMS)))
        )
        user = json.dumps(
            {
                "element": brief.element,
                "segment": brief.segment,
                "positioning": brief.positioning,
                "value_proposition": brief.proposition,
                "pain_points": list(brief.pain_points),
                "step": brief.step,
            }
        )
        try:
            reply = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                temperature=0.7,
            )
        except openai.APITimeoutError as exc:
            raise TimeoutError(f"content model timed out: {exc}") from exc
        except openai.APIConnectionError as exc:
            raise ConnectionError(f"content model unreachable: {exc}") from exc
        text = (reply.choices[0].message.content or "") if reply.choices else ""
        return _parse_variants(text, n)


def _parse_variants(text: str, n: int) -> list[Copy]:
    match = re.search(r"\{.*\}", text, re.S)
    try:
        data = json.loads(match.group(0) if match else text)
        items = data["variants"]
        copies = [Copy(str(i["headline"]).strip(), str(i["body"]).strip()) for i in items]
    except (ValueError, KeyError, TypeError) as exc:
        raise ContentError(f"content model answered without the variants JSON: {text[:120]!r}") from exc
    copies = [c for c in copies if c.headline and c.body]
    if len(copies) < n:
        raise ContentError(f"content model gave {len(copies)} usable variants, {n} were asked for")
    return copies[:n]


def _contains_any(text: str, words: Sequence[str]) -> bool:
    low = text.lower()
    return any(w.lower() in low for w in words)


# -- templates -------------------------------------------------------------------------------------
TEMPLATES = {
    "email": (
        "Subject: {{ copy.headline }}\n\nHi {{ '{{' }}first_name{{ '}}' }},\n\n{{ copy.body }}\n\n"
        "{{ cta_text }}: {{ link }}\n\n{{ venture }} · {{ footer }}"
    ),
    "ad": "{{ copy.headline }}\n{{ copy.body }}\n{{ cta_text }} → {{ link }}",
    "landing": "# {{ copy.headline }}\n\n{{ copy.body }}\n\n[{{ cta_text }}]({{ link }})\n",
}


def environment() -> SandboxedEnvironment:
    """Jinja2's sandbox with strict undefined: a template cannot reach Python internals or miss a variable."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def render(source: str, values: Mapping[str, Any], name: str) -> str:
    """Render one template; a missing variable or a syntax error is a `ContentError` naming the template."""
    try:
        return environment().from_string(source).render(**values)
    except TemplateError as exc:
        raise ContentError(f"template {name}: {exc}") from exc


def utm_link(base: str, utm: Mapping[str, str], content: str) -> str:
    """The landing URL with the UTM scheme (utm_content names the element and variant)."""
    from urllib.parse import urlencode

    query = {"utm_source": utm["source"], "utm_medium": utm["medium"], "utm_campaign": utm["campaign"]}
    query["utm_content"] = content
    return f"{base}?{urlencode(query)}"


# -- readability ----------------------------------------------------------------------------------
_HYPHENATOR: pyphen.Pyphen | None = None


def syllables(word: str) -> int:
    """Syllables of an English word: its hyphenation points plus one (pyphen's en_US dictionary)."""
    global _HYPHENATOR
    if _HYPHENATOR is None:
        _HYPHENATOR = pyphen.Pyphen(lang="en_US")
    return len(_HYPHENATOR.positions(word.lower())) + 1


def flesch_reading_ease(text: str) -> float:
    """Flesch reading ease: 206.835 − 1.015·words/sentences − 84.6·syllables/words (higher reads easier)."""
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", text)
    if not words:
        return 0.0
    sentences = max(1, len(re.findall(r"[.!?]+(?:\s|$)", text)))
    syl = sum(syllables(w) for w in words)
    return round(206.835 - 1.015 * len(words) / sentences - 84.6 * syl / len(words), 2)


# -- rules -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rules:
    """What accepted copy must satisfy for one brand and channel."""

    voice: str
    cta: str
    max_words: int
    utm: Mapping[str, str]
    banned: tuple[str, ...] = ()

    @property
    def banned_all(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*BANNED_CLAIMS, *VOICE_BANNED.get(self.voice, ()), *self.banned)))


@dataclass(frozen=True)
class Checked:
    """The verdict on one rendered piece."""

    score: float
    problems: tuple[str, ...]
    banned_found: tuple[str, ...] = ()
    readability: float = 0.0
    words: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return not self.problems and self.score >= ACCEPT_SCORE


_URL = re.compile(r"https?://[^\s)\]]+")


def check(text: str, headline: str, kind: str, rules: Rules) -> Checked:
    """Judge a rendered piece: length, CTA, banned words and claims, readability band, UTM on every link."""
    problems: list[str] = []
    score = 1.0
    words = len(re.findall(r"\b\w+\b", text))
    if words > rules.max_words:
        problems.append(f"too long: {words} words > {rules.max_words}")
        score -= 0.25
    limit = HEADLINE_CHARS.get(kind, 78)
    if len(headline) > limit:
        problems.append(f"headline too long: {len(headline)} characters > {limit}")
        score -= 0.15
    phrase = CTA_PHRASES.get(rules.cta, rules.cta)
    if phrase.lower() not in text.lower():
        problems.append(f"call to action '{phrase}' missing")
        score -= 0.25
    found = tuple(w for w in rules.banned_all if w.lower() in text.lower())
    if found:
        problems.append("banned words or claims: " + ", ".join(repr(w) for w in found))
        score -= 0.3
    # readability of the prose only: links and the template's scaffolding are not sentences
    prose = _URL.sub("", text)
    ease = flesch_reading_ease(prose)
    low, high = READABILITY.get(rules.voice, (30.0, 80.0))
    if not low <= ease <= high:
        problems.append(f"readability {ease:.0f} outside the {rules.voice} band {low:.0f}-{high:.0f}")
        score -= 0.15
    links = _URL.findall(text)
    if not links:
        problems.append("no tracked link")
        score -= 0.25
    for url in links:
        query = parse_qs(urlsplit(url).query)
        for key in ("source", "medium", "campaign"):
            if query.get(f"utm_{key}") != [rules.utm[key]]:
                problems.append(f"link {url[:60]} lacks utm_{key}={rules.utm[key]}")
                score -= 0.25
                break
    if rules.voice in ("professional", "authoritative", "technical") and text.count("!") > 1:
        problems.append("more than one exclamation mark for a restrained voice")
        score -= 0.1
    return Checked(round(max(0.0, score), 3), tuple(problems), found, round(ease, 1), words)
