"""Time: durations as staff write them, local times of day, quiet hours, participant time zones."""

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from journeys.engine.operators import duration_seconds

_TIME_OF_DAY = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_DELAY = timedelta(days=366)  # a longer wait is almost certainly a typo


def parse_duration(text: str | int | float) -> timedelta:
    """``"2 hours"``, ``"1 day 6h"``, ``"90s"`` or a number of minutes → a timedelta.

    The units are those of ``journeys.engine.operators.duration_seconds``. Raises ``ValueError``
    with a message staff can act on.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text) * 60
    elif isinstance(text, str):
        cleaned = text.strip()
        seconds = int(cleaned) * 60.0 if cleaned.isdigit() else duration_seconds(cleaned)
    else:
        raise ValueError("A duration is a number of minutes or a text such as '2 hours'.")
    if seconds < 0 or timedelta(seconds=seconds) > MAX_DELAY:
        raise ValueError(f"A duration must be between 0 and {MAX_DELAY.days} days.")
    return timedelta(seconds=seconds)


def parse_time_of_day(text: str) -> time:
    match = _TIME_OF_DAY.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r} is not a time of day such as '09:00'.")
    return time(int(match.group(1)), int(match.group(2)))


def participant_zone(attributes: dict) -> ZoneInfo:
    """The participant's ``timezone`` attribute, or the default zone when absent or unknown."""
    name = attributes.get("timezone") or attributes.get("time_zone") or settings.JOURNEY_DEFAULT_TIMEZONE
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.JOURNEY_DEFAULT_TIMEZONE)


def next_local_time(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The next moment after ``now`` when the local clock in ``zone`` shows ``at``.

    Built from the local date so a daylight-saving change between now and then is honoured.
    """
    local_now = now.astimezone(zone)
    candidate = datetime.combine(local_now.date(), at, tzinfo=zone)
    if candidate <= local_now:
        candidate = datetime.combine(local_now.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(now.tzinfo)


def quiet_until(now: datetime, start: time | None, end: time | None, zone: ZoneInfo) -> datetime | None:
    """When the quiet window containing ``now`` opens again, or ``None`` outside quiet hours.

    A window may cross midnight (21:00 to 08:00).
    """
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(zone).time()
    inside = start <= local < end if start < end else local >= start or local < end
    if not inside:
        return None
    return next_local_time(now, end, zone)
