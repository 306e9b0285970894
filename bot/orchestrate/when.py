"""Days and time limits as users write them (`2026-03-11`; `600`, `90s`, `20m`, `1h`), for the
options and the `time-limit` input alike. A module of its own, importing nothing of ours, so that
a light command's option parsing (bot.commands._options) does not pull in the inputs table and,
through it, Jinja. ValueError, with the line to show, for what is not one.
"""

from __future__ import annotations

from datetime import date


def day(text: str) -> date:
    """A day written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a day written YYYY-MM-DD (e.g. 2026-03-11)") from None


def seconds(text: str) -> float:
    """A time limit: seconds, or a number with `s`, `m` or `h` (`20m`, `1h`); ValueError if not."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        value = float(number) * units[unit]
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{text!r} is not a time limit such as 600, 90s, 20m or 1h")
    return value
