"""A generated news site of several outlets reporting the same ~20 events, for the scale-out tests.

:func:`generate` builds it deterministically from a seed; :class:`ScaleSite` serves it on
127.0.0.1 from a thread of the test process (like :mod:`tests.hostile.sites`).

* Outlets: each has its own RSS feed (``/<outlet>/rss.xml``, every article it carries, with an
  ETag) and its own page chrome: masthead, navigation, a related-links box, a newsletter or
  cookie box and a footer, each laid out differently, so the extractor has boilerplate to remove.
* Events: each has its own city and country, three people (an official, an expert, a witness),
  two organisations and six key terms of its own (no two events share any of them), so the
  right story clustering is unambiguous. An event's articles are published within three days of
  its start; the events start over three weeks.
* Articles: each outlet writes each event in its own words: every article picks its own subset
  of the event's facts, its own phrasing of each fact, its own sentence order and headline, so
  two reports of one event are the same story but never near-duplicates.
* Syndication: about 10% of the pages are copies of another outlet's article (the same wire
  text, title and author) under the carrying outlet's chrome and URL: those, and only those,
  are duplicates.

The ground truth a pipeline should reproduce: :meth:`Site.story_groups` (the articles of each
event) and :meth:`Site.duplicate_groups` (each original with its copies), keyed by URL path.
"""

from __future__ import annotations

import hashlib
import html
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import urlsplit

from tests.hostile.sites import LocalSite

START = datetime(2024, 3, 4, 6, 0, tzinfo=UTC)
EVENT_SPREAD_DAYS = 18  # events start over this many days (their articles run up to 3 days more)
EVENT_ARTICLE_HOURS = 72  # an event's articles are published within this many hours of its start
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Topic:
    kind: str
    thing: str  # "the flooding"
    terms: tuple[str, str, str, str, str, str]
    unit: str  # what the event's figure counts
    org_local: str  # "{city} Water Authority"
    org_national: str


TOPICS = (
    Topic("flood", "the flooding", ("floodwater", "levee", "evacuation", "rainfall", "sandbags", "reservoir"),
          "homes under evacuation orders", "{city} Water Authority", "National Hydrology Institute"),
    Topic("rail strike", "the rail strike", ("railway", "drivers", "timetable", "walkout", "signalling", "commuters"),
          "cancelled trains", "{city} Rail Workers Union", "Federation of Transport Operators"),
    Topic("wildfire", "the wildfire", ("wildfire", "firefighters", "blaze", "hectares", "scrubland", "embers"),
          "hectares of burned forest", "{city} Fire Service", "Forestry Research Institute"),
    Topic("cyberattack", "the cyberattack", ("ransomware", "hackers", "servers", "encryption", "breach", "passwords"),
          "exposed patient records", "{city} General Hospital", "National Cyber Security Centre"),
    Topic("bridge", "the bridge collapse", ("bridge", "girder", "engineers", "inspection", "concrete", "span"),
          "vehicles caught on the span", "{city} Highways Department", "Institute of Structural Engineers"),
    Topic("vaccine", "the vaccine trial", ("vaccine", "trial", "volunteers", "antibodies", "dosage", "placebo"),
          "enrolled volunteers", "{city} University Hospital", "Medicines Regulatory Agency"),
    Topic("earthquake", "the earthquake", ("earthquake", "magnitude", "aftershocks", "rubble", "seismologists",
                                          "epicentre"),
          "damaged buildings", "{city} Civil Protection Office", "Seismological Institute"),
    Topic("merger", "the bank merger", ("merger", "shareholders", "takeover", "lenders", "valuation", "branches"),
          "branches due to close", "{city} Savings Bank", "Competition Commission"),
    Topic("port strike", "the port strike", ("dockworkers", "containers", "cranes", "shipping", "berths", "cargo"),
          "stranded containers", "{city} Port Authority", "Dockworkers Federation"),
    Topic("spill", "the chemical spill", ("spill", "solvent", "contamination", "toxic", "drainage", "cleanup"),
          "litres of leaked solvent", "{city} Environmental Agency", "Chemical Safety Board"),
    Topic("launch", "the satellite launch", ("satellite", "rocket", "orbit", "launchpad", "telemetry", "payload"),
          "kilograms of payload", "{city} Aerospace Corporation", "Orbital Research Institute"),
    Topic("theft", "the museum theft", ("paintings", "thieves", "gallery", "alarm", "canvas", "auction"),
          "stolen paintings", "{city} Museum of Fine Arts", "Art Recovery Society"),
    Topic("recount", "the election recount", ("ballots", "recount", "candidates", "turnout", "polling",
                                             "scrutineers"),
          "disputed ballots", "{city} Electoral Commission", "Democratic Reform Party"),
    Topic("mine", "the mine collapse", ("miners", "shaft", "tunnel", "rescuers", "ventilation", "copper"),
          "trapped miners", "{city} Mining Company", "Mine Safety Inspectorate"),
    Topic("drought", "the drought", ("drought", "irrigation", "harvest", "wells", "aquifer", "livestock"),
          "farms without water", "{city} Farmers Association", "Ministry of Agriculture"),
    Topic("airline", "the airline collapse", ("airline", "creditors", "insolvency", "passengers", "refunds",
                                             "aircraft"),
          "stranded passengers", "{city} Airways", "Civil Aviation Authority"),
    Topic("stadium", "the stadium closure", ("stadium", "grandstand", "spectators", "renovation", "contractors",
                                            "turf"),
          "refunded season tickets", "{city} Football Club", "Sports Grounds Safety Board"),
    Topic("heatwave", "the heatwave", ("heatwave", "temperatures", "hydration", "shelters", "humidity", "sunstroke"),
          "heat-related hospital admissions", "{city} Public Health Department", "Meteorological Service"),
    Topic("ferry", "the ferry accident", ("ferry", "hull", "lifejackets", "coastguard", "divers", "harbour"),
          "rescued people", "{city} Coastguard Command", "Maritime Accident Investigation Bureau"),
    Topic("teachers", "the teachers' strike", ("teachers", "classrooms", "salaries", "pupils", "curriculum",
                                              "picket"),
          "closed schools", "{city} Teachers Union", "Education Ministry"),
    Topic("grid", "the grid failure", ("substation", "transformers", "outage", "electricity", "generators", "grid"),
          "households without power", "{city} Electricity Board", "Energy Regulator Office"),
    Topic("factory", "the factory closure", ("factory", "layoffs", "assembly", "automation", "suppliers", "plant"),
          "lost jobs", "{city} Motors", "Metalworkers Union"),
    Topic("measles", "the measles outbreak", ("measles", "outbreak", "immunisation", "clinics", "infections",
                                             "quarantine"),
          "confirmed cases", "{city} Children's Hospital", "Disease Control Agency"),
    Topic("landslide", "the landslide", ("landslide", "slope", "debris", "excavators", "hillside", "villagers"),
          "buried houses", "{city} Mountain Rescue Service", "Geological Survey Office"),
)

CITIES = (
    ("Porto", "Portugal"), ("Gdansk", "Poland"), ("Valencia", "Spain"), ("Lyon", "France"),
    ("Hamburg", "Germany"), ("Turin", "Italy"), ("Rotterdam", "Netherlands"), ("Gothenburg", "Sweden"),
    ("Bergen", "Norway"), ("Tampere", "Finland"), ("Cork", "Ireland"), ("Brno", "Czech Republic"),
    ("Graz", "Austria"), ("Thessaloniki", "Greece"), ("Izmir", "Turkey"), ("Mombasa", "Kenya"),
    ("Durban", "South Africa"), ("Cebu", "Philippines"), ("Osaka", "Japan"), ("Busan", "South Korea"),
    ("Perth", "Australia"), ("Halifax", "Canada"), ("Curitiba", "Brazil"), ("Valparaiso", "Chile"),
    ("Chiang Mai", "Thailand"), ("Surabaya", "Indonesia"),
)

FIRST_NAMES = (
    "Anna", "Marta", "Elena", "Sofia", "Clara", "Helen", "Laura", "Julia", "Nina", "Paula", "Irene", "Rosa",
    "Alice", "Emma", "Olivia", "Sarah", "Diana", "Monica", "Teresa", "Grace", "Karen", "Lucy", "Vera", "Eva",
    "David", "Peter", "Thomas", "Martin", "Paul", "Daniel", "Mark", "Simon", "Robert", "Victor", "Oscar",
    "Henry", "George", "Carlos", "Hugo", "Felix", "Ivan", "Lukas", "Stefan", "Andrew", "Brian", "Colin",
    "Dennis", "Edward", "Frank", "Gordon", "Harold", "Jacob", "Kevin", "Leon", "Nathan", "Philip", "Roger",
    "Samuel", "Walter", "Adrian",
)
LAST_NAMES = (
    "Lindqvist", "Moreau", "Castellano", "Novak", "Brandt", "Okafor", "Tanaka", "Haddad", "Kowalczyk",
    "Fitzgerald", "Albrecht", "Petrovic", "Sandoval", "Vermeulen", "Oyelaran", "Kristiansen", "Marchetti",
    "Dubois", "Halvorsen", "Szabo", "Whitcombe", "Ferreira", "Nakamura", "Lundgren", "Papadakis", "Mwangi",
    "Oliveira", "Baumann", "Rasmussen", "Delacroix", "Esposito", "Kaminski", "Lefebvre", "Mendoza",
    "Nieminen", "Ostrowski", "Quintero", "Rautio", "Sorensen", "Takahashi", "Ulrich", "Valente", "Wojcik",
    "Yilmaz", "Zielinski", "Abernathy", "Bianchi", "Carvalho", "Drummond", "Eriksen", "Fontaine",
    "Gallagher", "Holmberg", "Iversen", "Jankowski", "Keller", "Lombardi", "Mancini", "Nordstrom", "Pellegrini",
    "Richter", "Stavros", "Thorsen", "Underwood",
)

# Ten facts an article may report; four phrasings each. Slots are filled from the event.
FACTS: tuple[tuple[str, str, str, str], ...] = (
    ("{Thing} in {city} has left {figure} {unit}, officials in {country} said, as the {t0} and the {t1} "
     "dominated the response.",
     "Authorities in {city}, {country}, are dealing with {thing} after {figure} {unit} were reported and crews "
     "concentrated on the {t0}.",
     "The {org_local} confirmed {figure} {unit} in {city} as {thing} spread concern about the {t0} across "
     "{country}.",
     "{city} woke on {weekday} to {thing}, with {figure} {unit} counted and questions mounting over the {t0} "
     "and the {t1}."),
    ("\"We are treating the {t0} as our first priority,\" said {official}, director of the {org_local}.",
     "{official}, who leads the {org_local}, told reporters that the {t1} would be reviewed within days.",
     "Speaking outside the offices of the {org_local}, {official} said the {t0} had been \"far worse than "
     "anyone expected\".",
     "The director of the {org_local}, {official}, promised a full account of the {t1} and the {t2}."),
    ("{expert}, an analyst at the {org_national}, said the {t2} had been a known risk for years.",
     "According to {expert} of the {org_national}, the {t3} in {city} showed warning signs long before "
     "{weekday}.",
     "Experts at the {org_national}, including {expert}, called for an independent study of the {t2} and "
     "the {t3}.",
     "\"Nobody should be surprised by the {t3},\" {expert} of the {org_national} said in an interview."),
    ("By the latest count there were {figure} {unit}, and the {org_local} expected the number to rise.",
     "Officials put the figure at {figure} {unit}, a number that {expert_last} described as conservative.",
     "With {figure} {unit}, it is the most serious case of {thing} that {city} has seen in a decade.",
     "At least {figure} {unit} were confirmed by the evening, according to the {org_local}."),
    ("Crews worked through the night on the {t4} while the {t5} remained a concern for neighbouring "
     "districts.",
     "Much of the attention turned to the {t5}, and to whether the {t4} had been checked properly.",
     "Residents described the {t4} near the centre of {city} and long delays caused by the {t5}.",
     "Inspectors said the {t4} and the {t5} would be examined before any decision on reopening."),
    ("{witness}, who lives in {city}, said the {t0} had changed daily life on her street.",
     "\"We heard about the {t1} from neighbours first,\" said {witness}, a resident of {city}.",
     "For {witness}, a shopkeeper in central {city}, the {t1} meant a week of lost trade.",
     "{witness} told local media in {city} that nobody had warned residents about the {t0}."),
    ("The government of {country} said it was monitoring the {t2} and would send more support to {city}.",
     "Ministers in {country} are expected to discuss {thing} and the {t3} at a cabinet meeting next week.",
     "Opposition politicians in {country} accused the authorities of ignoring the {t3} for too long.",
     "The situation in {city} has prompted a wider debate in {country} about the {t2} and the {t5}."),
    ("The {org_local} said a public inquiry into the {t4} would open within a month.",
     "{official_last} is due to present a plan on the {t5} to the {city} city council on {weekday}.",
     "An independent review led by the {org_national} will report on the {t3} before the end of the year.",
     "Officials said further updates on the {t0} would be published daily by the {org_local}."),
    ("The {org_national} had warned in a report last year that the {t2} in {city} needed urgent investment.",
     "It is not the first time {city} has had problems with its {t5}; a smaller incident happened three years "
     "ago.",
     "Records from the {org_local} show that the {t4} was last reviewed well before the current crisis.",
     "{expert_last} noted that similar problems with the {t3} had affected other cities in {country}."),
    ("{official_last} added that the {org_local} had asked the {org_national} for technical help with the "
     "{t1}.",
     "Asked about the {t2}, {official_last} said only that \"every option is on the table\".",
     "{official_last} thanked the volunteers who had helped with the {t0} and the {t4}.",
     "In a later statement {official_last} said the {t5} would not delay the response in {city}."),
)
# Each article words the phrasings its own way: one choice per group (whole words only; no event's own
# names or terms are among these).
WORDING = (
    ("said", "says", "stated"), ("told reporters", "told journalists", "said at a briefing"),
    ("officials", "authorities", "local officials"), ("residents", "locals", "people living nearby"),
    ("within days", "shortly", "in the coming days"), ("urgent", "serious", "substantial"),
    ("long before", "well before", "weeks before"), ("a concern", "a worry", "a problem"),
    ("promised", "pledged", "vowed to deliver"), ("expected", "likely", "due"),
    ("the number", "that figure", "the total"), ("independent", "external", "outside"),
)
HEADLINES = (
    "{Thing} in {city}: {figure} {unit} as {t0} worries grow",
    "{city} counts the cost of {thing}",
    "{official} vows answers on {t1} after {thing}",
    "Questions over {t2} as {city} faces {thing}",
    "{org_local} under pressure after {thing}",
    "What we know about {thing} in {city}",
    "{country}: {t0} and {t3} at the centre of {thing}",
    "{expert} warns of {t3} risks after {thing} in {city}",
)


@dataclass(frozen=True)
class Event:
    number: int
    topic: Topic
    city: str
    country: str
    official: str
    expert: str
    witness: str
    figure: int
    starts: datetime

    @property
    def org_local(self) -> str:
        return self.topic.org_local.format(city=self.city)

    def vocabulary(self) -> set[str]:
        """What is the event's own: its people, places, organisations and key terms."""
        return {self.city, self.country, self.official, self.expert, self.witness, self.org_local,
                self.topic.org_national, *self.topic.terms}

    def slots(self, weekday: str) -> dict[str, str]:
        terms = {f"t{i}": t for i, t in enumerate(self.topic.terms)}
        return {
            "city": self.city, "country": self.country, "thing": self.topic.thing,
            "Thing": self.topic.thing[0].upper() + self.topic.thing[1:], "unit": self.topic.unit,
            "figure": f"{self.figure:,}", "official": self.official, "expert": self.expert,
            "witness": self.witness, "official_last": self.official.split()[-1],
            "expert_last": self.expert.split()[-1], "org_local": self.org_local,
            "org_national": self.topic.org_national, "weekday": weekday, **terms,
        }


@dataclass(frozen=True)
class Outlet:
    slug: str
    name: str
    layout: int
    sections: tuple[str, ...]


OUTLETS = (
    Outlet("harbourherald", "The Harbour Herald", 0, ("World", "Business", "Science", "Opinion")),
    Outlet("dailymeridian", "Daily Meridian", 1, ("News", "Economy", "Culture", "Sport")),
    Outlet("northstar", "North Star Online", 2, ("Latest", "Regions", "Money", "Health")),
    Outlet("globewire", "Globe Wire Service", 3, ("Top stories", "Markets", "Environment", "Tech")),
    Outlet("citizenpost", "The Citizen Post", 4, ("Home", "Politics", "Local", "Weather")),
    Outlet("eveningledger", "Evening Ledger", 5, ("Front page", "Nation", "Abroad", "Letters")),
)


@dataclass(frozen=True)
class Page:
    outlet: Outlet
    path: str
    event: Event
    title: str
    author: str
    published: datetime
    paragraphs: tuple[str, ...]
    copy_of: str | None = None  # the path of the original, for a syndicated copy

    @property
    def section(self) -> str:
        return self.path.split("/")[2]


@dataclass
class Site:
    """The generated content: events, outlets and pages (by path, in generation order)."""

    seed: int
    events: list[Event]
    outlets: tuple[Outlet, ...]
    pages: dict[str, Page] = field(default_factory=dict)

    def pages_of(self, outlet: Outlet) -> list[Page]:
        return [p for p in self.pages.values() if p.outlet is outlet]

    def copies(self) -> list[Page]:
        return [p for p in self.pages.values() if p.copy_of is not None]

    def story_groups(self) -> set[frozenset[str]]:
        """Paths of the articles of each event: the stories a pipeline should find."""
        return {frozenset(p.path for p in self.pages.values() if p.event is e) for e in self.events}

    def duplicate_groups(self) -> set[frozenset[str]]:
        """Each article with its syndicated copies (an article nobody copied is a group of one)."""
        groups: dict[str, set[str]] = {}
        for p in self.pages.values():
            groups.setdefault(p.copy_of or p.path, set()).add(p.path)
        return {frozenset(g) for g in groups.values()}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def _events(rng: random.Random, count: int) -> list[Event]:
    if count > min(len(TOPICS), len(CITIES)) or 3 * count > min(len(FIRST_NAMES), len(LAST_NAMES)):
        raise ValueError(f"at most {min(len(TOPICS), len(CITIES), len(FIRST_NAMES) // 3)} events")
    topics, cities = rng.sample(TOPICS, count), rng.sample(CITIES, count)
    names = [f"{first} {last}" for first, last in
             zip(rng.sample(FIRST_NAMES, 3 * count), rng.sample(LAST_NAMES, 3 * count), strict=True)]
    offsets = sorted(rng.randrange(EVENT_SPREAD_DAYS * 24 * 60) for _ in range(count))
    return [Event(i, topics[i], cities[i][0], cities[i][1], *names[3 * i:3 * i + 3],
                  figure=rng.randrange(40, 4000), starts=START + timedelta(minutes=offsets[i]))
            for i in range(count)]


def _write(rng: random.Random, event: Event, published: datetime) -> tuple[str, tuple[str, ...]]:
    """One outlet's report of ``event``: its own headline, facts, phrasings and order."""
    slots = event.slots(WEEKDAYS[(published - timedelta(hours=rng.randrange(0, 30))).weekday()])
    facts = [0, *rng.sample(range(1, len(FACTS)), rng.randint(6, 8))]
    tail = facts[1:]  # the lead stays first; the rest in an order of the writer's own
    rng.shuffle(tail)
    wording = {group[0]: rng.choice(group) for group in WORDING}
    reword = re.compile(r"\b(" + "|".join(map(re.escape, wording)) + r")\b")
    sentences = [reword.sub(lambda m: wording[m.group(1)], rng.choice(FACTS[f]).format(**slots))
                 for f in (facts[0], *tail)]
    paragraphs: list[str] = []
    while sentences:
        take = rng.choice((1, 2, 2, 3))
        paragraphs.append(" ".join(sentences[:take]))
        sentences = sentences[take:]
    return rng.choice(HEADLINES).format(**slots), tuple(paragraphs)


def generate(seed: int = 14, *, events: int = 20, per_event: int = 10, copies: float = 0.1,
             outlets: int = 6) -> Site:
    """The site for ``seed``: ``events`` events, ``per_event`` original reports of each spread over
    ``outlets`` outlets, plus ``copies`` (a fraction of the originals) syndicated copies."""
    rng = random.Random(seed)
    site = Site(seed, _events(rng, events), OUTLETS[:outlets])
    reporters = {o.slug: [f"{f} {ln}" for f, ln in zip(rng.sample(FIRST_NAMES, 4), rng.sample(LAST_NAMES, 4),
                                                       strict=True)] for o in site.outlets}
    originals: list[Page] = []
    for event in site.events:
        first = rng.randrange(len(site.outlets))
        for i in range(per_event):
            outlet = site.outlets[(first + i) % len(site.outlets)]
            published = event.starts + timedelta(minutes=rng.randrange(0, EVENT_ARTICLE_HOURS * 60))
            title, paragraphs = _write(rng, event, published)
            path = _path(outlet, rng.choice(outlet.sections), published, title, len(site.pages))
            page = Page(outlet, path, event, title, rng.choice(reporters[outlet.slug]), published, paragraphs)
            site.pages[path] = page
            originals.append(page)
    for original in rng.sample(originals, round(copies * len(originals))):
        outlet = rng.choice([o for o in site.outlets if o is not original.outlet])
        published = original.published + timedelta(minutes=rng.randrange(20, 8 * 60))
        path = _path(outlet, rng.choice(outlet.sections), published, original.title, len(site.pages))
        site.pages[path] = Page(outlet, path, original.event, original.title, original.author, published,
                                original.paragraphs, copy_of=original.path)
    return site


def _path(outlet: Outlet, section: str, published: datetime, title: str, n: int) -> str:
    return f"/{outlet.slug}/{_slug(section)}/{published:%Y/%m/%d}/{_slug(title)}-{n}"


# ---- page chrome, one layout per outlet ----------------------------------------------------------

def _nav(outlet: Outlet, tag: str = "nav") -> str:
    links = "".join(f'<li><a href="/{outlet.slug}/{_slug(s)}/">{html.escape(s)}</a></li>' for s in outlet.sections)
    return f'<{tag} class="site-nav"><ul>{links}<li><a href="/{outlet.slug}/subscribe">Subscribe</a></li></ul></{tag}>'


def _related(site: Site, page: Page) -> str:
    """Links to the outlet's neighbouring articles (other events' headlines: boilerplate)."""
    own = site.pages_of(page.outlet)
    at = own.index(page)
    picks = [own[(at + k) % len(own)] for k in (1, 2, 3, 5) if own[(at + k) % len(own)] is not page]
    return "".join(f'<li><a href="{p.path}">{html.escape(p.title)}</a></li>' for p in picks)


def _body(page: Page) -> str:
    return "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in page.paragraphs)


def _head(page: Page, base: str) -> str:
    title = html.escape(page.title)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} | '
            f'{html.escape(page.outlet.name)}</title><link rel="canonical" href="{base}{page.path}">'
            f'<meta property="og:title" content="{title}">'
            f'<meta property="og:site_name" content="{html.escape(page.outlet.name)}">'
            f'<meta name="author" content="{html.escape(page.author)}">'
            f'<meta property="article:published_time" content="{page.published.isoformat()}">'
            f'<meta property="article:section" content="{html.escape(page.section)}"></head>')


def _footer(outlet: Outlet) -> str:
    return (f"<p>&copy; 2024 {html.escape(outlet.name)}. All rights reserved. "
            f'<a href="/{outlet.slug}/privacy">Privacy policy</a> · <a href="/{outlet.slug}/terms">Terms of use</a> · '
            f'<a href="/{outlet.slug}/contact">Contact the newsroom</a></p>')


def page_html(site: Site, page: Page, base: str) -> bytes:
    """The article page in its outlet's chrome."""
    o, title, related = page.outlet, html.escape(page.title), _related(site, page)
    when = f'<time datetime="{page.published.isoformat()}">{page.published:%d %B %Y, %H:%M} UTC</time>'
    byline = f"By {html.escape(page.author)}"
    if page.copy_of is not None:
        byline += f", {html.escape(site.pages[page.copy_of].outlet.name)}"
    body = _body(page)
    layouts = (
        f"""<body><header><div class="masthead"><a href="/{o.slug}/">{o.name}</a></div>{_nav(o)}</header>
<main><article><h1>{title}</h1><p class="byline">{byline} · {when}</p>{body}</article>
<aside class="related"><h2>Related coverage</h2><ul>{related}</ul></aside></main>
<div class="newsletter"><h3>Get the morning briefing</h3><p>Sign up for our newsletter.</p></div>
<footer>{_footer(o)}</footer></body>""",
        f"""<body><div id="cookie-banner">We use cookies to improve your experience. <button>Accept</button></div>
<div id="page"><div class="top-bar"><span class="logo">{o.name}</span> <a href="/{o.slug}/login">Log in</a></div>
{_nav(o, "div")}<div class="content"><h1 class="headline">{title}</h1><div class="meta"><span class="author">{byline}
</span> {when}</div><div class="share"><a href="#">Share</a> <a href="#">Tweet</a> <a href="#">Email</a></div>
<div class="story-body">{body}</div><div class="more-stories"><h4>More stories</h4><ul>{related}</ul></div></div>
<div class="site-footer">{_footer(o)}</div></div></body>""",
        f"""<body><header class="brand"><h2><a href="/{o.slug}/">{o.name}</a></h2>
<form action="/{o.slug}/search"><input name="q" placeholder="Search"></form></header>{_nav(o)}
<div class="layout"><div class="main-col"><article class="post"><header><h1>{title}</h1>
<p class="post-meta">{byline} {when}</p></header><section class="article-body">{body}</section></article></div>
<div class="sidebar"><h3>Most read</h3><ol>{related}</ol><h3>Follow us</h3><p>Facebook · Instagram</p></div></div>
<footer class="site-footer">{_footer(o)}</footer></body>""",
        f"""<body><div class="wire-header"><b>{o.name}</b> | <a href="/{o.slug}/">Top stories</a></div>{_nav(o)}
<div class="story"><h1>{title}</h1><div class="dateline">{byline} | {when}</div>
<div class="text">{body}</div><div class="tags">Filed under: {html.escape(page.section)}</div></div>
<div class="recommended"><p>Recommended for you</p><ul>{related}</ul></div>
<div class="legal">{_footer(o)}</div></body>""",
        f"""<body><div class="top"><a class="home" href="/{o.slug}/">{o.name}</a>
<span class="date">{page.published:%A %d %B %Y}</span></div>{_nav(o)}
<main id="content"><h1 itemprop="headline">{title}</h1><p class="by">{byline}</p><p class="when">{when}</p>
<div itemprop="articleBody">{body}</div><div class="subscribe-box"><p>Support local journalism.
<a href="/{o.slug}/subscribe">Subscribe today</a></p></div>
<section class="read-next"><h2>Read next</h2><ul>{related}</ul></section></main>
<footer id="footer">{_footer(o)}</footer></body>""",
        f"""<body><table class="frame"><tr><td class="logo">{o.name}</td><td>{_nav(o, "div")}</td></tr></table>
<div class="wrapper"><div class="article"><h1>{title}</h1><div class="credit">{byline}, {when}</div>
<div class="article-text">{body}</div></div>
<div class="also"><b>Also in {o.name}</b><ul>{related}</ul></div></div>
<div class="bottom">{_footer(o)}<p>Letters to the editor: letters@{o.slug}.example</p></div></body>""",
    )
    return (_head(page, base) + layouts[o.layout % len(layouts)] + "</html>").encode()


def feed_xml(site: Site, outlet: Outlet, base: str, listed: set[str] | None = None) -> bytes:
    """The outlet's RSS feed: every article it carries (of ``listed`` paths, if given), newest first."""
    items = sorted((p for p in site.pages_of(outlet) if listed is None or p.path in listed),
                   key=lambda p: p.published, reverse=True)
    entries = "".join(
        f"<item><title>{html.escape(p.title)}</title><link>{base}{p.path}</link>"
        f'<guid isPermaLink="true">{base}{p.path}</guid><pubDate>{format_datetime(p.published)}</pubDate>'
        f"<author>{html.escape(p.author)}</author>"
        f"<description>{html.escape(p.paragraphs[0][:200])}</description></item>"
        for p in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{html.escape(outlet.name)}</title><link>{base}/{outlet.slug}/</link>"
            f"<description>Latest from {html.escape(outlet.name)}</description>{entries}</channel></rss>").encode()


class ScaleSite(LocalSite):
    """Serves a generated :class:`Site` on ``host`` (a free port unless ``port`` is given)."""

    def __init__(self, site: Site, host: str = "127.0.0.1", port: int = 0, *, staged: bool = False,
                 page_delay: float = 0.0) -> None:
        """``staged``: the feeds list only the articles :meth:`release` has released so far (in an
        order shuffled from the site's seed), so that a test can let news arrive in waves.
        ``page_delay``: seconds each article page takes to answer (a slow site)."""
        super().__init__(host, port)
        self.site = site
        self.page_delay = page_delay
        self.page_hits: dict[str, int] = {}
        self.lock = threading.Lock()
        self.pending = list(site.pages)
        random.Random(site.seed).shuffle(self.pending)
        self.released: set[str] = set() if staged else set(site.pages)
        if not staged:
            self.pending.clear()

    def release(self, n: int | None = None) -> list[str]:
        """List ``n`` more articles in their feeds (all the rest if None); their URLs."""
        with self.lock:
            batch, self.pending = self.pending[:n], self.pending[n:] if n is not None else []
            self.released.update(batch)
        return [self.base_url + path for path in batch]

    def feed_urls(self) -> list[str]:
        return [f"{self.base_url}/{o.slug}/rss.xml" for o in self.site.outlets]

    def article_urls(self) -> list[str]:
        """Every article of the site (released or not)."""
        return [self.base_url + path for path in self.site.pages]

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        r = cast(Any, req)  # tests.hostile.sites._Handler: it has reply()
        path = urlsplit(r.path).path
        outlet = next((o for o in self.site.outlets if path == f"/{o.slug}/rss.xml"), None)
        page = self.site.pages.get(path)
        if outlet is not None:
            with self.lock:
                listed = set(self.released)
            body = feed_xml(self.site, outlet, self.base_url, listed)
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if r.headers.get("If-None-Match") == etag:
                r.reply(304, headers={"ETag": etag})
            else:
                r.reply(200, body, {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": etag})
        elif page is not None:
            time.sleep(self.page_delay)
            self.page_hits[path] = self.page_hits.get(path, 0) + 1
            r.reply(200, page_html(self.site, page, self.base_url), {"Content-Type": "text/html; charset=utf-8"})
        else:
            r.reply(404, b"not found", {"Content-Type": "text/plain"})
