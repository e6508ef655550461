"""Topics: a small fixed taxonomy after the IPTC Media Topics top level.

Evidence comes from three places, strongest first: the URL section ("/sport/", "/world/europe/"),
the feed's categories, and cue words in the title and text. The result is at most three topic
slugs, best first.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# IPTC Media Topics top level (medtop:01..17), as short slugs.
TOPICS: dict[str, str] = {
    "arts-culture": "arts, culture, entertainment and media",
    "crime-law": "crime, law and justice",
    "disaster-accident": "disaster, accident and emergency incident",
    "economy-business": "economy, business and finance",
    "education": "education",
    "environment": "environment",
    "health": "health",
    "human-interest": "human interest",
    "labour": "labour",
    "lifestyle": "lifestyle and leisure",
    "politics": "politics",
    "religion": "religion",
    "science-technology": "science and technology",
    "society": "society",
    "sport": "sport",
    "conflict-war": "conflict, war and peace",
    "weather": "weather",
}

_CUES: dict[str, str] = {
    "politics": """election elections vote voters voting ballot parliament parliamentary senate congress
        lawmakers legislation legislature minister ministers government governments president presidential
        prime campaign candidate candidates party parties democrat democrats republican republicans
        conservative liberal labour policy diplomatic diplomacy diplomat sanctions treaty summit referendum
        cabinet opposition mp mps premier governor mayor coalition bill""",
    "conflict-war": """war wars military troops army soldiers weapons missile missiles strike strikes
        airstrike airstrikes attack attacks invasion offensive battlefield frontline front-line drone drones
        ceasefire combat artillery bombing bombs shelling forces nato defence defense escalation insurgents
        militants hostages rebels armed munitions warplanes air-defence tanks brigades regiments""",
    "economy-business": """economy economic market markets stocks shares investors investment inflation
        interest rates bank banks company companies business revenue profit profits earnings trade tariffs
        gdp growth recession prices price jobs unemployment startup ceo industry financial finance budget
        tax taxes savings mortgage housing consumers retail oil deal merger acquisition""",
    "health": """health hospital hospitals patients patient doctors nurses disease diseases virus covid
        vaccine vaccines cancer treatment medical medicine drug drugs outbreak pandemic mental clinic
        surgery diagnosis healthcare suicide""",
    "science-technology": """science scientists research researchers study technology tech software ai
        artificial intelligence computer internet data digital space nasa satellite physics biology
        chemistry smartphone app apps cyber robot robots chip chips""",
    "sport": """game games match matches season team teams player players coach league cup championship
        tournament goal goals score scored win won victory defeat football soccer basketball baseball
        hockey tennis golf olympic olympics athlete athletes nhl nba nfl fifa medal playoff playoffs""",
    "crime-law": """police court courts judge trial charged charges arrested arrest crime crimes criminal
        murder killed shooting lawsuit lawyer lawyers prosecutors prosecution convicted sentenced prison
        jail investigation suspect fraud theft thieves stolen robbery victim legal law laws illegal""",
    "environment": """climate environment environmental emissions carbon pollution wildlife species
        conservation renewable solar wind energy biodiversity forest forests whales deforestation""",
    "weather": """weather storm storms hurricane rain snow flood floods flooding heatwave temperatures
        forecast tornado drought wildfire wildfires""",
    "arts-culture": """film films movie movies music album song songs singer artist artists art museum
        festival book books novel author theatre theater actor actress television tv show series concert
        culture cultural indigenous heritage pizza""",
    "education": """school schools students student teachers teacher university universities college
        education classroom campus tuition pupils curriculum""",
    "society": """community communities families family poverty immigration immigrants migrants refugees
        housing homeless rights discrimination gender protest protests welfare""",
    "lifestyle": """travel food recipe restaurant fashion holiday vacation lifestyle fitness wellness
        shopping home garden""",
    "disaster-accident": """earthquake crash collision accident fire explosion disaster emergency
        evacuation evacuated rescue victims dead died injured""",
    "religion": """church religious religion pope faith mosque temple bishop christian muslim jewish""",
    "labour": """workers union unions strike-action wages employees employment layoffs labour labor""",
}
_WORD2TOPIC: dict[str, list[str]] = {}
for _t, _ws in _CUES.items():
    for _w in _ws.split():
        _WORD2TOPIC.setdefault(_w, []).append(_t)

# URL sections and feed categories -> topic
_SECTIONS: dict[str, str] = {
    "politics": "politics",
    "election": "politics",
    "elections": "politics",
    "government": "politics",
    "world": "",
    "news": "",
    "canada": "",
    "us": "",
    "uk": "",
    "local": "",
    "business": "economy-business",
    "economy": "economy-business",
    "money": "economy-business",
    "markets": "economy-business",
    "finance": "economy-business",
    "investing": "economy-business",
    "personal-finance": "economy-business",
    "wirtschaft": "economy-business",
    "health": "health",
    "wellness": "health",
    "science": "science-technology",
    "tech": "science-technology",
    "technology": "science-technology",
    "sci-tech": "science-technology",
    "space": "science-technology",
    "sport": "sport",
    "sports": "sport",
    "football": "sport",
    "soccer": "sport",
    "nhl": "sport",
    "nfl": "sport",
    "nba": "sport",
    "mlb": "sport",
    "cricket": "sport",
    "tennis": "sport",
    "golf": "sport",
    "hockey": "sport",
    "crime": "crime-law",
    "justice": "crime-law",
    "courts": "crime-law",
    "law": "crime-law",
    "environment": "environment",
    "climate": "environment",
    "weather": "weather",
    "arts": "arts-culture",
    "culture": "arts-culture",
    "entertainment": "arts-culture",
    "music": "arts-culture",
    "movies": "arts-culture",
    "film": "arts-culture",
    "books": "arts-culture",
    "tv": "arts-culture",
    "celebrity": "arts-culture",
    "education": "education",
    "lifestyle": "lifestyle",
    "travel": "lifestyle",
    "food": "lifestyle",
    "style": "lifestyle",
    "fashion": "lifestyle",
    "life": "lifestyle",
    "religion": "religion",
    "society": "society",
    "military": "conflict-war",
    "war": "conflict-war",
    "defence": "conflict-war",
    "defense": "conflict-war",
    "ukraine-war": "conflict-war",
    "israel-hamas-war": "conflict-war",
    "conflict": "conflict-war",
}
_WORD_RE = re.compile(r"[a-z][a-z\-]+")


def _section_topics(labels: list[str]) -> list[str]:
    out: list[str] = []
    for lab in labels:
        key = lab.strip().lower().replace(" ", "-").replace("_", "-")
        t = _SECTIONS.get(key)
        if t is None:
            for part in re.split(r"[-&/,]+", key):
                t = _SECTIONS.get(part)
                if t:
                    break
        if t:
            out.append(t)
    return out


def classify(
    text: str,
    title: str | None = None,
    categories: list[str] | tuple[str, ...] = (),
    url: str | None = None,
    k: int = 3,
) -> list[str]:
    score: dict[str, float] = {}
    words = _WORD_RE.findall(text[:6000].lower())
    n = max(len(words), 1)
    for w in words:
        for t in _WORD2TOPIC.get(w, ()):
            score[t] = score.get(t, 0.0) + 1.0
    if title:
        for w in _WORD_RE.findall(title.lower()):
            for t in _WORD2TOPIC.get(w, ()):
                score[t] = score.get(t, 0.0) + 3.0
    # normalise by length so that long texts do not get every topic
    norm: dict[str, float] = {t: s * 100.0 / (n + 50) for t, s in score.items()}
    if url:
        path = urlsplit(url).path.lower()
        segs = [s for s in path.split("/")[:-1] if s and not s.isdigit()][:3]
        for t in _section_topics(segs):
            norm[t] = norm.get(t, 0.0) + 6.0
    for t in _section_topics(list(categories)):
        norm[t] = norm.get(t, 0.0) + 6.0
    ranked = sorted(norm.items(), key=lambda kv: -kv[1])
    if not ranked:
        return []
    top = ranked[0][1]
    return [t for t, s in ranked[:k] if s >= 2.0 and s >= 0.4 * top]
