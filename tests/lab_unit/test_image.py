"""egov/lab/image.py, aptrepo.py, mirror.py: recipe keys, argvs and mirror discovery."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from egov.lab.aptrepo import REPOSITORY_PACKAGES, build_download_argv
from egov.lab.image import DEFAULT_RECIPE, build_debootstrap_argv, make_recipe_key
from egov.lab.mirror import AptSource, make_suite_sources, parse_apt_sources

DEB822 = """\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: https://deb.nodesource.example/node_20.x
Suites: nodistro
Components: main
"""


def test_recipe_key_is_stable_and_ignores_package_order() -> None:
    key = make_recipe_key(DEFAULT_RECIPE)
    assert len(key) == 16 and key == make_recipe_key(DEFAULT_RECIPE)
    reordered = replace(DEFAULT_RECIPE, include=tuple(reversed(DEFAULT_RECIPE.include)))
    assert make_recipe_key(reordered) == key


def test_changing_the_package_list_changes_the_key() -> None:
    more = replace(DEFAULT_RECIPE, repository_packages=(*REPOSITORY_PACKAGES, "htop"))
    assert make_recipe_key(more) != make_recipe_key(DEFAULT_RECIPE)
    assert make_recipe_key(replace(DEFAULT_RECIPE, suite="trixie")) != make_recipe_key(
        DEFAULT_RECIPE
    )


def test_repository_holds_what_deploys_install() -> None:
    for package in ("postgresql-15", "restic", "prometheus-node-exporter", "nginx", "chrony"):
        assert package in REPOSITORY_PACKAGES


def test_debootstrap_argv_uses_the_given_mirror() -> None:
    argv = build_debootstrap_argv(DEFAULT_RECIPE, Path("/x/rootfs"), "http://m/debian")
    assert argv[:2] == ("debootstrap", "--variant=minbase")
    assert "openssh-server" in argv[2] and "systemd" in argv[2]
    assert argv[-3:] == ("bookworm", "/x/rootfs", "http://m/debian")


def test_download_argv_only_downloads() -> None:
    argv = build_download_argv(Path("/r"), ("restic",))
    assert argv[:4] == ("chroot", "/r", "apt-get", "install") and "--download-only" in argv


def test_mirror_is_read_from_deb822_and_one_line_sources() -> None:
    sources = parse_apt_sources(
        {
            "debian.sources": DEB822,
            "extra.list": "deb [arch=amd64] http://other.example/debian bookworm main contrib\n"
            "# deb http://commented.example/debian bookworm main\n",
        }
    )
    family = make_suite_sources(sources, "bookworm")
    assert family == (
        AptSource("http://mirror.example/debian", "bookworm", ("main",)),
        AptSource("http://mirror.example/debian", "bookworm-updates", ("main",)),
        AptSource("http://mirror.example/debian-security", "bookworm-security", ("main",)),
        AptSource("http://other.example/debian", "bookworm", ("main", "contrib")),
    )
    assert family[0].to_line() == "deb http://mirror.example/debian bookworm main"
