"""The second opinion (services/extractor/ensemble.py): the estimate, the vote, the title line."""

from __future__ import annotations

from services.extractor.ensemble import MIN_SUSPECTS, second_opinion, suspect_lines, without_title_line

PROSE = (
    "The council voted on Tuesday to expand the harbour ferry service after a year of record "
    "ridership, officials said, adding that two new boats would arrive in spring."
)


def _never() -> str:
    raise AssertionError("the precision run should not have been asked for")


def test_no_second_run_when_few_lines_are_suspect() -> None:
    text = f"{PROSE}\nAdvertisement\n{PROSE}"
    assert second_opinion(text, None, _never, None) == text


def test_vote_drops_short_lines_neither_precision_nor_jsonld_vouch_for() -> None:
    teasers = [f"Ferry fares rise again {i}" for i in range(MIN_SUSPECTS)]
    text = "\n".join([PROSE, *teasers, "Quoted by the publisher", PROSE])
    out = second_opinion(text, None, lambda: f"{PROSE}\nFerry fares rise again 0", "… Quoted by the publisher …")
    assert out.split("\n") == [PROSE, "Ferry fares rise again 0", "Quoted by the publisher", PROSE]


def test_long_lines_are_never_voted_out() -> None:
    text = "\n".join([PROSE] + [f"Short line {i}" for i in range(MIN_SUSPECTS)])
    assert PROSE in second_opinion(text, None, lambda: "", None)


def test_suspects_are_short_non_heading_lines() -> None:
    assert suspect_lines(f"{PROSE}\nWhat the council said\nEmail: a@b.example", {"what the council said"}) == [
        "Email: a@b.example"
    ]


def test_title_line_dropped_only_near_the_top() -> None:
    assert without_title_line(f"Ferry service grows\n{PROSE}", "Ferry  Service grows") == PROSE
    text = f"{PROSE}\n{PROSE}\n{PROSE}\nFerry service grows"
    assert without_title_line(text, "Ferry service grows") == text
    assert without_title_line("Ferry service grows", "Ferry service grows") == "Ferry service grows"
