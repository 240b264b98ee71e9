"""The drill signing key: made once, 0600, reused, refused when others may read it, and never
shown — not in a journal, a verify line, a report, an error or its own repr."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from egov.cli import run
from egov.drills.journal import Journal, JournalError
from egov.drills.signing import (
    SigningKey,
    SigningKeyError,
    check_signature,
    get_or_create_signing_key,
    get_public_key_path,
    get_signing_key_path,
    load_public_key,
    load_signing_key,
    make_fingerprint,
)
from tests.drills.tampering import CASES, apply, write_signed_journal


def get_secret_forms(key: SigningKey) -> list[str]:
    """Every way the private key could leak in text: its raw bytes as base64 and hex, and the
    body of its PEM file."""
    raw = key.private_key.private_bytes_raw()
    pem = key.path.read_text(encoding="ascii").splitlines()
    return [
        base64.b64encode(raw).decode("ascii"),
        raw.hex(),
        *(line for line in pem if not line.startswith("-----")),
    ]


def test_the_key_is_made_0600_in_a_0700_directory_with_its_public_half(
    tmp_path: Path, umask_zero: None
) -> None:
    path = tmp_path / "secrets" / "drill-signing-camau.key"
    key = get_or_create_signing_key(path, "camau")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    public = get_public_key_path(path)
    assert public.name == "drill-signing-camau.pub"
    assert public.read_text(encoding="ascii").endswith(" egov-drill-camau\n")
    assert make_fingerprint(load_public_key(public)) == key.fingerprint


def test_the_key_is_made_once_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "drill.key"
    first = get_or_create_signing_key(path, "camau")
    second = get_or_create_signing_key(path, "camau")
    assert first.fingerprint == second.fingerprint
    assert check_signature(second.public_key, b"m", first.sign(b"m"))
    assert not check_signature(second.public_key, b"other", first.sign(b"m"))


def test_a_lost_key_is_not_silently_replaced(tmp_path: Path) -> None:
    path = tmp_path / "drill.key"
    get_or_create_signing_key(path, "camau")
    path.unlink()
    with pytest.raises(SigningKeyError, match="missing") as caught:
        get_or_create_signing_key(path, "camau")
    assert "restore the key from its backup" in caught.value.hint
    assert not path.exists()


def test_a_key_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "drill.key"
    key = get_or_create_signing_key(path, "camau")
    path.chmod(0o640)
    with pytest.raises(SigningKeyError, match="readable by others") as caught:
        load_signing_key(path)
    assert all(form not in str(caught.value) for form in get_secret_forms(key))


def test_a_damaged_key_file_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / "drill.key"
    key = get_or_create_signing_key(path, "camau")
    forms = get_secret_forms(key)
    text = path.read_text(encoding="ascii")
    path.write_text(text.replace(forms[-1], forms[-1][::-1]), encoding="ascii")
    with pytest.raises(SigningKeyError) as caught:
        load_signing_key(path)
    message = f"{caught.value} {caught.value.hint}"
    assert str(path) in message
    assert all(form not in message for form in forms)


def test_the_default_place_is_under_etc_egov_secrets_and_the_environment_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EGOV_DRILL_KEY")
    assert get_signing_key_path("camau") == Path("/etc/egov/secrets/drill-signing-camau.key")
    monkeypatch.setenv("EGOV_DRILL_KEY", "/srv/k.key")
    assert get_signing_key_path("camau") == Path("/srv/k.key")
    assert get_signing_key_path("camau", Path("/x.key")) == Path("/x.key")


def test_the_key_never_shows_in_repr_journal_or_any_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = get_or_create_signing_key(get_signing_key_path("test"), "test")
    forms = get_secret_forms(key)
    assert all(form not in repr(key) for form in forms)
    journal = tmp_path / "run" / "journal.jsonl"
    write_signed_journal(journal, key)
    texts = [journal.read_text(encoding="utf-8")]
    for command in (["verify"], ["verify", "-o", "json"], ["report", "--format", "md"]):
        assert run(["drill", *command, str(journal)]) == 0
        captured = capsys.readouterr()
        texts += [captured.out, captured.err]
    for case in CASES[:3]:
        broken = tmp_path / case.name / "journal.jsonl"
        broken.parent.mkdir()
        broken.write_bytes(journal.read_bytes())
        apply(case, broken)
        assert run(["drill", "verify", str(broken)]) == 1
        captured = capsys.readouterr()
        texts += [captured.out, captured.err]
    assert all(form not in text for form in forms for text in texts)


def test_a_closed_journal_takes_no_more_entries(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal.create(path)
    journal.append("start")
    journal.close(get_or_create_signing_key(tmp_path / "k.key", "t"))
    with pytest.raises(JournalError, match="closed"):
        journal.append("note", text="too late")


def test_the_public_key_file_loads_as_the_private_one_does(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    key = get_or_create_signing_key(path, "t")
    raw = serialization.PublicFormat.Raw
    from_public = load_public_key(get_public_key_path(path))
    from_private = load_public_key(path)
    for loaded in (from_public, from_private):
        assert loaded.public_bytes(serialization.Encoding.Raw, raw) == key.public_key.public_bytes(
            serialization.Encoding.Raw, raw
        )
