"""services.common.decoding.decode_html: BOM, HTTP charset, <meta charset>, detection; str passes through."""

from __future__ import annotations

import codecs
import gzip
import re

import pytest
from trafilatura.utils import detect_encoding
from w3lib.encoding import html_to_unicode

from services.common.decoding import decode_html
from tests.conftest import shared_data

TEXT = "Café crème à l’œil – “quoted” €"


def test_str_passes_through_unchanged() -> None:
    text = "<p>déjà\x00 vu</p>"
    assert decode_html(text) is text
    assert decode_html(text, "text/html; charset=latin-1") is text


def test_bom_wins_over_http_charset_and_meta() -> None:
    body = codecs.BOM_UTF8 + f'<meta charset="windows-1252"><p>{TEXT}</p>'.encode()
    assert decode_html(body, "text/html; charset=iso-8859-1") == f'<meta charset="windows-1252"><p>{TEXT}</p>'


def test_utf16_bom() -> None:
    body = codecs.BOM_UTF16_LE + f"<p>{TEXT}</p>".encode("utf-16-le")
    assert decode_html(body) == f"<p>{TEXT}</p>"


def test_http_charset_wins_over_meta() -> None:
    body = f'<meta charset="utf-8"><p>{TEXT}</p>'.encode("cp1252")
    assert decode_html(body, "text/html; charset=windows-1252") == f'<meta charset="utf-8"><p>{TEXT}</p>'


@pytest.mark.parametrize("meta", ['<meta charset="windows-1252">',
                                  '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'])
def test_meta_charset_without_http_charset(meta: str) -> None:
    html = f"<html><head>{meta}</head><body><p>{TEXT}</p></body></html>"
    assert decode_html(html.encode("cp1252"), "text/html") == html
    assert decode_html(html.encode("cp1252")) == html


def test_undeclared_utf8_is_detected() -> None:
    html = f"<p>{TEXT}</p>"
    assert decode_html(html.encode(), "text/html") == html


@pytest.mark.parametrize(("encoding", "sentence"), [
    ("cp1251", "Это простой текст новостей на русском языке, который написан для проверки. "),
    ("shift_jis", "これは日本語のニュース記事の本文です。文字コードの検出を確認します。"),
])
def test_undeclared_legacy_encoding_is_detected(encoding: str, sentence: str) -> None:
    html = "<html><body>" + f"<p>{sentence}</p>" * 10 + "</body></html>"
    assert decode_html(html.encode(encoding)) == html


def test_undecodable_bytes_are_replaced_not_raised() -> None:
    text = decode_html(b"<p>caf\xe9 \xff\xfe broken</p>", "text/html; charset=utf-8")
    assert text.startswith("<p>caf") and "broken</p>" in text and "\ufffd" in text


def test_unknown_http_charset_falls_back() -> None:
    assert decode_html("<p>é</p>".encode(), "text/html; charset=no-such-charset") == "<p>é</p>"


def test_empty_body() -> None:
    assert decode_html(b"") == ""
    assert decode_html(b"", None) == ""


@pytest.mark.parametrize("declared", ["gb2312", "windows-1252", "iso-8859-15"])
def test_valid_utf8_wins_over_a_declaration_that_contradicts_it(declared: str) -> None:
    # pages re-served as UTF-8 often keep their site's old charset in <meta> or the header
    html = f'<html><head><meta charset="{declared}"></head><body><p>{TEXT} 北京 Zürich €</p></body></html>'
    assert decode_html(html.encode("utf-8")) == html
    assert decode_html(html.encode("utf-8"), f"text/html; charset={declared}") == html


def test_a_utf8_byte_order_mark_is_dropped() -> None:
    assert decode_html(b"\xef\xbb\xbf<p>\xc3\xa9</p>") == "<p>é</p>"


LEGACY = ("cp1252", "iso-8859-2", "cp1251", "shift_jis", "gb18030", "euc-kr", "iso-8859-7", "koi8-r")
_META_CHARSET = re.compile(rb"<meta[^>]*charset[^>]*>", re.IGNORECASE)


def _decode_as_trafilatura_did(body: bytes, content_type: str | None) -> str:
    """decode_html as it was, with ``trafilatura.utils.detect_encoding`` as the detector."""
    if not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    _, text = html_to_unicode(content_type, body,
                              auto_detect_fun=lambda b: next(iter(detect_encoding(b)), None))
    return str(text)


def test_every_real_page_decodes_as_with_trafilaturas_detector() -> None:
    """On each real page as fetched, and re-encoded in a legacy charset with its declarations removed
    (so that detection decides: the real pages are all UTF-8)."""
    pages = sorted(shared_data("extraction", "fundus").rglob("*.html.gz"))
    assert len(pages) >= 200
    detected = 0
    for number, path in enumerate(pages):
        body = gzip.decompress(path.read_bytes())
        legacy = _META_CHARSET.sub(b"", body).decode("utf-8").encode(LEGACY[number % len(LEGACY)],
                                                                      "xmlcharrefreplace")
        for variant in (body, legacy):
            for content_type in (None, "text/html"):
                assert decode_html(variant, content_type) == _decode_as_trafilatura_did(variant, content_type), path
        detected += not legacy.isascii()
    assert detected >= 100
