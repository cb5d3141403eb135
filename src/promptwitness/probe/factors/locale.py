"""``locale``: ``LANG``, ``LC_ALL`` and ``LANGUAGE``.

``LANGUAGE`` gets the GNU priority list (``zh_CN:zh``) for a named language and is
unset for ``C``/``POSIX`` locales, as on a stock system. Node's ``Intl`` reads these
variables through ICU whether or not the glibc locale is installed.
"""

from __future__ import annotations

import re

from promptwitness.probe.factors.base import Factor, FactorContext
from promptwitness.probe.spec import RunSpec

LOCALES = ("C.UTF-8", "zh_CN.UTF-8", "zh_TW.UTF-8", "ja_JP.UTF-8", "ru_RU.UTF-8", "en_US.UTF-8")
_RE = re.compile(r"^([A-Za-z]{1,8})(_[A-Za-z0-9]{2,3})?(\.[A-Za-z0-9-]+)?(@[A-Za-z0-9]+)?$")


def check(level: str) -> None:
    if not _RE.match(level):
        raise ValueError("not a locale name (ll_CC.CODESET)")


def language(level: str) -> str | None:
    """The ``LANGUAGE`` value for a locale, or None for C/POSIX."""
    m = _RE.match(level)
    if m is None or m.group(1) in ("C", "POSIX"):
        return None
    lang, region = m.group(1), m.group(2)
    return f"{lang}{region}:{lang}" if region else lang


def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
    spec = spec.set_env({"LANG": level, "LC_ALL": level})
    lang = language(level)
    return spec.unset_env("LANGUAGE") if lang is None else spec.set_env({"LANGUAGE": lang})


FACTOR = Factor("locale", "LANG, LC_ALL and LANGUAGE", LOCALES, apply, check)
