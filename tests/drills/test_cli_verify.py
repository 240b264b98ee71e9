"""``egov drill verify`` and ``egov drill report`` in-process on real journals: a good one
passes, every rewrite in tampering.py is refused by both with its line named: `verify` judges
it (exit 1), `report` refuses it as bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from egov.cli import run
from egov.drills.signing import SigningKey, get_public_key_path
from tests.drills.support import get_test_key
from tests.drills.tampering import CASES, Tampering, apply, write_signed_journal


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "run" / "journal.jsonl"
    write_signed_journal(path, get_test_key())
    return path


def test_verify_passes_a_good_journal_in_one_line(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["drill", "verify", str(journal)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith(f"{journal}: ok: 6 entries")
    assert get_test_key().fingerprint in out


def test_verify_says_the_closing_hash_in_json(
    journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["drill", "verify", str(journal), "-o", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    last = json.loads(journal.read_text(encoding="utf-8").splitlines()[-1])
    assert result["closing_hash"] == last["hash"]
    assert result["key"] == get_test_key().fingerprint
    assert (result["entries"], result["status"]) == (6, "succeeded")


def test_report_renders_a_good_journal(journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["drill", "report", str(journal), "--lang", "en", "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert "t-drill" in out
    assert get_test_key().fingerprint in out  # the paper an auditor signs names the key


@pytest.mark.parametrize("command", ["verify", "report"])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_rewritten_journal_is_refused_naming_the_line(
    journal: Path, capsys: pytest.CaptureFixture[str], case: Tampering, command: str
) -> None:
    apply(case, journal)
    code = run(["drill", command, str(journal)])
    captured = capsys.readouterr()
    assert code == (1 if command == "verify" else 2), captured.err
    assert captured.out == ""  # no report of a journal that does not hold
    assert "Traceback" not in captured.err
    first = captured.err.splitlines()[0]
    assert first.startswith(f"egov: {journal}:{case.line}: "), first
    assert case.words in captured.err


def test_the_public_key_alone_verifies(
    journal: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = get_public_key_path(get_test_key().path)
    monkeypatch.delenv("EGOV_DRILL_KEY")  # an auditor's machine: no private key there
    assert run(["drill", "verify", str(journal), "--public-key", str(public)]) == 0


def test_another_estates_public_key_refuses_the_journal(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = SigningKey(private_key=Ed25519PrivateKey.generate(), path=Path("/nowhere"))
    public = tmp_path / "other.pub"
    public.write_bytes(
        other.public_key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH) + b" other\n"
    )
    assert run(["drill", "verify", str(journal), "--public-key", str(public)]) == 1
    assert f"{journal}:6: signed with another key" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["verify", "report"])
def test_a_file_that_is_no_journal_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("name: camau\n", encoding="utf-8")
    assert run(["drill", command, str(path)]) == 2
    assert f"egov: {path}:1: not a JSON journal entry" in capsys.readouterr().err
    assert run(["drill", command, str(tmp_path / "nowhere.jsonl")]) == 2


def test_an_unreadable_public_key_is_bad_input(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["drill", "verify", str(journal), "--public-key", str(tmp_path / "none.pub")])
    assert code == 2
    assert "cannot read the drill public key" in capsys.readouterr().err
