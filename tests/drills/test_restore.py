"""The host side of a drill's restore stream (pure)."""

from __future__ import annotations

from egov.drills.restore import STAGING_ROOT, make_extract_script


def test_a_restore_into_a_directory_extracts_there_keeping_existing_directories() -> None:
    script = make_extract_script("/var/lib/egov-drill/files", (), 1)
    assert "tar -C /var/lib/egov-drill/files --no-overwrite-dir -xpf -" in script


def test_a_replacing_restore_stages_then_swaps_each_path_keeping_the_old_one() -> None:
    lines = make_extract_script("/", ("/srv/files",), 42).splitlines()
    staging = f"{STAGING_ROOT}/restore-42"
    extract = lines.index(f"tar -C {staging} -xpf -")
    keep = lines.index("if [ -e /srv/files ]; then mv /srv/files /srv/files.egov-damaged-42; fi")
    swap = lines.index(f"mv {staging}/srv/files /srv/files")
    # the old tree moves aside only after the whole stream landed, then the new one moves in
    assert extract < keep < swap
    assert lines[0] == "set -e"
    assert any("the snapshot lacks /srv/files" in line for line in lines[:keep])
