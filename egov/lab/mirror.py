"""Which Debian mirror the image is built from: the one this machine's own apt already uses.

The repository never names an outside host: the machine's ``/etc/apt/sources.list`` and
``sources.list.d/*.list|*.sources`` are read, and the entries for the image's suite family
(``bookworm``, ``bookworm-updates``, ``bookworm-security``) with component ``main`` are kept.
``EGOV_LAB_MIRROR`` overrides the mirror used for debootstrap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from egov.errors import LabInputError

MIRROR_ENV = "EGOV_LAB_MIRROR"
APT_SOURCES_DIR = Path("/etc/apt")


@dataclass(frozen=True)
class AptSource:
    """One ``deb`` line (or one deb822 stanza expanded per suite): URI, suite, components."""

    uri: str
    suite: str
    components: tuple[str, ...]

    def to_line(self) -> str:
        """Return the one-line form, components restricted to ``main``: ``deb URI SUITE main``."""
        return f"deb {self.uri} {self.suite} main"


def parse_apt_sources(files: Mapping[str, str]) -> tuple[AptSource, ...]:
    """Parse apt source files (name → text) in one-line and deb822 formats into AptSources.

    Only ``deb`` entries over http(s) are kept; options in brackets are dropped.

    >>> parse_apt_sources({"a.list": "deb [arch=amd64] http://m/debian bookworm main contrib"})
    (AptSource(uri='http://m/debian', suite='bookworm', components=('main', 'contrib')),)
    """
    sources: list[AptSource] = []
    for name, text in files.items():
        if name.endswith(".sources"):
            sources.extend(_parse_deb822(text))
        else:
            sources.extend(_parse_one_line(text))
    return tuple(s for s in sources if s.uri.startswith(("http://", "https://")))


def _parse_one_line(text: str) -> list[AptSource]:
    sources = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        if "[" in line and "]" in line:
            line = line[: line.index("[")] + line[line.index("]") + 1 :]
        fields = line.split()
        if len(fields) >= 3:
            sources.append(AptSource(fields[1], fields[2], tuple(fields[3:])))
    return sources


def _parse_deb822(text: str) -> list[AptSource]:
    sources = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for raw in stanza.splitlines():
            if raw.startswith("#") or ":" not in raw or raw[:1].isspace():
                continue
            key, value = raw.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        components = tuple(fields.get("components", "").split())
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                sources.append(AptSource(uri, suite, components))
    return sources


def make_suite_sources(sources: tuple[AptSource, ...], suite: str) -> tuple[AptSource, ...]:
    """Keep the entries of ``suite``'s family (``suite``, ``-updates``, ``-security``) with main."""
    family = {suite, f"{suite}-updates", f"{suite}-security"}
    return tuple(s for s in sources if s.suite in family and "main" in s.components)


def get_mirror_sources(suite: str) -> tuple[AptSource, ...]:
    """Return the host's Debian sources for ``suite``; the first is the debootstrap mirror.

    Raise LabInputError when the host has none and ``EGOV_LAB_MIRROR`` is unset.
    """
    files: dict[str, str] = {}
    main_list = APT_SOURCES_DIR / "sources.list"
    if main_list.is_file():
        files[str(main_list)] = main_list.read_text(errors="replace")
    parts = APT_SOURCES_DIR / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix in (".list", ".sources"):
                files[str(path)] = path.read_text(errors="replace")
    found = make_suite_sources(parse_apt_sources(files), suite)
    override = os.environ.get(MIRROR_ENV)
    if override:
        return (AptSource(override, suite, ("main",)), *(s for s in found if s.suite != suite))
    primary = [s for s in found if s.suite == suite]
    if not primary:
        raise LabInputError(
            f"no Debian {suite} mirror found in this machine's apt sources",
            hint=f"add one to /etc/apt/sources.list or set {MIRROR_ENV}=http://<mirror>/debian",
        )
    return (primary[0], *(s for s in found if s != primary[0]))
