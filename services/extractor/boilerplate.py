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
        re.I,
    ),
    "comment_form": re.compile(
        r"^\s*(?:leave a (?:reply|comment)|your email address will not be published\.?.*|"
        r"required fields are marked.*|save my name, email,? and website.*|"
        r"post comment|cancel reply|comments? \(\d+\)|\d+ comments?|"
        r"you must be logged in to post a comment.*|join the conversation)\s*$",
        re.I,
    ),
    "newsletter": re.compile(
        r"^\s*(?:sign up (?:for|to) (?:our|the)\b.{0,80}newsletter.*|"
        r"subscribe to (?:our|the)\b.{0,60}newsletter.*|"
        r"get (?:the|our) .{0,40}newsletter.*|"
        r".{0,60}newsletter:? sign up.*|enter your email.{0,80}|"
        r"by signing up,? you agree.*|thanks? (?:you )?for signing up.*|"
        r"you(?:'|’)ve been subscribed.*)\s*$",
        re.I,
    ),
    "share": re.compile(
        r"^\s*(?:share(?: this(?: article| story| post)?)?(?: on)?(?: \w+)?|"
        r"share via .{0,40}|copy link|link copied|(?:facebook|twitter|x|whatsapp|email|"
        r"linkedin|print|reddit|telegram)(?:\s*[,|/]?\s*(?:facebook|twitter|x|whatsapp|"
        r"email|linkedin|print|reddit|telegram))*|"
        r"click to share on .*|teilen|partager|compartir|condividi)\s*:?\s*$",
        re.I,
    ),
    "advert": re.compile(
        r"^\s*(?:advertisement|advertising|anzeige|werbung|publicité|publicidad|"
        r"scroll to continue(?: with content)?|story continues below(?: advertisement)?|"
        r"article continues below.*|continue reading below|skip advert(?:isement)?)\s*$",
        re.I,
    ),
    "read_more": re.compile(
        r"^\s*(?:read more:?|read also:?|see also:?|lesen sie auch:?|mehr zum thema:?|"
        r"lire aussi:?|à lire aussi:?|leggi anche:?|lee también:?|"
        r"(?:read|watch|listen|more|related):\s+.{0,140})\s*$",
        re.I,
    ),
}

# Heading lines that start a block of short link lines to drop (until a long line).
BLOCK_RULES: dict[str, re.Pattern[str]] = {
    "related_list": re.compile(
        r"^\s*(?:related(?: (?:stories|articles|coverage|content|news|topics|links))?|"
        r"more (?:on this|from|stories|news|like this).{0,40}|recommended(?: for you)?|"
        r"you (?:may|might) also like|most (?:read|popular|viewed)|"
        r"trending(?: now)?|weitere artikel|das könnte sie auch interessieren)\s*:?\s*$",
        re.I,
    ),
    "sidebar": re.compile(
        r"^\s*(?:top stories|local spotlight|latest (?:news|stories|headlines)|"
        r"editor'?s? picks|don'?t miss|popular (?:now|stories)|in other news|"
        r"what to read next|around the web)\s*:?\s*$",
        re.I,
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
            if len(line.split()) < SHORT_LINE_WORDS and not line.endswith((".", "!", "?", '"', "”")):
                continue
            in_block = False
        if matching_rule(line):
            continue
        out.append(line)
    return "\n".join(out)
