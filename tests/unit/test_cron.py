from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from flowdrop.errors import DecoratorError
from flowdrop.model.cron import normalize_expression, to_aws_cron, validate_expression
from flowdrop.model.schedule import Schedule, fire_times_between, next_fire_times, schedule_from_attributes

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- the decorator's forms ----------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "expression"),
    [
        ({"hourly": True}, "cron(0 * * * ? *)"),
        ({"daily": True}, "cron(0 0 * * ? *)"),
        ({"weekly": True}, "cron(0 0 ? * SUN *)"),
        ({"cron": "0 10 * * ? *"}, "cron(0 10 * * ? *)"),
        ({"cron": "cron(0 10 * * ? *)"}, "cron(0 10 * * ? *)"),
        ({"cron": "  0  10 * *   ? * "}, "cron(0 10 * * ? *)"),
        ({"cron": "rate(1 hour)"}, "rate(1 hour)"),
        ({}, "cron(0 0 * * ? *)"),  # a bare @schedule is daily, as in Metaflow
        ({"hourly": False, "daily": True}, "cron(0 0 * * ? *)"),
    ],
)
def test_decorator_forms(attrs, expression):
    schedule = schedule_from_attributes(attrs)
    assert schedule == Schedule(expression, None)


def test_no_schedule():
    assert schedule_from_attributes(None) is None
    assert schedule_from_attributes({"daily": False}) is None
    assert schedule_from_attributes({"hourly": False, "daily": False, "weekly": False}) is None


def test_timezone_is_kept_and_checked():
    schedule = schedule_from_attributes({"cron": "0 10 * * ? *", "timezone": "Europe/Berlin"})
    assert schedule == Schedule("cron(0 10 * * ? *)", "Europe/Berlin")
    with pytest.raises(DecoratorError, match="'Mars/Olympus' is not a known IANA time zone"):
        schedule_from_attributes({"daily": True, "timezone": "Mars/Olympus"})
    with pytest.raises(DecoratorError, match="not a known IANA"):
        schedule_from_attributes({"daily": True, "timezone": "../etc/passwd"})


def test_more_than_one_form_is_rejected():
    with pytest.raises(DecoratorError, match="only one of hourly, daily, weekly or cron; got hourly, daily"):
        schedule_from_attributes({"hourly": True, "daily": True})
    with pytest.raises(DecoratorError, match="got weekly, cron"):
        schedule_from_attributes({"weekly": True, "cron": "0 10 * * ? *"})


def test_bad_arguments_are_named():
    with pytest.raises(DecoratorError, match="unknown argument.*hourli"):
        schedule_from_attributes({"hourli": True})
    with pytest.raises(DecoratorError, match="hourly must be True or False, got 'yes'"):
        schedule_from_attributes({"hourly": "yes"})
    with pytest.raises(DecoratorError, match="minutes field '61'"):
        schedule_from_attributes({"cron": "61 10 * * ? *"})


def test_schedule_round_trip_and_validation():
    schedule = Schedule("cron(0 10 * * ? *)", "Europe/Berlin")
    assert Schedule.from_dict(schedule.to_dict()) == schedule
    assert schedule.to_dict() == {"expression": "cron(0 10 * * ? *)", "timezone": "Europe/Berlin"}
    with pytest.raises(DecoratorError, match="must be 'cron\\(...\\)' or 'rate\\(...\\)'"):
        Schedule("0 10 * * ? *")
    with pytest.raises(DecoratorError, match="hours field '25'"):
        Schedule.from_dict({"expression": "cron(0 25 * * ? *)", "timezone": None})


def test_to_aws_cron():
    assert to_aws_cron("0 10 * * ? *") == "cron(0 10 * * ? *)"
    assert normalize_expression("rate(5   minutes)") == "rate(5 minutes)"
    with pytest.raises(DecoratorError):
        to_aws_cron("0 10 * * * *")


# -- validation: each field named ---------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(61 25 * * ? *)", "cron '61 25 * * ? *': minutes field '61' is out of range 0-59; hours field '25' is out of range 0-23"),
        ("0 10 * * * *", "day-of-month '*' and day-of-week '*' are both set; exactly one of them must be '?'"),
        ("0 10 ? * ? *", "are both '?'"),
        ("0 10 32 * ? *", "day-of-month field '32' is out of range 1-31"),
        ("0 10 0 * ? *", "day-of-month field '0' is out of range 1-31"),
        ("0 10 * 13 ? *", "month field '13' is out of range 1-12"),
        ("0 10 * FOO ? *", "month field 'FOO': 'FOO' is not allowed; use numbers 1-12 or JAN-DEC"),
        ("0 10 ? * 8 *", "day-of-week field '8' is out of range 1-7"),
        ("0 10 ? * 0 *", "day-of-week field '0' is out of range 1-7"),
        ("0 10 * * ? 1969", "year field '1969' is out of range 1970-2199"),
        ("0 10 * * ? 2200", "year field '2200' is out of range 1970-2199"),
        ("0 ? * * ? *", "hours field '?': '?' is only allowed in day-of-month and day-of-week"),
        ("0 10 1,15W * ? *", "day-of-month field '1,15W': 'L', 'LW' and 'nW'"),
        ("0 10 ? * 3#1,6#3 *", "day-of-week field '3#1,6#3': 'nL' and 'n#k' must stand alone"),
        ("0 10 ? * 2#6 *", "day-of-week field '2#6': '#6' must be 1-5"),
        ("0 10 ? * MON-FRI/x *", "day-of-week field 'MON-FRI/x': increment 'x'"),
        ("0 22-2 * * ? *", "hours field '22-2': range '22-2' runs backwards"),
        ("1,70 10 * * ? *", "minutes field '1,70': 70 is out of range 0-59"),
        ("0 10 * * ?", "has 5 field(s); AWS cron needs 6: minutes hours day-of-month month day-of-week year"),
        ("cron(0 10 * * ? *", "missing its closing ')'"),
        ("rate(0 minutes)", "value '0' must be a whole number >= 1"),
        ("rate(1 hours)", "with value 1 the unit must be 'hour'"),
        ("rate(5 minute)", "with value 5 the unit must be 'minutes'"),
        ("rate(2 weeks)", "unit 'weeks' must be minute(s), hour(s) or day(s)"),
        ("rate(often)", "must look like 'rate(5 minutes)'"),
    ],
)
def test_bad_expressions_name_the_field(expression, message):
    with pytest.raises(DecoratorError) as info:
        validate_expression(expression)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 10 * * ? *)",
        "cron(0/15 * * * ? *)",
        "cron(5,35 8-17 ? * MON-FRI *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 LW * ? *)",
        "cron(0 0 15W * ? *)",
        "cron(0 12 ? * 2#1 *)",
        "cron(0 12 ? * 6L *)",
        "cron(0 12 ? * L *)",
        "cron(0 0 1 jan,jul ? 2025-2030)",
        "cron(0 0 1/5 * ? */2)",
        "rate(1 minute)",
        "rate(7 days)",
    ],
)
def test_good_expressions(expression):
    validate_expression(expression)  # raises on a bad one
    # Accepted and also evaluable: each fires within the next few years.
    upcoming = next_fire_times(Schedule(expression), datetime(2026, 1, 1, tzinfo=timezone.utc), 2)
    assert len(upcoming) == 2 and upcoming[0] < upcoming[1]


# -- fire times -----------------------------------------------------------------


def times(expression: str, after: datetime, count: int = 3, zone: str | None = None) -> list[str]:
    return [t.isoformat() for t in next_fire_times(Schedule(expression, zone), after, count)]


def test_hourly_daily_weekly_fire_times():
    after = utc(2024, 1, 3, 10, 30)  # a Wednesday
    assert times("cron(0 * * * ? *)", after, 2) == ["2024-01-03T11:00:00+00:00", "2024-01-03T12:00:00+00:00"]
    assert times("cron(0 0 * * ? *)", after, 2) == ["2024-01-04T00:00:00+00:00", "2024-01-05T00:00:00+00:00"]
    assert times("cron(0 0 ? * SUN *)", after, 2) == ["2024-01-07T00:00:00+00:00", "2024-01-14T00:00:00+00:00"]


def test_fire_times_are_strictly_after_and_utc():
    result = next_fire_times(Schedule("cron(0 10 * * ? *)"), utc(2024, 1, 1, 10, 0), 1)
    assert result == [utc(2024, 1, 2, 10, 0)]
    assert result[0].tzinfo is UTC
    # an aware datetime in another zone is the same instant
    berlin_noon = datetime(2024, 1, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert next_fire_times(Schedule("cron(0 10 * * ? *)"), berlin_noon, 1) == [utc(2024, 1, 2, 10, 0)]
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_times(Schedule("cron(0 10 * * ? *)"), datetime(2024, 1, 1), 1)


def test_day_of_week_uses_aws_numbering():
    after = utc(2024, 1, 5, 12)  # Friday
    # MON-FRI skips the weekend
    assert times("cron(0 0 ? * MON-FRI *)", after, 3) == [
        "2024-01-08T00:00:00+00:00",
        "2024-01-09T00:00:00+00:00",
        "2024-01-10T00:00:00+00:00",
    ]
    # 2-6 is the same days: AWS counts SUN=1
    assert times("cron(0 0 ? * 2-6 *)", after, 3) == times("cron(0 0 ? * MON-FRI *)", after, 3)
    assert times("cron(0 0 ? * 1 *)", after, 1) == ["2024-01-07T00:00:00+00:00"]  # Sunday
    assert times("cron(0 0 ? * 7 *)", after, 1) == ["2024-01-06T00:00:00+00:00"]  # Saturday
    # a step over AWS numbers: 2/2 is MON, WED, FRI
    assert times("cron(0 0 ? * 2/2 *)", after, 3) == [
        "2024-01-08T00:00:00+00:00",
        "2024-01-10T00:00:00+00:00",
        "2024-01-12T00:00:00+00:00",
    ]


def test_nth_and_last_weekday_of_month():
    after = utc(2024, 1, 2)
    # 2#1: the first Monday
    assert times("cron(0 12 ? * 2#1 *)", after, 3) == [
        "2024-02-05T12:00:00+00:00",
        "2024-03-04T12:00:00+00:00",
        "2024-04-01T12:00:00+00:00",
    ]
    assert times("cron(0 12 ? * MON#1 *)", after, 3) == times("cron(0 12 ? * 2#1 *)", after, 3)
    # 6L: the last Friday
    assert times("cron(0 0 ? * 6L *)", after, 2) == ["2024-01-26T00:00:00+00:00", "2024-02-23T00:00:00+00:00"]
    # L alone in day-of-week: the last day of the week, Saturday
    assert times("cron(0 0 ? * L *)", after, 1) == ["2024-01-06T00:00:00+00:00"]


def test_last_day_and_weekday_of_month():
    after = utc(2024, 1, 1)
    assert times("cron(0 0 L * ? *)", after, 3) == [
        "2024-01-31T00:00:00+00:00",
        "2024-02-29T00:00:00+00:00",
        "2024-03-31T00:00:00+00:00",
    ]
    # LW: the last weekday; 2024-03-31 is a Sunday, 2024-08-31 a Saturday
    assert times("cron(0 0 LW * ? *)", utc(2024, 3, 1), 1) == ["2024-03-29T00:00:00+00:00"]
    assert times("cron(0 0 LW * ? *)", utc(2024, 8, 1), 1) == ["2024-08-30T00:00:00+00:00"]
    # 15W: the weekday nearest the 15th; 2024-06-15 is a Saturday
    assert times("cron(0 0 15W * ? *)", utc(2024, 6, 1), 1) == ["2024-06-14T00:00:00+00:00"]
    # 1W never leaves the month: 2024-06-01 is a Saturday -> Monday the 3rd
    assert times("cron(0 0 1W * ? *)", utc(2024, 5, 31), 1) == ["2024-06-03T00:00:00+00:00"]


def test_year_field():
    after = utc(2024, 6, 1)
    assert times("cron(0 0 1 1 ? 2026)", after, 3) == ["2026-01-01T00:00:00+00:00"]
    assert times("cron(0 0 1 JAN ? 2025,2027)", after, 3) == ["2025-01-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"]
    assert times("cron(0 0 1 1 ? 2020/3)", after, 2) == ["2026-01-01T00:00:00+00:00", "2029-01-01T00:00:00+00:00"]
    assert times("cron(0 0 1 1 ? 2000-2020)", after, 3) == []  # all in the past
    assert times("cron(0 0 * * ? 2199)", utc(2199, 12, 30), 5) == ["2199-12-31T00:00:00+00:00"]


def test_impossible_date_never_fires():
    assert times("cron(0 0 30 2 ? *)", utc(2024, 1, 1), 3) == []


def test_timezone_follows_dst():
    # 10:00 Europe/Berlin is 09:00 UTC in winter and 08:00 UTC in summer.
    berlin = Schedule("cron(0 10 * * ? *)", "Europe/Berlin")
    result = next_fire_times(berlin, utc(2024, 3, 29), 4)
    assert result == [utc(2024, 3, 29, 9), utc(2024, 3, 30, 9), utc(2024, 3, 31, 8), utc(2024, 4, 1, 8)]
    result = next_fire_times(berlin, utc(2024, 10, 26), 2)
    assert result == [utc(2024, 10, 26, 8), utc(2024, 10, 27, 9)]


def test_dst_gap_is_skipped_and_overlap_fires_once():
    # EventBridge Scheduler: a wall time that does not exist is skipped...
    spring = Schedule("cron(30 2 * * ? *)", "Europe/Berlin")
    assert next_fire_times(spring, utc(2024, 3, 30, 12), 2) == [utc(2024, 4, 1, 0, 30), utc(2024, 4, 2, 0, 30)]
    # ...and one that happens twice fires once, at its first occurrence.
    hourly = Schedule("cron(30 * * * ? *)", "Europe/Berlin")
    result = fire_times_between(hourly, utc(2024, 10, 26, 23), utc(2024, 10, 27, 3))
    assert result == [utc(2024, 10, 26, 23, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 2, 30)]


def test_rate_fire_times_are_epoch_aligned():
    assert next_fire_times(Schedule("rate(5 minutes)"), utc(2024, 1, 1, 10, 3, 7), 3) == [
        utc(2024, 1, 1, 10, 5),
        utc(2024, 1, 1, 10, 10),
        utc(2024, 1, 1, 10, 15),
    ]
    assert next_fire_times(Schedule("rate(1 hour)"), utc(2024, 1, 1, 10), 2) == [utc(2024, 1, 1, 11), utc(2024, 1, 1, 12)]
    assert next_fire_times(Schedule("rate(1 day)"), utc(2024, 1, 1, 0, 0, 1), 1) == [utc(2024, 1, 2)]
    # 7 days from the epoch (a Thursday)
    assert next_fire_times(Schedule("rate(7 days)"), utc(2024, 1, 1), 1) == [utc(2024, 1, 4)]


def test_fire_times_between_bounds_and_limit():
    hourly = Schedule("cron(0 * * * ? *)")
    result = fire_times_between(hourly, utc(2024, 1, 1, 0), utc(2024, 1, 1, 3))
    assert result == [utc(2024, 1, 1, 1), utc(2024, 1, 1, 2), utc(2024, 1, 1, 3)]  # start excluded, end included
    assert fire_times_between(hourly, utc(2024, 1, 1, 0), utc(2024, 1, 2, 0), limit=2) == [utc(2024, 1, 1, 1), utc(2024, 1, 1, 2)]
    assert fire_times_between(hourly, utc(2024, 1, 1, 0, 1), utc(2024, 1, 1, 0, 59)) == []
    rate = Schedule("rate(15 minutes)")
    assert fire_times_between(rate, utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 0, 30)) == [utc(2024, 1, 1, 0, 15), utc(2024, 1, 1, 0, 30)]
