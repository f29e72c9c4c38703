"""Reading the time a question names: what counts as a date, and what only looks like one."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.text.timeframe import time_frame

FRIDAY = date(2022, 12, 9)


@pytest.mark.parametrize(
    ("question", "first", "last"),
    [
        ("What did the Fed decide in November 2022?", "2022-11-01", "2022-11-30"),
        ("Who resigned on March 4, 2022?", "2022-03-04", "2022-03-04"),
        ("Who resigned on 4 March 2022?", "2022-03-04", "2022-03-04"),
        ("What happened on 2022-02-14?", "2022-02-14", "2022-02-14"),
        ("Who won the election in 2020?", "2020-01-01", "2020-12-31"),
        ("What happened during Sept. 2021?", "2021-09-01", "2021-09-30"),
        # without a year: the latest such day or month on or before the reference date
        ("What did the Fed decide in November?", "2022-11-01", "2022-11-30"),
        ("What did Dmitriev say on March 4?", "2022-03-04", "2022-03-04"),
        ("What happened in Dec.?", "2022-12-01", "2022-12-31"),
        ("Who left in late December?", "2022-12-01", "2022-12-31"),
        ("What happened in mid-May?", "2022-05-01", "2022-05-31"),
        ("What fell on the 10th of December?", "2021-12-10", "2021-12-10"),  # Dec 10 2022 is after Friday the 9th
        # relative words count back from the reference date
        ("What did he say this week?", "2022-12-02", "2022-12-09"),
        ("What did he say in the past week?", "2022-12-02", "2022-12-09"),
        ("Who did she meet last week?", "2022-11-28", "2022-12-04"),  # Monday to Sunday before Friday's week
        ("What did Biden say yesterday?", "2022-12-08", "2022-12-08"),
        ("Today, who spoke first?", "2022-12-09", "2022-12-09"),
        ("Who marched last weekend?", "2022-12-03", "2022-12-04"),
        ("What rose last month?", "2022-11-01", "2022-11-30"),
        ("Which film won last year?", "2021-01-01", "2021-12-31"),
        ("What rose this year?", "2022-01-01", "2022-12-09"),
    ],
)
def test_times_a_question_names(question, first, last):
    frame = time_frame(question, FRIDAY)
    assert frame is not None and (frame.first.isoformat(), frame.last.isoformat()) == (first, last)


@pytest.mark.parametrize(
    "question",
    [
        "According to a USA TODAY poll, who leads?",  # names
        "According to USA Today, who leads?",
        "Who hosts Last Week Tonight?",
        "What happened in the last week of the trial?",  # a span of something else
        "What did he sign in his last year in office?",
        "What was found at Mar-a-Lago?",
        "Who may win the 2022 race?",  # the verb, and a year without "in"
        "Is this the first case since 1979?",
        "Which team won in the 1990s?",
        "Who won the 2021-22 season?",
        "Who will host the Olympics in 2028?",  # what is to come is reported before it
        "Who will sing this weekend?",  # on a Friday: tomorrow
        "What did the Jan. 6 committee find?",  # a date as a name, without "on"
        "The store was closed since June 13. Why?",
        "What happened on February 30, 2022?",  # no such day
        "Who won the Fourth of July race?",
        "What will the Fed do in January?",  # the next January: to come
        "Who is expected to speak on March 4?",
    ],
)
def test_what_is_no_time_frame(question):
    assert time_frame(question, FRIDAY) is None


def test_without_a_reference_only_full_dates_count():
    assert time_frame("What did the Fed decide in November?", None) is None
    assert time_frame("What did he say last week?", None) is None
    frame = time_frame("What did the Fed decide in November 2022?", None)
    assert frame is not None and frame.describe() == '2022-11-01 to 2022-11-30 ("November 2022")'


@pytest.mark.parametrize(
    ("question", "reference", "first", "last"),
    [
        ("What rose last month?", date(2023, 1, 15), "2022-12-01", "2022-12-31"),  # across the new year
        ("Who met last week?", date(2022, 12, 12), "2022-12-05", "2022-12-11"),  # asked on a Monday
        ("Who marched this weekend?", date(2022, 12, 10), "2022-12-10", "2022-12-11"),  # asked on the Saturday
        ("Who marched last weekend?", date(2022, 12, 11), "2022-12-03", "2022-12-04"),  # asked on the Sunday
        ("Who won on Feb. 29?", date(2025, 3, 1), "2024-02-29", "2024-02-29"),  # the latest one there was
    ],
)
def test_calendar_edges(question, reference, first, last):
    frame = time_frame(question, reference)
    assert frame is not None and (frame.first.isoformat(), frame.last.isoformat()) == (first, last)


@pytest.mark.parametrize("reference", [date.min, date.max])
def test_the_ends_of_the_calendar_are_no_error(reference):
    for question in ("What happened last week?", "What happened last year?", "Who marched this weekend?",
                     "What happened on March 4?", "What happened in May?"):  # fmt: skip
        frame = time_frame(question, reference)
        assert frame is None or frame.first <= reference
