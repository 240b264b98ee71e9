"""The agent's wheelhouse tar is byte-stable, so unchanged estates re-deploy nothing."""

from __future__ import annotations

import tarfile
from pathlib import Path

from egov.deploys.agent import get_agent_venv, make_install_commands
from egov.deploys.wheelhouse import make_source_key, pack_wheels


def test_pack_is_stable_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "b-1.whl").write_bytes(b"bee")
    (tmp_path / "a-1.whl").write_bytes(b"aye")
    wheels = [tmp_path / "b-1.whl", tmp_path / "a-1.whl"]
    first = pack_wheels(wheels, tmp_path / "out" / "one.tar").read_bytes()
    (tmp_path / "a-1.whl").touch()  # a newer mtime changes nothing
    second = pack_wheels(list(reversed(wheels)), tmp_path / "out" / "two.tar").read_bytes()
    assert first == second
    with tarfile.open(tmp_path / "out" / "one.tar") as archive:
        assert archive.getnames() == ["a-1.whl", "b-1.whl"]


def test_source_key_changes_with_the_code(tmp_path: Path) -> None:
    (tmp_path / "egov").mkdir()
    (tmp_path / "pyproject.toml").write_text("x")
    (tmp_path / "egov" / "m.py").write_text("a = 1")
    before = make_source_key(tmp_path)
    assert make_source_key(tmp_path) == before
    (tmp_path / "egov" / "m.py").write_text("a = 2")
    assert make_source_key(tmp_path) != before


def test_install_switches_the_venv_only_after_it_works() -> None:
    commands = make_install_commands("ab" * 32)
    install = next(i for i, c in enumerate(commands) if "pip install" in c)
    switch = next(i for i, c in enumerate(commands) if "mv -T" in c)
    assert install < switch
    assert get_agent_venv("ab" * 32) in commands[install]
    assert "--no-index" in commands[install]
