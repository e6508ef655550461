"""Per-feed options: ``URL key=value ...`` in ``feeds.txt``, ``newsflow:key="value"`` attributes in OPML.

=========================  ==========================================================================
``min_interval=10m``       the feed's own poll interval bounds (seconds, or a number with s, m, h, d);
``max_interval=6h``        they replace ``NEWSFLOW_MIN/MAX_POLL_INTERVAL_SECONDS`` for this feed
``header.NAME=VALUE``      an extra request header (``header.X-Api-Key=env:FEED_KEY``)
``auth=USER:PASSWORD``     HTTP basic auth (``auth=reader:env:FEED_PASS``)
``user_agent=TEXT``        the User-Agent for this feed (quote spaces: ``user_agent="Bot/1 (+https://x)"``)
``language=de``            a language hint copied to the feed's entries (the extractor's detection uses it)
``tags=politics,canada``   category tags copied to the feed's entries and so to its articles
``disabled=true``          listed (``feeds status`` shows it) but never polled
=========================  ==========================================================================

A header value or a password written ``env:NAME`` names an environment variable: the variable's
NAME is what the list, the state and ``feeds status`` hold, and its value is read when a request
is made (a missing variable is an error at start and the feed's failure afterwards, never an empty
header). Headers, auth and the user agent go only to the feed URL's own host (its pages there too);
see :class:`HostHeaders`.

:class:`FeedOptions` is frozen and has one canonical form, :meth:`FeedOptions.pairs`: what the
text list, OPML and the state's ``options`` column (JSON) all hold, parsed back by
:meth:`FeedOptions.parse`, so the three round-trip.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import yarl

ENV_PREFIX = "env:"
KEYS = ("min_interval", "max_interval", "header.NAME", "auth", "user_agent", "language", "tags", "disabled")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: headers the client sets itself (or that HTTP/1.1 framing owns): an option may not replace them
RESERVED_HEADERS = {
    "host": "the client sets it from the URL", "content-length": "HTTP framing", "transfer-encoding": "HTTP framing",
    "connection": "HTTP framing", "te": "HTTP framing", "upgrade": "HTTP framing", "keep-alive": "HTTP framing",
    "accept-encoding": "the client decodes gzip and deflate only",
    "if-none-match": "conditional GET sets it", "if-modified-since": "conditional GET sets it",
    "user-agent": "use user_agent=",
}
MASK = "***"


class OptionError(ValueError):
    """A per-feed option that cannot be read or applied; the message names the option."""


@dataclass(frozen=True)
class HostHeaders:
    """Request headers for one origin only: the feed URL's scheme, host and port.

    They follow a redirect that stays on that origin (or goes from http to https on the same host,
    default ports), and are left out of any request elsewhere: a feed's credentials never reach
    another site, whether a redirect or an entry's link leads there.
    """

    scheme: str
    host: str
    port: int | None
    headers: Mapping[str, str]

    @classmethod
    def for_feed(cls, feed_url: str, headers: Mapping[str, str]) -> HostHeaders | None:
        if not headers:
            return None
        url = yarl.URL(feed_url)
        return cls(url.scheme, (url.raw_host or "").lower(), url.port, dict(headers))

    def applies_to(self, url: str | yarl.URL) -> bool:
        target = url if isinstance(url, yarl.URL) else yarl.URL(url)
        if (target.raw_host or "").lower() != self.host or not self.host:
            return False
        if target.scheme == self.scheme:
            return target.port == self.port
        upgrade = self.scheme == "http" and target.scheme == "https"
        return upgrade and self.port == 80 and target.port == 443

    def for_url(self, url: str | yarl.URL) -> dict[str, str]:
        """The headers to add to a request of ``url``: all of them on the feed's origin, none elsewhere."""
        return dict(self.headers) if self.applies_to(url) else {}


@dataclass(frozen=True)
class FeedOptions:
    """One feed's options (all optional); secrets as ``env:NAME`` or literal values (masked when shown)."""

    min_interval: float | None = None
    max_interval: float | None = None
    headers: tuple[tuple[str, str], ...] = ()
    auth: tuple[str, str] | None = None  # (user, password or env:NAME)
    user_agent: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    disabled: bool = False

    # --- reading ---------------------------------------------------------------------------------

    @classmethod
    def parse(cls, pairs: Iterable[tuple[str, str]]) -> FeedOptions:
        """Options from ``(key, value)`` pairs; raises :class:`OptionError` naming the bad one."""
        values: dict[str, object] = {}
        headers: dict[str, tuple[str, str]] = {}
        for key, value in pairs:
            if key.startswith("header."):
                name = _header_name(key[len("header."):])
                if name.lower() in headers:
                    raise OptionError(f"{key} given twice")
                headers[name.lower()] = (name, _text(key, value))
                continue
            if key not in _READERS:
                raise OptionError(f"unknown option {key!r} (known: {', '.join(KEYS)})")
            if key in values:
                raise OptionError(f"{key} given twice")
            values[key] = _READERS[key](key, value)
        options = cls(headers=tuple(headers.values()), **values)  # type: ignore[arg-type]
        options._check()
        return options

    def _check(self) -> None:
        low, high = self.min_interval, self.max_interval
        if low is not None and high is not None and low > high:
            raise OptionError(f"min_interval ({_duration_text(low)}) exceeds max_interval ({_duration_text(high)})")
        if self.auth is not None and any(n.lower() == "authorization" for n, _ in self.headers):
            raise OptionError("auth and header.Authorization both set the Authorization header: keep one")

    @classmethod
    def from_json(cls, text: str | None) -> FeedOptions:
        """The state's ``options`` column (``[[key, value], ...]``; NULL: no options)."""
        if not text:
            return NO_OPTIONS
        try:
            pairs = json.loads(text)
            return cls.parse((str(k), str(v)) for k, v in pairs)
        except (ValueError, TypeError) as exc:
            raise OptionError(f"stored feed options unreadable ({exc}): re-read the feed list") from None

    # --- writing -----------------------------------------------------------------------------------

    def pairs(self) -> list[tuple[str, str]]:
        """The canonical ``(key, value)`` pairs (empty for no options)."""
        out: list[tuple[str, str]] = []
        if self.min_interval is not None:
            out.append(("min_interval", _duration_text(self.min_interval)))
        if self.max_interval is not None:
            out.append(("max_interval", _duration_text(self.max_interval)))
        out += [(f"header.{name}", value) for name, value in self.headers]
        if self.auth is not None:
            out.append(("auth", f"{self.auth[0]}:{self.auth[1]}"))
        if self.user_agent is not None:
            out.append(("user_agent", self.user_agent))
        if self.language is not None:
            out.append(("language", self.language))
        if self.tags:
            out.append(("tags", ",".join(self.tags)))
        if self.disabled:
            out.append(("disabled", "true"))
        return out

    def to_json(self) -> str | None:
        pairs = self.pairs()
        return json.dumps(pairs, ensure_ascii=False) if pairs else None

    def masked(self) -> list[tuple[str, str]]:
        """:meth:`pairs` fit to show: ``env:NAME`` as it is, a literal header value or password as ``***``."""
        out = []
        for key, value in self.pairs():
            if key.startswith("header.") and not value.startswith(ENV_PREFIX):
                value = MASK
            elif key == "auth" and self.auth is not None and not self.auth[1].startswith(ENV_PREFIX):
                value = f"{self.auth[0]}:{MASK}"
            out.append((key, value))
        return out

    # --- applying ----------------------------------------------------------------------------------

    def env_names(self) -> list[tuple[str, str]]:
        """``(option key, variable name)`` of every value read from the environment."""
        named = [(f"header.{n}", v) for n, v in self.headers]
        if self.auth is not None:
            named.append(("auth", self.auth[1]))
        return [(key, value[len(ENV_PREFIX):]) for key, value in named if value.startswith(ENV_PREFIX)]

    def missing_env(self, environ: Mapping[str, str]) -> list[str]:
        """One message per environment variable this feed needs that is unset or empty."""
        return [f"option {key} names the environment variable {name}, which is not set (or empty)"
                for key, name in self.env_names() if not environ.get(name)]

    def request_headers(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The headers this feed's requests carry (its own host only): values read from ``environ`` now."""
        missing = self.missing_env(environ)
        if missing:
            raise OptionError(missing[0])
        out = {name: _resolve(f"header.{name}", value, environ) for name, value in self.headers}
        if self.auth is not None:
            user, password = self.auth[0], _resolve("auth", self.auth[1], environ)
            out["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        if self.user_agent is not None:
            out["User-Agent"] = self.user_agent
        return out

    def entry_update(self) -> dict[str, object]:
        """What this feed's options put on each of its entries (``FeedEntry.tags``, ``language_hint``)."""
        update: dict[str, object] = {}
        if self.tags:
            update["tags"] = list(self.tags)
        if self.language is not None:
            update["language_hint"] = self.language
        return update


NO_OPTIONS = FeedOptions()


# --- one value per key ----------------------------------------------------------------------------

def parse_duration(key: str, value: str) -> float:
    """``90``, ``90s``, ``10m``, ``6h``, ``1d`` -> seconds (more than 0)."""
    match = _DURATION.match(value.strip().lower())
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if seconds <= 0:
        raise OptionError(f"{key}={value!r}: not a duration (seconds, or a number with s, m, h or d: 90, 10m, 6h)")
    return seconds


def _duration_text(seconds: float) -> str:
    for unit in ("d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{seconds / _UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"


def _text(key: str, value: str) -> str:
    if not value.strip():
        raise OptionError(f"{key}: empty value")
    if _CONTROL.search(value):
        raise OptionError(f"{key}: control characters (a line break?) in the value")
    if value.startswith(ENV_PREFIX) and not _ENV_NAME.match(value[len(ENV_PREFIX):]):
        raise OptionError(f"{key}={value!r}: env: must be followed by an environment variable name (FEED_KEY)")
    return value


def _header_name(name: str) -> str:
    if not _HEADER_NAME.match(name):
        raise OptionError(f"header.{name}: not a header name (letters, digits and '-')")
    reason = RESERVED_HEADERS.get(name.lower())
    if reason:
        raise OptionError(f"header.{name}: not settable per feed ({reason})")
    return name


def _auth(key: str, value: str) -> tuple[str, str]:
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise OptionError(f"{key}: USER:PASSWORD expected (auth=reader:env:FEED_PASS reads the password from FEED_PASS)")
    return _text(key, user), _text(key, password)


def _language(key: str, value: str) -> str:
    if not _LANGUAGE.match(value):
        raise OptionError(f"{key}={value!r}: not a language code (de, en-GB, pt_BR)")
    return value


def _tags(key: str, value: str) -> tuple[str, ...]:
    tags = tuple(dict.fromkeys(t.strip() for t in _text(key, value).split(",") if t.strip()))
    if not tags:
        raise OptionError(f"{key}: no tag (tags=politics,canada)")
    return tags


def _flag(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise OptionError(f"{key}={value!r}: true or false expected")


def _resolve(key: str, value: str, environ: Mapping[str, str]) -> str:
    if not value.startswith(ENV_PREFIX):
        return value
    resolved = environ.get(value[len(ENV_PREFIX):], "")
    if _CONTROL.search(resolved):
        raise OptionError(f"option {key}: the environment variable {value[len(ENV_PREFIX):]} holds control "
                          "characters (a line break?)")
    return resolved


_READERS: dict[str, Callable[[str, str], object]] = {
    "min_interval": parse_duration, "max_interval": parse_duration, "auth": _auth, "user_agent": _text,
    "language": _language, "tags": _tags, "disabled": _flag,
}
