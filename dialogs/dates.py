"""How a date is shown to a person: UK day-first with its weekday ("Sun 14/02/2027"), so a
due date on a phone is read at a glance without working out which day it falls on.

Forms keep plain DD/MM/YYYY: they are the partnership's documents, in its own layout.
"""

from __future__ import annotations

from datetime import date


def day_words(day: date) -> str:
    return day.strftime("%a %d/%m/%Y")
