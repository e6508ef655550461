import pytest

from services.common.urls import BadURLError, article_id, domain, normalize_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://Www.Example.com:443/a/b?utm_source=x&id=3&fbclid=1#frag", "https://www.example.com/a/b?id=3"),
        ("http://example.com:80/x?b=2&a=1", "http://example.com/x?a=1&b=2"),
        ("  http://example.com/story  ", "http://example.com/story"),
        ("http://127.0.0.1:8080/x/y", "http://127.0.0.1:8080/x/y"),
    ],
)
def test_normalize_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


def test_article_id_ignores_cosmetic_differences() -> None:
    a = article_id("https://www.cbc.ca/news/world/story-1.7219843?utm_medium=rss#comments")
    b = article_id("HTTPS://WWW.CBC.CA:443/news/world/story-1.7219843")
    assert a == b
    assert len(a) == 32 and int(a, 16) >= 0


def test_article_id_distinguishes_real_query_parameters() -> None:
    assert article_id("http://example.com/a?id=1") != article_id("http://example.com/a?id=2")


@pytest.mark.parametrize("bad", ["", "example.com/a", "ftp://example.com/a", "file:///etc/passwd", "http://"])
def test_bad_urls_are_refused(bad: str) -> None:
    with pytest.raises(BadURLError):
        normalize_url(bad)


def test_domain() -> None:
    assert domain("https://www.ctvnews.ca/world/x") == "ctvnews.ca"
