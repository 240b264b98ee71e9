"""The languages alert texts are written in, and the shape of one alert's texts.

Shared by the tables of what each alert says (``annotations.py``, ``backup_alert_texts.py``)
and by the rules, which check the language asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


def check_language(language: str) -> str:
    """``language`` when alert texts exist in it; raise ValueError otherwise."""
    if language not in LANGUAGES:
        raise ValueError(f"no alert texts in {language!r}: choose one of {', '.join(LANGUAGES)}")
    return language


@dataclass(frozen=True)
class Text:
    """One sentence in each language."""

    vi: str
    en: str

    def get(self, language: str) -> str:
        """The sentence in ``language`` (``vi`` or ``en``); raise ValueError for another."""
        return self.vi if check_language(language) == "vi" else self.en


@dataclass(frozen=True)
class AlertText:
    """The two annotations a person reads."""

    summary: Text
    description: Text
