"""The sink's read-only HTTP JSON API: ``/articles``, ``/articles/{id}``, ``/stories``.

FastAPI (on Starlette, served by uvicorn): the endpoints are typed functions, so the
query parameters are validated and the OpenAPI schema (``/openapi.json``, browsable at
``/docs``, Swagger UI served from the ``fastapi-offline`` package: no CDN) is generated from
the same types as the responses. Every value reaches the database as a bound parameter
through :class:`~services.sink.store.Filters`; no SQL is built from request text.

Guards, before any endpoint runs (:class:`Guard`): a request larger than
``NEWSFLOW_API_MAX_REQUEST_BYTES`` (target plus headers) or carrying a body gets 413; a
client address over ``NEWSFLOW_API_RATE_PER_SECOND`` (token bucket, burst
``NEWSFLOW_API_RATE_BURST``) gets 429 with ``Retry-After``. uvicorn's
``limit_concurrency`` answers 503 when too many requests are in flight. Storage down: 503.

Reads run concurrently on the store's read connections (``NEWSFLOW_API_READ_CONNECTIONS``), a
search never taking the last one, so a lookup by id stays fast while searches run; a read past
``NEWSFLOW_API_QUERY_TIMEOUT_SECONDS`` is cancelled (503 with ``Retry-After``). A query the
search engine would reject or that is over a query limit (:mod:`services.sink.textquery`) is
the client's error: 400 with a message, not logged as an outage.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at run time,
# and they name objects local to the functions that add the routes.
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field

from services import __version__
from services.common.messages import Article
from services.sink import metrics
from services.sink.backends import open_store, unavailable_errors
from services.sink.settings import SinkSettings
from services.sink.store import AmbiguousId, BadQuery, Filters, QueryTimeout, Store, Story
from services.sink.textquery import MAX_QUERY_CHARS

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_OFFSET = 100_000
MAX_CONCURRENT_REQUESTS = 32


# --- response models (they are the OpenAPI schema) ----------------------------------------

class ErrorOut(BaseModel):
    detail: str = Field(description="what went wrong, and what to change")


class AmbiguousOut(ErrorOut):
    candidates: int = Field(description="how many ids start with the prefix (at most 100 are counted)")


QUERY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "a query the search engine rejects, over a query limit, "
                                            "or a story id prefix under 6 characters"},
    409: {"model": AmbiguousOut, "description": "a story id prefix several stories start with"},
    503: {"model": ErrorOut, "description": "storage unavailable, or the read ran past its timeout: retry later"},
}
ID_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "an id prefix under 6 characters"},
    404: {"model": ErrorOut, "description": "no such article"},
    409: {"model": AmbiguousOut, "description": "an id prefix several articles start with"},
}


class ArticleHit(BaseModel):
    article: Article
    snippet: str | None = Field(None, description="matching passage, terms in [brackets] (with `q` only)")


class Page(BaseModel):
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


class ArticlePage(Page):
    items: list[ArticleHit]


class Revision(BaseModel):
    revision: int
    recorded_at: str = Field(description="when this version was stored")
    article: Article


class StoryArticleOut(BaseModel):
    id: str
    title: str | None
    source: str
    url: str
    published_at: datetime | None


class StoryOut(BaseModel):
    story_id: str
    latest_at: datetime | None
    outlets: list[str]
    articles: list[StoryArticleOut]

    @classmethod
    def of(cls, story: Story) -> "StoryOut":
        return cls(story_id=story.story_id, latest_at=story.latest_at, outlets=story.outlets,
                   articles=[StoryArticleOut(**vars(a)) for a in story.articles])


class StoryPage(Page):
    items: list[StoryOut]


# --- the app ------------------------------------------------------------------------------

def create_app(store: Store, settings: SinkSettings) -> FastAPI:
    """The API over ``store`` (its own, opened by :func:`open_api_store`: reads run concurrently)."""
    # FastAPIOffline: /docs (Swagger UI) and /redoc with their assets served from the fastapi-offline
    # package under /static-offline-docs, not from a CDN: the docs work on a machine without internet.
    app = FastAPIOffline(
        title="newsflow articles API", version=__version__,
        description="Read-only access to the articles and stories newsflow stored. Paginated with "
                    "`limit`/`offset`; every list endpoint takes the same filters.",
    )
    filters = filters_dependency(settings.api_max_page_size)
    add_article_routes(app, store, filters)
    add_story_routes(app, store, filters)
    add_error_responses(app)
    add_response_counter(app)
    return app


def filters_dependency(max_page: int) -> Callable[..., Filters]:
    """The query parameters every list endpoint takes, validated, as :class:`Filters`."""

    def filters(
        q: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS, description="full-text query")] = None,
        place: Annotated[str | None, Query(max_length=200, description="place name or gazetteer id")] = None,
        person: Annotated[str | None, Query(max_length=200)] = None,
        org: Annotated[str | None, Query(max_length=200, description="organisation")] = None,
        topic: Annotated[str | None, Query(max_length=200)] = None,
        story: Annotated[str | None, Query(max_length=200, description="story id, or the start of one")] = None,
        source: Annotated[str | None, Query(max_length=200, description="outlet (site name or domain)")] = None,
        since: Annotated[datetime | None, Query(description="published (else fetched) at or after")] = None,
        limit: Annotated[int, Query(ge=1, le=max_page)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> Filters:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return Filters(query=q, place=place, person=person, organisation=org, topic=topic, story=story,
                       source=source, since=since, limit=limit, offset=offset)

    return filters


def _next_offset(f: Filters, got: int) -> int | None:
    return f.offset + f.limit if got == f.limit else None


ArticleId = Annotated[str, Path(max_length=200, description="an article id, or the start of one "
                                                            "(6 characters or more, as tables show it)")]


def resolved_id(store: Store, article_id: str) -> str:
    """The article id ``article_id`` names (a whole id or a unique prefix); 404 when none."""
    found = store.resolve("article", article_id)
    if found is None:
        raise HTTPException(404, f"no article with id {article_id}")
    return found


def add_article_routes(app: FastAPI, store: Store, filters: Callable[..., Filters]) -> None:
    """``/articles``, ``/articles/{id}`` and ``/articles/{id}/history``."""
    FiltersDep = Annotated[Filters, Depends(filters)]

    @app.get("/articles", response_model=ArticlePage, summary="Search and list articles, newest first",
             responses=QUERY_ERRORS)
    def list_articles(f: FiltersDep) -> ArticlePage:
        hits = store.search(f)
        return ArticlePage(items=[ArticleHit(article=h.article, snippet=h.snippet) for h in hits],
                           limit=f.limit, offset=f.offset, next_offset=_next_offset(f, len(hits)))

    @app.get("/articles/{article_id}", response_model=Article, summary="One article", responses=ID_ERRORS)
    def get_article(article_id: ArticleId) -> Article:
        article = store.get(resolved_id(store, article_id))
        if article is None:
            raise HTTPException(404, f"no article with id {article_id}")
        return article

    @app.get("/articles/{article_id}/history", response_model=list[Revision],
             summary="Every kept revision of an article, oldest first", responses=ID_ERRORS)
    def get_history(article_id: ArticleId) -> list[Revision]:
        versions = store.history(resolved_id(store, article_id))
        if not versions:
            raise HTTPException(404, f"no article with id {article_id}")
        return [Revision(revision=r, recorded_at=when, article=a) for r, a, when in versions]


def add_story_routes(app: FastAPI, store: Store, filters: Callable[..., Filters]) -> None:
    """``/stories``."""
    FiltersDep = Annotated[Filters, Depends(filters)]

    @app.get("/stories", response_model=StoryPage, responses=QUERY_ERRORS,
             summary="Recent stories (several articles) with their articles and outlets")
    def list_stories(
        f: FiltersDep, min_articles: Annotated[int, Query(ge=1, le=1000)] = 2,
    ) -> StoryPage:
        found = store.stories(f, min_articles=min_articles)
        return StoryPage(items=[StoryOut.of(s) for s in found], limit=f.limit, offset=f.offset,
                         next_offset=_next_offset(f, len(found)))


def add_error_responses(app: FastAPI) -> None:
    """A query the store cannot run: 400 (the client's error, logged at debug level); a read past
    its timeout: 503 with ``Retry-After``; storage down: 503 (retry later); anything else
    unexpected: 500, logged."""

    @app.exception_handler(BadQuery)
    async def bad_query(request: Request, exc: BadQuery) -> JSONResponse:
        log.debug("API: bad query on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(AmbiguousId)
    async def ambiguous(request: Request, exc: AmbiguousId) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "candidates": exc.candidates}, status_code=409)

    @app.exception_handler(QueryTimeout)
    async def query_timeout(request: Request, exc: QueryTimeout) -> JSONResponse:
        log.info("API: read cancelled on %s: %s", request.url.path, exc)
        return JSONResponse({"detail": f"{exc}: narrow the query (fewer terms, more filters) or retry later"},
                            status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def storage_down(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, unavailable_errors()):
            log.warning("API: storage unavailable: %s", exc)
            return JSONResponse({"detail": "storage unavailable, retry later"}, status_code=503)
        log.exception("API: unexpected error on %s", request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)


def add_response_counter(app: FastAPI) -> None:
    """Count responses by route and status (``newsflow_api_responses_total``)."""

    @app.middleware("http")
    async def count_responses(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        response = await call_next(request)
        route = request.scope.get("route")
        metrics.API_RESPONSES.labels(getattr(route, "path", "other"), str(response.status_code)).inc()
        return response


# --- request guards -------------------------------------------------------------------------

class TokenBuckets:
    """Per-client token buckets; the table is pruned so it cannot grow without bound."""

    def __init__(self, rate: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate, self.burst, self.max_clients = rate, float(burst), max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """0 when the request may go; else the seconds until it could."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > self.max_clients:
                self._prune(now)
            return (1 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.rate
        self._buckets = {c: v for c, v in self._buckets.items() if now - v[1] < full_after}


class Guard:
    """ASGI middleware: refuse oversized requests, request bodies and clients over their rate."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets, max_request_bytes: int) -> None:
        self.app, self.buckets, self.max_bytes = app, buckets, max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        size = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b""))
        size += sum(len(k) + len(v) for k, v in headers)
        has_body = any(k == b"transfer-encoding" or (k == b"content-length" and v.strip() not in (b"", b"0"))
                       for k, v in headers)
        if size > self.max_bytes:
            await self._refuse(send, 413, "too_large", f"request larger than {self.max_bytes} bytes")
            return
        if has_body:
            await self._refuse(send, 413, "has_body", "this API is read-only: requests take no body")
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        wait = self.buckets.take(client)
        if wait > 0:
            await self._refuse(send, 429, "rate_limited", "too many requests", retry_after=wait)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(send: Send, status: int, reason: str, detail: str, retry_after: float = 0) -> None:
        metrics.API_REFUSED.labels(reason).inc()
        log.debug("API refused a request: %s", reason)
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if retry_after:
            headers.append((b"retry-after", str(max(1, round(retry_after))).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# --- serving ----------------------------------------------------------------------------------

def open_api_store(settings: SinkSettings) -> Store:
    """The API's own store: ``NEWSFLOW_API_READ_CONNECTIONS`` read connections, reads cancelled
    after ``NEWSFLOW_API_QUERY_TIMEOUT_SECONDS``."""
    return open_store(settings.sink_url.get_secret_value(), readers=settings.api_read_connections,
                      read_timeout=settings.api_query_timeout_seconds)


class ApiServer:
    """uvicorn in a daemon thread, on a socket bound up front (so a busy port fails right away)."""

    def __init__(self, store: Store, settings: SinkSettings) -> None:
        app = Guard(create_app(store, settings), TokenBuckets(settings.api_rate_per_second, settings.api_rate_burst),
                    settings.api_max_request_bytes)
        self.store = store
        self.socket = socket.create_server((settings.api_host, settings.api_port), reuse_port=False)
        # asyncio sets TCP_NODELAY only on sockets made with proto=IPPROTO_TCP, and create_server makes
        # them with proto 0: without it, every response after the first on a keep-alive connection
        # waited ~40 ms (Nagle's algorithm against the client's delayed ACK). Accepted sockets inherit it.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.address: tuple[str, int] = self.socket.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                limit_concurrency=MAX_CONCURRENT_REQUESTS,
                                h11_max_incomplete_event_size=settings.api_max_request_bytes)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name="sink-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.address[0]}:{self.address[1]}"

    def start(self) -> "ApiServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise RuntimeError("the HTTP API did not start (see the log above)")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.socket.close()
        self.store.close()


def start_api(settings: SinkSettings) -> ApiServer | None:
    """Serve the API next to the sink when ``NEWSFLOW_API_ENABLED``; a failure to serve it is
    logged and leaves the sink running (storing articles matters more than reading them)."""
    if not settings.api_enabled:
        log.info("HTTP API disabled (NEWSFLOW_API_ENABLED=false)")
        return None
    try:
        server = ApiServer(open_api_store(settings), settings).start()
    except (OSError, RuntimeError) as exc:
        log.error("HTTP API not served on %s:%s: %s", settings.api_host, settings.api_port, exc)
        return None
    log.info("HTTP API on %s (OpenAPI schema at %s/openapi.json)", server.url, server.url,
             extra={"api_url": server.url})
    return server
