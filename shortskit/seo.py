"""Upload metadata for a short: title, description and hashtags (``#shorts`` always among them).

:func:`metadata` works offline from the story's own text (render writes it into ``OUT.json``);
:func:`generate_metadata` asks the writer's chat model when one is configured and falls back to it otherwise.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shortskit import scripts
from shortskit.blocking import run_sync
from shortskit.scheduler import RetryPolicy
from shortskit.story import Story
from shortskit.text import split_sentences

if TYPE_CHECKING:  # httpx (with click, rich and pygments) costs a tenth of a second to import, at every render's end
    import httpx

__all__ = [
    "DESCRIPTION_CHARS",
    "TITLE_AIM",
    "TITLE_MAX",
    "generate_metadata",
    "generate_metadata_sync",
    "hashtag",
    "keywords",
    "made_with",
    "metadata",
    "short_metadata",
    "trim_words",
]

TITLE_MAX = 100  # YouTube's limit for a title
TITLE_AIM = 60  # what shows whole in feeds and search
DESCRIPTION_CHARS = 300  # the offline description: the first sentences up to this length
DESCRIPTION_MAX = 5000  # YouTube's limit for a description
MAX_HASHTAGS = 15  # YouTube ignores every hashtag of a video that has more
KEYWORD_TAGS = 3  # hashtags taken from the text's most frequent words


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words that make poor hashtags, per primary language subtag.
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        """a about above after again against all also am an and any are aren as at be because been before being
        below between both but by can cannot could did do does doing don down during each even ever every few for
        from further get gets got had has have having he her here hers herself him himself his how however i if in
        into is isn it its itself just let like made make many may me might more most much must my myself never
        new no nor not now of off often on once one only or other our ours ourselves out over own really same say
        says see she should so some still such than that the their theirs them themselves then there these they
        thing things this those though through to too two under until up upon us very was wasn way we well were
        what when where which while who whom whose why will with without would yet you your yours yourself
        three four five six seven eight nine ten hundred thousand million"""
    ),
    "es": _words(
        """a al algo algunas algunos ante antes aquí así aun aunque bajo bien cada casi como con contra cual
        cuales cuando de del desde donde dos durante e el él ella ellas ello ellos en entre era eran es esa esas
        ese eso esos esta está están estas este esto estos fue fueron ha hace hacen hacer hasta hay la las le les
        lo los más me mi mis mismo muy nada ni no nos nosotros o otra otras otro otros para pero poco por porque
        puede pueden que qué se sea ser si sí sido sin sobre son su sus también tan tanto te tiene tienen todo
        todos tu tus un una unas uno unos usted ustedes va vez y ya yo tres cuatro cinco seis siete ocho nueve diez
        cien mil millones sabías sabes"""
    ),
    "pt": _words(
        """a ao aos as até com como da das de dela dele do dos e é ela ele eles em entre era essa esse esta este
        eu foi há isso isto já la mais mas me mesmo muito na não nas nem no nos o os ou para pela pelo por porque
        que se sem ser seu seus sua suas também te tem um uma umas uns você"""
    ),
    "fr": _words(
        """à au aux avec ce ces cette dans de des du elle en est et été être il ils je la le les leur lui ma mais
        me même mes moi mon ne nous on ont ou où par pas plus pour qu que qui sa se ses son sont sur ta te tes
        toi ton tous tout très tu un une vous y"""
    ),
    "de": _words(
        """aber als am an auch auf aus bei bin bis das dass dem den der des die ein eine einem einen einer es für
        hat hatte ich ihr im in ist ja kann mit nach nicht noch nur oder sich sie sind so um und uns von vor war
        was wenn wie wir wird zu zum zur"""
    ),
    "it": _words(
        """a ad al alla anche che chi ci come con da dal degli dei del della di e è era gli ha hanno il in io la
        le lo loro ma mi molto ne nel nella non per più può quando questa questo se si sono su tra tu un una
        uno"""
    ),
}
# Combining marks (Mn/Mc) of the scripts we caption: Devanagari matras and viramas, Thai vowels, Arabic harakat.
# They are not \w to ``re``, yet they are part of a word.
_MARKS = "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0900-\u0963\u0966-\u0dff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
_WORD = re.compile(rf"[^\W\d_](?:[^\W\d_]|[{_MARKS}])*", re.UNICODE)  # letters (and marks): no numbers


def trim_words(text: str, limit: int, *, ellipsis: str = "") -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters (``ellipsis`` included)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = limit - len(ellipsis)
    head = text[: room + 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else text[:room]
    cut = cut[:room].rstrip(" ,;:-–—")
    return cut + ellipsis


def hashtag(text: str) -> str | None:
    """``text`` as one hashtag (``"ocean facts"`` -> ``"#OceanFacts"``, letters and digits kept), or None."""
    words = [w for w in re.split(rf"[^\w{_MARKS}]+|_+", text.lstrip("#"), flags=re.UNICODE) if w]
    if not words:
        return None
    if len(words) == 1:
        return "#" + words[0]
    return "#" + "".join(w[:1].upper() + w[1:] for w in words)  # camel case keeps several words readable


def keywords(text: str, language: str = "en", *, count: int = KEYWORD_TAGS, boost: str = "") -> list[str]:
    """The ``count`` most frequent content words of ``text`` (ties: first seen); words in ``boost`` count triple."""
    stop = _STOPWORDS.get(language.split("-")[0].lower(), frozenset())
    shortest = 3 if stop else 4  # without a stopword list, short words are mostly function words

    spaceless = scripts.spaceless(text)
    if spaceless:
        shortest = 2  # a word of Chinese or Japanese is mostly two characters

    def words(s: str) -> list[str]:
        found = _WORD.findall(s.casefold())
        if spaceless:  # Chinese, Japanese, Thai: the segmenter's words, not whole clauses
            found = [t for w in found for t in (scripts.segment(w, language) if scripts.spaceless(w) else [w])]
        return [w for w in found if len(w) >= shortest and w not in stop]

    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for i, w in enumerate(words(boost) + words(text)):
        first.setdefault(w, i)
    counts.update(words(text))
    for w in words(boost):
        counts[w] += 2
    ranked = sorted(counts, key=lambda w: (-counts[w], first[w]))
    return ranked[:count]


def _hashtags(given: list[str], extra: list[str]) -> list[str]:
    tags: list[str] = []
    seen: set[str] = set()
    for raw in [*given, *extra]:
        tag = hashtag(raw)
        if tag and tag.casefold() != "#shorts" and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return [*tags[: MAX_HASHTAGS - 1], "#shorts"]


def _description(text: str, language: str) -> str:
    description = ""
    for sentence in split_sentences(text, language):
        if len(description) + len(sentence) + 1 > DESCRIPTION_CHARS:
            break
        description = f"{description} {sentence}".strip()
    return description or trim_words(text, DESCRIPTION_CHARS, ellipsis="…")


def metadata(story: Story) -> dict[str, Any]:
    """Offline metadata from the story itself: ``{"title", "description", "hashtags"}``.

    Title: the story's title cut at a word boundary to 60 characters. Description: the story's own, else its
    first sentences up to 300 characters. Hashtags: the story's, then its 3 most frequent content words, then
    ``#shorts``.
    """
    text = " ".join(s.text for s in story.scenes)
    description = story.description.strip() if story.description and story.description.strip() else ""
    description = trim_words(description, DESCRIPTION_MAX) if description else _description(text, story.language)
    own = [tag for t in story.hashtags if (tag := hashtag(t))]
    taken = {t[1:].casefold() for t in own}
    words = [
        w for w in keywords(text, story.language, count=KEYWORD_TAGS + len(taken), boost=story.title) if w not in taken
    ]
    return {
        "title": trim_words(story.title, TITLE_AIM),
        "description": description,
        "hashtags": _hashtags(own, words[:KEYWORD_TAGS]),
    }


# pictures providers that draw no realistic picture: the offline placeholder, the user's own files
_NOT_GENERATED = {"procedural", "local", "folder", "file"}


def made_with(story: Story, voice: Any, images: Any) -> dict[str, Any]:
    """How a short's voice and pictures were made, for honest labels when it is published: the providers, whether
    the voice was cloned from a sample (Chatterbox with ``sample``), the scenes spoken in the user's own recording,
    and whether pictures came from an image model."""
    own_audio = [i for i, s in enumerate(story.scenes, 1) if s.audio]
    own_pictures = [i for i, s in enumerate(story.scenes, 1) if s.image]
    voice_name = str(getattr(voice, "name", story.voice.provider))
    picture_name = str(getattr(images, "name", story.images.provider))
    return {
        "voice": voice_name,
        "cloned_voice": getattr(voice, "sample", None) is not None and len(own_audio) < len(story.scenes),
        "own_recordings": own_audio,
        "pictures": picture_name,
        "generated_pictures": picture_name not in _NOT_GENERATED and len(own_pictures) < len(story.scenes),
        "own_pictures": own_pictures,
    }


def short_metadata(
    story: Story, scenes: Sequence[tuple[int, float, float]], duration: float, facts: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``OUT.json`` beside a short: :func:`metadata` plus the language, length, each scene's (index, start,
    end) in seconds, and ``made_with`` (see :func:`made_with`) when ``facts`` are given."""
    return {
        **metadata(story),
        "language": story.language,
        "duration": round(duration, 3),
        **({"made_with": facts} if facts is not None else {}),
        "scenes": [
            {"index": i, "start": round(start, 3), "end": round(end, 3), "text": story.scenes[i - 1].text}
            for i, start, end in scenes
        ],
    }


# -- with the writer ---------------------------------------------------------------------------------------


def _messages(story: Story) -> list[dict[str, str]]:
    text = "\n".join(s.text for s in story.scenes)
    system = (
        "You write upload metadata for vertical short videos (YouTube Shorts, Reels, TikTok). Reply with one "
        'JSON object and nothing else: {"title": string, "description": string, "hashtags": [string]}. '
        f"The title is catchy and at most {TITLE_AIM} characters; the description is one to three sentences, at "
        f"most {DESCRIPTION_CHARS} characters; hashtags are 3 to 5 relevant tags starting with #. Write them in "
        f"the language {story.language!r}, the narration's language."
    )
    user = f"Title: {story.title}\nNarration:\n{text}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _from_reply(data: Any, story: Story) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"the reply must be a JSON object, got {type(data).__name__}")
    title, description, tags = data.get("title"), data.get("description"), data.get("hashtags")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("title must be a non-empty string")
    if not isinstance(description, str):
        raise ValueError("description must be a string")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError("hashtags must be a list of strings")
    return {
        "title": trim_words(title, TITLE_MAX),
        "description": trim_words(description, DESCRIPTION_MAX) or metadata(story)["description"],
        "hashtags": _hashtags([*story.hashtags, *tags], []),
    }


async def generate_metadata(
    story: Story,
    *,
    use_writer: bool | None = None,
    model: str | None = None,
    client: httpx.AsyncClient | None = None,
    retry: RetryPolicy | None = None,
) -> dict[str, Any]:
    """Metadata from the writer's model when ``use_writer`` (default: when a writer key is set), else offline.

    Raises :class:`~shortskit.errors.ProviderError` when the model fails or answers badly twice.
    """
    from shortskit.writer import Writer, writer_configured

    if use_writer is None:
        use_writer = writer_configured()
    if not use_writer:
        return metadata(story)
    writer = Writer(model=model, retry=retry)
    if client is not None:
        writer.use_client(client)
    return await writer.ask_json(_messages(story), lambda d: _from_reply(d, story), what="valid metadata")


def generate_metadata_sync(story: Story, **options: Any) -> dict[str, Any]:
    """Blocking :func:`generate_metadata` (in Jupyter too)."""
    return run_sync(generate_metadata(story, **options), name="generate_metadata")
