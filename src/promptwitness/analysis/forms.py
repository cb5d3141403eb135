"""Forms: masks that hide a value but keep its form, and date/time recognisers (sans-IO).

``form("2026-11-23") == form("2026-11-24") == "9999-99-99"`` but
``form("2026/11/24") == "9999/99/99"``: the value is hidden, the form is kept. Masks
never normalise: a full-width digit masks to the full-width nine, a Cyrillic letter
stays itself, a separator stays itself.

Mask rules (``form``):
- a decimal digit becomes the nine of its own script (ASCII ``9``, full-width ``９``, ...);
- an ASCII letter becomes ``A`` / ``a`` by case (so ids like ``req_ab12`` keep their
  shape); a known month or weekday name becomes a class tag such as ``{month:en:full}``
  (so ``November`` and ``December`` share a form, ``Nov`` does not);
- a UTC offset right after a time (``Z``, ``+08:00``, ``-0500``) is one field. Its
  sign and digits are a value, like the time's own digits: in another zone the same
  formatter writes another offset, as it writes another hour (``+00:00`` → ``+08:00``,
  and ``Z`` → ``+08:00``, the RFC 3339 way of writing a zero offset and any other, are
  value changes). Its form is how it is written: with a colon (``Z`` counts as one) or
  without (``+0800``); and a zero offset written ``Z`` on one side and ``+00:00`` on the
  other is a change of form (one formatter writes one of them). ``form`` masks it as it
  masks any text (``+99:99``, ``A`` for ``Z``);
- everything else (separators, CJK date marks, non-ASCII letters) is kept as is.

``same_form(a, b)`` compares two texts field by field and treats natural numbers as
having one form whatever their length (``9`` → ``10``, ``999`` → ``1000``), while a
zero-padded field (``09``) differs in form from an unpadded one (``9``).

``fields`` and ``same_fields`` expose the tokens the two compare (a UTC offset, a run of
digits, a run of letters, any other code point), for attribution that compares a noisy
value token by token (``analysis.noisy``).

Date recognition (``is_date``, ``find_dates``): ISO 8601 dates and date-times, numeric
dates with ``-``, ``/``, ``.`` in any field order (en_US, en_GB, de_DE, ru_RU, ...),
CJK dates (``2026年11月24日``, ``2026년 11월 24일``), month names full and abbreviated
(English, German, French, Spanish, Russian), weekday names (the same languages plus
Japanese and Chinese), RFC 2822 / HTTP dates, and 12/24-hour times (``10:05``,
``10:05:07.123``, ``10:05 PM``, ``午後10:05``, ``下午10:05``, with zones ``Z``/``UTC``/
``+08:00``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import regex

__all__ = [
    "MONTHS",
    "Fields",
    "WEEKDAYS",
    "fields",
    "find_dates",
    "form",
    "has_digit",
    "is_date",
    "name_class",
    "same_fields",
    "same_form",
]

# name -> class; classes say language and full/abbreviated, never the value.
MONTHS: dict[str, str] = {}
WEEKDAYS: dict[str, str] = {}


def _add(table: dict[str, str], kind: str, lang: str, style: str, names: str) -> None:
    for n in names.split():
        table.setdefault(n.casefold(), f"{{{kind}:{lang}:{style}}}")


_add(
    MONTHS,
    "month",
    "en",
    "full",
    "January February March April May June July August September October November December",
)
_add(MONTHS, "month", "en", "abbr", "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec")
_add(MONTHS, "month", "de", "full", "Januar Februar März Maerz Juni Juli Oktober Dezember")
_add(MONTHS, "month", "de", "abbr", "Mär Okt Dez")
_add(
    MONTHS,
    "month",
    "fr",
    "full",
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
)
_add(MONTHS, "month", "fr", "abbr", "janv févr avr juil déc")
_add(
    MONTHS,
    "month",
    "es",
    "full",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
)
_add(MONTHS, "month", "es", "abbr", "ene abr ago dic")
_add(
    MONTHS,
    "month",
    "ru",
    "gen",
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
)
_add(
    MONTHS,
    "month",
    "ru",
    "full",
    "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь",
)
_add(MONTHS, "month", "ru", "abbr", "янв фев февр мар апр июн июл авг сен сент окт ноя нояб дек")
_add(WEEKDAYS, "weekday", "en", "full", "Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
_add(WEEKDAYS, "weekday", "en", "abbr", "Mon Tue Tues Wed Thu Thur Thurs Fri Sat Sun")
_add(
    WEEKDAYS,
    "weekday",
    "de",
    "full",
    "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonnabend Sonntag",
)
_add(WEEKDAYS, "weekday", "de", "abbr", "Mo Di Mi Do Fr Sa So")
_add(WEEKDAYS, "weekday", "fr", "full", "lundi mardi mercredi jeudi vendredi samedi dimanche")
_add(WEEKDAYS, "weekday", "es", "full", "lunes martes miércoles jueves viernes sábado domingo")
_add(
    WEEKDAYS,
    "weekday",
    "ru",
    "full",
    "понедельник вторник среда четверг пятница суббота воскресенье",
)
_add(WEEKDAYS, "weekday", "ru", "abbr", "пн вт ср чт пт сб вс")
_add(WEEKDAYS, "weekday", "ja", "full", "月曜日 火曜日 水曜日 木曜日 金曜日 土曜日 日曜日")
_add(WEEKDAYS, "weekday", "zh", "full", "星期一 星期二 星期三 星期四 星期五 星期六 星期日 星期天")
_add(WEEKDAYS, "weekday", "zh", "abbr", "周一 周二 周三 周四 周五 周六 周日")


def _alt(names: list[str]) -> str:
    return "|".join(regex.escape(n) for n in sorted(names, key=len, reverse=True))


_MONTH = rf"(?:{_alt(list(MONTHS))})(?:\.(?=[\s\d]))?"
# Two-letter weekday abbreviations (de "Mo", "Do", "So"; ru "пн") are common words: they
# name a class (name_class) but are not recognised as dates on their own.
_WEEKDAY = (
    rf"(?:{_alt([w for w in WEEKDAYS if ord(w[0]) < 0x3000 and len(w) >= 3])})(?:\.(?=[\s,]))?"
)
_CJK_WEEKDAY = rf"(?:{_alt([w for w in WEEKDAYS if ord(w[0]) >= 0x3000])})"
_CJK_PAREN_WD = r"[(（][月火水木金土日一二三四五六天][)）]"
_D = r"\d"
_L = r"(?<![\p{L}\p{N}_])"  # start of a token
_R = r"(?![\p{L}\p{N}_])"  # end of a token
_ZONE = (
    r"(?-i:\s?(?:Z|UTC|GMT|CET|CEST|EET|MSK|IST|JST|KST|CST|EST|EDT|PST|PDT|[+-]\d{2}:?\d{2})"
    r"(?![\p{L}\p{N}]))"
)
_TIME = (
    rf"(?:(?:午前|午後|上午|下午|早上|晚上)\s?)?{_D}{{1,2}}[:：]{_D}{{2}}"
    rf"(?:[:：]{_D}{{2}}(?:[.,]{_D}{{1,9}})?)?"
    rf"(?:\s?(?:[AaPp]\.\s?[Mm]\.|[AaPp][Mm]{_R}|Uhr{_R}|ч\.?))?{_ZONE}?"
)
_ISO = rf"{_D}{{4}}-{_D}{{2}}-{_D}{{2}}(?:[T ]{_TIME})?"
_NUMERIC = (
    # not part of a longer dotted/slashed run such as an IP address or a version
    rf"(?<!\d[./-]){_D}{{1,4}}(?P<sep>[./-]){_D}{{1,2}}(?P=sep){_D}{{1,4}}(?![./-]\d)"
    rf"(?:\s?(?:г|р)\.)?"
    rf"|(?<!\d[./-]){_D}{{1,2}}\.{_D}{{1,2}}\.(?!\d)"  # 24.11. (day.month.)
)
_CJK = (
    rf"(?:(?:{_D}{{2,4}}\s?[年년]\s?)?{_D}{{1,2}}\s?[月월](?:\s?{_D}{{1,2}}\s?[日일])?"
    rf"(?:\s?(?:{_CJK_PAREN_WD}|{_CJK_WEEKDAY}))?"
    rf"|{_D}{{2,4}}\s?[年년])"
)
_DAYNUM = rf"{_D}{{1,2}}(?:st|nd|rd|th|er|º|\.)?"
_NAMED = (
    # 24 November 2026, 24. November 2026, 24 ноября 2026 г., 24 Nov
    rf"{_DAYNUM}\s{_MONTH}{_R}(?:,?\s{_D}{{4}}(?:\s?г\.?)?)?"
    # November 24, 2026; Nov 24; November 2026; November
    rf"|{_MONTH}{_R}(?:\s{_DAYNUM}(?:,?\s{_D}{{4}})?|\s{_D}{{4}})?"
    # 24 de noviembre de 2026
    rf"|{_D}{{1,2}}\sde\s{_MONTH}{_R}(?:\sde\s{_D}{{4}})?"
)
_DATE_CORE = rf"(?:{_ISO}|{_NUMERIC}|{_NAMED})"
_DATE = (
    rf"(?:{_L}(?:{_WEEKDAY}{_R},?\s)?{_DATE_CORE}(?:\s?{_CJK_PAREN_WD})?(?:,?\s(?:um\s|at\s|в\s)?{_TIME})?{_R}"
    rf"|{_L}{_WEEKDAY}{_R}"
    rf"|{_CJK}(?:\s?{_TIME})?"
    rf"|{_CJK_WEEKDAY}"
    rf"|{_L}{_TIME}{_R})"
)
_DATE_RE = regex.compile(_DATE, regex.IGNORECASE)
# A UTC offset right after a time (``10:05:07.123+08:00``, ``10:05 +0800``) is one token,
# kept as it is by the masks: the zone it names is its form, not a value.
_OFFSET = (
    r"(?<=\d[:：]\d{2}(?:[:：]\d{2})?(?:[.,]\d{1,9})?\s?)"
    r"(?:[+-]\d{2}:?\d{2}(?!\d)|Z(?![\p{L}\d]))"
)
_TOKENS = regex.compile(rf"{_OFFSET}|\d+|\p{{L}}+|.", regex.DOTALL)
_DIGIT = regex.compile(r"\d")


def is_date(text: str) -> bool:
    """True when ``text`` is exactly one date, time, date-time, month or weekday name."""
    return _DATE_RE.fullmatch(text) is not None


def find_dates(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Spans of the dates/times found in ``text[start:end]`` (offsets into ``text``)."""
    stop = len(text) if end is None else end
    for m in _DATE_RE.finditer(text, start, stop):
        if m.end() > m.start():
            yield m.start(), m.end()


def has_digit(text: str) -> bool:
    return _DIGIT.search(text) is not None


def name_class(word: str) -> str | None:
    """``{month:en:full}`` etc. for a known month or weekday name, else None."""
    key = word.casefold().rstrip(".")
    return MONTHS.get(key) or WEEKDAYS.get(key)


def _nine(ch: str) -> str:
    value = unicodedata.digit(ch, None)
    if value is None:
        return ch
    return chr(ord(ch) - value + 9)


_ASCII_MASK = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "A" * 26 + "a" * 26
)


def _mask_word(word: str) -> str:
    cls = name_class(word)
    if cls is not None:
        return cls
    if word.isascii():
        return word.translate(_ASCII_MASK)
    return "".join(("A" if c.isupper() else "a") if c.isascii() else c for c in word)


def _field(tok: str) -> tuple[str, str]:
    """(kind, mask) of one token of ``_TOKENS``: kind ``num``/``word``/``zone``/``other``.
    A zone's mask is its form: ``±99:99`` (``Z`` too) or ``±9999``."""
    if tok == "Z" or (len(tok) > 1 and tok[0] in "+-"):
        return ("zone", "±9999" if len(tok) == 5 else "±99:99")
    if tok.isascii() and tok[0].isdigit():
        return ("num", "9" * len(tok))
    if tok[0].isdigit() or unicodedata.digit(tok[0], None) is not None:
        return ("num", "".join(_nine(c) for c in tok))
    if tok[0].isalpha():
        return ("word", _mask_word(tok))
    return ("other", tok)


def form(text: str) -> str:
    """The mask of ``text``: values hidden, form kept (see the module doc)."""
    out: list[str] = []
    for tok in _TOKENS.findall(text):
        kind, mask = _field(tok)
        out.append(mask if kind != "zone" else "A" if tok == "Z" else _DIGIT.sub("9", tok))
    return "".join(out)


def _natural(tok: str) -> bool:
    return len(tok) == 1 or unicodedata.digit(tok[0], 0) != 0


Fields = tuple[tuple[str, str, str], ...]  # (kind, mask, token) per token


def fields(text: str) -> Fields:
    """Kind (``num``/``word``/``zone``/``other``), mask and text of every token, for
    comparing one text's form with many (``same_fields``) without cutting it again."""
    return tuple((*_field(tok), tok) for tok in _TOKENS.findall(text))


def same_fields(fa: Fields, fb: Fields) -> bool:
    """``same_form`` of the two texts these are the ``fields`` of."""
    if len(fa) != len(fb):
        return False
    for (ka, ma, xa), (kb, mb, xb) in zip(fa, fb, strict=True):
        if ka != kb:
            return False
        if ka == "num" and ma != mb:
            # different lengths: same form only for natural numbers of the same digit set
            if not (_natural(xa) and _natural(xb) and ma[0] == mb[0]):
                return False
        elif ka != "num" and ma != mb:
            return False
        elif ka == "zone" and (xa == "Z") != (xb == "Z") and _zero(xa) and _zero(xb):
            return False  # a zero offset written two ways: two formatters
    return True


def _zero(offset: str) -> bool:
    return offset == "Z" or not offset.strip("+-:0")


def same_form(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` have the same form (natural numbers of any length match)."""
    return same_fields(fields(a), fields(b))
