"""Generic boilerplate-line removal for extracted article text.

Each rule is a named, line-level pattern (no per-site rules). A line that
matches is dropped; some rules also drop the block of short lines that
follows (link lists under "Related:", sidebar headings such as "Top Stories").
"""

from __future__ import annotations

import re

# Lines that are boilerplate on their own.
LINE_RULES: dict[str, re.Pattern[str]] = {
    "photo_credit": re.compile(
        r"^\s*(?:\(?(?:photo|image|picture|foto|bild|credit|crédit|source|illustration)s?"
        r"(?:\s*(?:credit|:|/|by|©))[^.]{0,120}\)?|©\s*[^.]{0,80}|"
        r"\(?(?:photo|foto|bild|image):?\s*[^.]{0,80}\)?"
        r"(?:getty images|reuters|ap|afp|dpa|imago|shutterstock|epa|ap photo)[^.]{0,40}\)?)\s*$",
        re.IGNORECASE,
    ),
    "comment_form": re.compile(
        r"^\s*(?:leave a (?:reply|comment)|your email address will not be published\.?.*|"
        r"required fields are marked.*|save my name, email,? and website.*|"
        r"post comment|cancel reply|comments? \(\d+\)|\d+ comments?|"
        r"you must be logged in to post a comment.*|join the conversation)\s*$",
        re.IGNORECASE,
    ),
    "newsletter": re.compile(
        r"^\s*(?:sign up (?:for|to) (?:our|the)\b.{0,80}newsletter.*|"
        r"subscribe to (?:our|the)\b.{0,60}newsletter.*|"
        r"get (?:the|our) .{0,40}newsletter.*|"
        r".{0,60}newsletter:? sign up.*|enter your email.{0,80}|"
        r"by signing up,? you agree.*|thanks? (?:you )?for signing up.*|"
        r"you(?:'|’)ve been subscribed.*)\s*$",
        re.IGNORECASE,
    ),
    "share": re.compile(
        r"^\s*(?:share(?: this(?: article| story| post)?)?(?: on)?(?: \w+)?|"
        r"share via .{0,40}|copy link|link copied|kopier(?:e|en)? link|-?\s*कॉपी लिंक|(?:facebook|twitter|x|whatsapp|email|"
        r"linkedin|print|reddit|telegram)(?:\s*[,|/]?\s*(?:facebook|twitter|x|whatsapp|"
        r"email|linkedin|print|reddit|telegram))*|"
        r"click to share on .*|teilen|partager|compartir|condividi)\s*:?\s*$",
        re.IGNORECASE,
    ),
    "advert": re.compile(
        r"^\s*(?:advertisement|advertising|anzeige|werbung|publicité|publicidad|"
        r"scroll to continue(?: with content)?|story continues below(?: advertisement)?|"
        r"article continues below.*|continue reading below|skip advert(?:isement)?)\s*$",
        re.IGNORECASE,
    ),
    "agency_credit": re.compile(
        r"^\s*(?:[\w.'’ -]{2,60}/)?[\w.'’ -]{0,60}"
        r"(?:getty images|/ ?afp|/ ?reuters|/ ?dpa|/ ?ap|ap photo|imago(?: images)?|shutterstock|"
        r"/ ?epa|picture[ -]alliance|keystone|barcroft media|istock(?:photo)?)\s*$",
        re.IGNORECASE,
    ),
    "embed_placeholder": re.compile(
        r"^\s*(?:externer inhalt nicht verfügbar|empfohlener redaktioneller inhalt|"
        r"link zum (?:youtube|twitter|instagram|x)-inhalt|embed|"
        r".{0,80}privatsphäre-einstellungen.*|.{0,60}(?:enable|accept) (?:cookies|javascript) to "
        r"(?:view|see|display).*|this (?:content|video|embed) (?:is )?(?:not available|"
        r"cannot be displayed).*)\s*$",
        re.IGNORECASE,
    ),
    "reading_time": re.compile(
        r"^\s*(?:-\s*)?(?:lesedauer:? ?\d+ ?min(?:uten?|\.)?|\d+ ?min(?:uten?|\.)? ?(?:lesezeit|read|"
        r"reading time|lesen)|reading time:? ?\d+ ?min\w*|temps de lecture.{0,20})\s*$",
        re.IGNORECASE,
    ),
    "dateline_only": re.compile(
        r"^\s*(?:(?:stand|updated|published|aktualisiert|veröffentlicht|publicerad|uppdaterad|"
        r"publié|mis à jour)[:\s]*)?(?:\w+,?\s+)?\d{1,2}[./ ]\s*(?:\d{1,2}|\w+)[./ ]\s*\d{2,4}"
        r"(?:,?\s*(?:um\s*)?\d{1,2}[:.]\d{2}(?:\s*(?:uhr|h|am|pm))?)?\s*$",
        re.IGNORECASE,
    ),
    "error_report": re.compile(
        r"^\s*fehler gefunden\?.{0,30}$|^\s*report an error.{0,30}$", re.IGNORECASE
    ),
    "copyright": re.compile(
        r"^\s*(?:copyright\s*(?:©|\(c\)|:|\d{4})|©).{0,140}$|^.{0,100}all rights reserved\.?\s*$",
        re.IGNORECASE,
    ),
    "promo": re.compile(
        r"^\s*(?:got a story\?.*|for more stories like this.*|follow [\w.]+ on (?:twitter|x|facebook|"
        r"instagram).*|subscribe now!?|join our commenting forum|comments|kommentar abgeben|"
        r"passer la publicité|article content|recommended videos|sign up for our emails.*|"
        r"get daily [\w ]{0,30} news|enjoying our latest content\?|"
        r"please read our comment policy.*|you must confirm your public display name.*|"
        r"vielen dank!?|sign up \(it'?s quick and free\).*|"
        r"our website is the place for the latest breaking news.*)\s*$",
        re.IGNORECASE,
    ),
    "read_more": re.compile(
        r"^\s*(?:read more:?|read also:?|see also:?|lesen sie auch:?|mehr zum thema:?|"
        r"lire aussi:?|à lire aussi:?|leggi anche:?|lee también:?|czytaj więcej|les også:.{0,140}|"
        r"noticia relacionada|also read:.{0,140}|read next:.{0,140}|"
        r"(?:read|watch|listen|more|related|read more)\s*:\s+.{0,140})\s*$",
        re.IGNORECASE,
    ),
}

# Heading lines that start a block of short link lines to drop (until a long line).
BLOCK_RULES: dict[str, re.Pattern[str]] = {
    "related_list": re.compile(
        r"^\s*(?:related(?: (?:stories|articles|coverage|content|news|topics|links))?|"
        r"more (?:on this|from|stories|news|like this).{0,40}|recommended(?: for you)?|"
        r"you (?:may|might) also like|most (?:read|popular|viewed)|"
        r"trending(?: now)?|weitere artikel|das könnte sie auch interessieren|ähnliche artikel|"
        r"weiterführende links|beiträge aus dem forum|ähnliche:?)\s*:?\s*$",
        re.IGNORECASE,
    ),
    "sidebar": re.compile(
        r"^\s*(?:top stories|local spotlight|latest (?:news|stories|headlines)|"
        r"editor'?s? picks|don'?t miss|popular (?:now|stories)|in other news|"
        r"what to read next|around the web)\s*:?\s*$",
        re.IGNORECASE,
    ),
}

#: a line in a dropped block is "short" (a link title) below this many words
SHORT_LINE_WORDS = 18


def matching_rule(line: str) -> str | None:
    """Name of the line rule that marks ``line`` as boilerplate, or None."""
    stripped = line.strip()
    if not stripped or len(stripped) > 300:
        return None
    for name, rule in LINE_RULES.items():
        if rule.match(stripped):
            return name
    return None


def clean_text(text: str) -> str:
    """Drop boilerplate lines and blocks; normalise whitespace; keep paragraph order."""
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in text.splitlines()]
    out: list[str] = []
    in_block = False
    for line in lines:
        if not line:
            continue
        if any(rule.match(line) for rule in BLOCK_RULES.values()):
            in_block = True
            continue
        if in_block:
            if len(line.split()) < SHORT_LINE_WORDS and not line.endswith(
                (".", "!", "?", '"', "”")
            ):
                continue
            in_block = False
        if matching_rule(line):
            continue
        out.append(line)
    return "\n".join(out)
