"""Time limits as written by users (`600`, `90s`, `20m`, `1h`), for the `time-limit` input and
`sync --deadline` alike. A module of its own, with no imports, so that a light command's option
parsing (bot.commands._options) does not pull in the inputs table and, through it, Jinja.
"""

from __future__ import annotations


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
