"""Pure builders and parsers of restic's command lines and JSON (restic 0.14 outputs)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from egov.backup import restic
from egov.backup.resticexec import ResticResult
from egov.backup.resticoutcome import Outcome, classify_failure, strip_stack_traces
from egov.inventory.backup import Retention

BACKUP_OUTPUT = (
    '{"message_type":"status","percent_done":0,"total_files":1,"total_bytes":6}\n'
    '{"message_type":"summary","files_new":1,"files_changed":0,"files_unmodified":0,'
    '"dirs_new":1,"data_blobs":1,"tree_blobs":2,"data_added":708,'
    '"total_files_processed":1,"total_bytes_processed":6,"total_duration":0.26,'
    '"snapshot_id":"7f8ec972","some_future_field":1}\n'
)
SNAPSHOTS_OUTPUT = (
    '[{"time":"2026-11-27T06:00:35.45Z","paths":["/db.dump"],"hostname":"h1",'
    '"tags":["egov","dataset:databases"],"id":"2da361eab2ef","short_id":"2da361ea"},'
    '{"time":"2026-11-27T06:00:34.90Z","tree":"a5","paths":["/src"],"hostname":"h1",'
    '"username":"root","tags":["egov","dataset:files"],"id":"7f8ec97251da"}]'
)


def test_backup_command_keeps_secrets_and_repository_out_of_argv() -> None:
    argv = restic.make_backup_command(["/srv/files"], "primary-store-01", ["egov", "dataset:f"])
    assert argv[:3] == ("restic", "backup", "--json")
    assert "-r" not in argv and "--repo" not in argv and "--password" not in " ".join(argv)
    assert argv[-2:] == ("--", "/srv/files")
    assert argv[argv.index("dataset:f") - 1 : argv.index("dataset:f") + 1] == ("--tag", "dataset:f")


def test_backup_command_passes_excludes_and_refuses_no_path() -> None:
    argv = restic.make_backup_command(["/etc"], "h", [], ["/etc/egov/secrets"])
    assert argv[5:7] == ("--exclude", "/etc/egov/secrets")
    with pytest.raises(ValueError, match="at least one path"):
        restic.make_backup_command([], "h", [])


def test_stdin_backup_names_the_stream() -> None:
    argv = restic.make_stdin_backup_command("portal.dump", "primary-db-01", ["egov"])
    assert argv[-3:] == ("--stdin", "--stdin-filename", "portal.dump")


def test_forget_always_keeps_within_and_groups_per_dataset() -> None:
    argv = restic.make_forget_command(Retention(within=timedelta(days=2), daily=7, weekly=0))
    assert argv[argv.index("--keep-within") + 1] == "48h"
    assert argv[argv.index("--group-by") + 1] == "host,tags"
    assert "--keep-weekly" not in argv
    assert argv[-1] == "--prune"


def test_forget_dry_run_does_not_prune() -> None:
    argv = restic.make_forget_command(Retention(), prune=False, dry_run=True)
    assert "--prune" not in argv and argv[-1] == "--dry-run"


def test_check_reads_one_subset_and_refuses_out_of_range() -> None:
    assert restic.make_check_command(3, 7)[-1] == "--read-data-subset=3/7"
    with pytest.raises(ValueError):
        restic.make_check_command(8, 7)


def test_copy_takes_each_tag_set_as_one_option() -> None:
    argv = restic.make_copy_command((("egov",), ("egov-manifest",)))
    assert argv == ("restic", "copy", "--no-lock", "--tag", "egov", "--tag", "egov-manifest")


def test_init_for_a_copy_target_takes_the_chunker_parameters() -> None:
    assert restic.make_init_command(copy_chunker_params=True)[-1] == "--copy-chunker-params"


def test_parse_backup_summary_ignores_status_lines_and_unknown_fields() -> None:
    summary = restic.parse_backup_summary(BACKUP_OUTPUT)
    assert summary is not None
    assert (summary.snapshot_id, summary.data_added, summary.total_files_processed) == (
        "7f8ec972",
        708,
        1,
    )
    assert restic.parse_backup_summary('{"message_type":"status"}\nnoise') is None


def test_parse_snapshots_sorts_oldest_first_and_reads_tags() -> None:
    snapshots = restic.parse_snapshots(SNAPSHOTS_OUTPUT)
    assert [snapshot.get_tag_value("dataset") for snapshot in snapshots] == ["files", "databases"]
    assert snapshots[0].short_id == "7f8ec972"
    assert restic.parse_snapshots("null") == []


def test_parse_stats() -> None:
    stats = restic.parse_stats('{"total_size":800,"total_file_count":0,"snapshots_count":2}\n')
    assert (stats.total_size, stats.snapshots_count) == (800, 2)


def test_the_tail_shown_has_no_terminal_codes() -> None:
    """restic clears its status line before a message even into a pipe; journald would show
    such a line as "[48B blob data]"."""
    result = ResticResult(
        ("restic", "copy"),
        124,
        "",
        "timed out\n\x1b[2Ksignal interrupt received\r\n",
        Outcome.FAILED,
    )
    assert result.stderr_tail == "timed out\nsignal interrupt received"


def test_the_tail_shown_is_restics_words_without_its_go_stack() -> None:
    stderr = (
        "server response unexpected: 500 Internal Server Error (500)\n"
        "github.com/restic/restic/internal/backend/rest.(*Backend).Save\n"
        "\tgithub.com/restic/restic/internal/backend/rest/rest.go:167\n"
        "runtime.goexit\n"
        "\truntime/asm_amd64.s:1594\n"
        "unable to create lock in backend\n"
    )
    assert strip_stack_traces(stderr) == (
        "server response unexpected: 500 Internal Server Error (500)\n"
        "unable to create lock in backend"
    )


@pytest.mark.parametrize(
    ("code", "stderr", "outcome"),
    [
        (0, "", Outcome.OK),
        (3, "", Outcome.PARTIAL),
        (10, "", Outcome.MISSING),
        (11, "", Outcome.LOCKED),
        (12, "", Outcome.WRONG_PASSWORD),
        (130, "", Outcome.CANCELLED),
        (2, "panic", Outcome.FAILED),
        (42, "", Outcome.FAILED),
        (1, "Fatal: unable to open config file: <config/> does not exist\nIs there a "
            "repository at the following location?", Outcome.MISSING),
        (1, "Fatal: unable to open config file: stat /x/config: no such file or directory",
            Outcome.MISSING),
        (1, "Fatal: wrong password or no key found", Outcome.WRONG_PASSWORD),
        (1, "unexpected HTTP response (401): 401 Unauthorized\nIs there a repository",
            Outcome.UNAUTHORIZED),
        (1, 'Head "http://127.0.0.1:1/config": dial tcp 127.0.0.1:1: connect: connection '
            "refused\nIs there a repository at the following location?", Outcome.NETWORK),
        (1, "unable to create lock in backend: repository is already locked by PID 7",
            Outcome.LOCKED),
        (1, "Fatal: something new", Outcome.FAILED),
        # a full disk behind rclone serve restic: every Save of the lock answered 500
        (1, "Save(<lock/ecc9f19d21>) returned error, retrying after 552ms: server response "
            "unexpected: 500 Internal Server Error (500)\nunable to create lock in backend",
            Outcome.SERVER_ERROR),
        (1, "Fatal: unable to save snapshot: write /r/data/ab/x: no space left on device",
            Outcome.SERVER_ERROR),
        (1, "ignoring error for /srv/files/a.bin: ciphertext verification failed\nignoring "
            "error for /srv/files/a.bin: UtimesNano: no such file or directory\nFatal: There "
            "were 2 errors", Outcome.CORRUPTED),
    ],
)  # fmt: skip
def test_exit_codes_and_014_messages_are_classified(
    code: int, stderr: str, outcome: Outcome
) -> None:
    assert classify_failure(code, stderr) is outcome


def test_version_is_read_from_the_text() -> None:
    assert restic.parse_version("restic 0.14.0 compiled with go1.19.8 on linux/amd64") == (0, 14, 0)
    with pytest.raises(ValueError):
        restic.parse_version("rustic 1.0")


def test_check_errors_from_014_text() -> None:
    errors = restic.parse_check_errors(
        "",
        "error: pack 1a2b contains 1 errors: [blob 3c: decrypting blob failed]\n"
        "Fatal: repository contains errors",
    )
    assert len(errors) == 2


def test_a_copied_snapshot_is_recognised_by_its_original() -> None:
    from datetime import UTC, datetime

    from egov.backup.restic import Snapshot

    copy = Snapshot(id="bbbb" * 16, time=datetime.now(UTC), original="aaaa" * 16)
    assert copy.is_copy_of("aaaaaaaa") and copy.is_copy_of("bbbbbbbb")
    assert not copy.is_copy_of("cccccccc")
    assert not Snapshot(id="dddd" * 16, time=datetime.now(UTC)).is_copy_of("aaaaaaaa")
