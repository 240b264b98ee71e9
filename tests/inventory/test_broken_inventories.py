"""Broken inventories: each gives one clear ``file:line`` message, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.cli import run

# A small valid estate; every case below breaks one thing in it. Line numbers count from 1.
BASE = """\
name: test
title: Test estate
sites:
  main:
    role: primary
    title: Main
    network: 10.50.0.0/24
    hosts:
      db-01: {address: 10.50.0.10, roles: [db]}
      store-01: {address: 10.50.0.11, roles: [storage]}
  dr:
    role: dr
    title: DR
    network: 10.51.0.0/24
    hosts:
      db-01: {address: 10.51.0.10, roles: [db-replica], upstream: main/db-01}
services:
  web:
    title: Web
    sites:
      main: {hosts: [db-01]}
    rto: 1h
    rpo: 1d
postgres: {replication_password: "file:/etc/egov/secrets/pg-r", app_password: "env:PG_APP"}
backup:
  repositories:
    local: {site: main, kind: rest, host: store-01, password: "env:P", rest_password: "env:R"}
  replication: [local]
  datasets:
    db: {kind: postgres, hosts: [main/db-01], databases: [web]}
"""


POSTGRES_LINE = next(line for line in BASE.splitlines(keepends=True) if "postgres:" in line)


def replace(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


CASES: list[tuple[str, str, int, str]] = [
    # (id, text, expected line, expected words)
    ("yaml-indentation", replace("    role: dr\n", "   role: dr\n"), 13, "YAML syntax error"),
    ("yaml-unclosed-flow", replace("roles: [db]}", "roles: [db}"), 9, "YAML syntax error"),
    ("yaml-tab", replace("    title: DR\n", "\ttitle: DR\n"), 13, "YAML syntax error"),
    ("duplicate-host", replace("      store-01:", "      db-01:"), 10, "duplicate key 'db-01'"),
    ("not-a-mapping", "- just\n- a list\n", 1, "must be a mapping"),
    ("unknown-top-key", BASE + "colour: blue\n", 31, "unknown key 'colour'"),
    (
        "unknown-host-key-typo",
        replace("roles: [storage]", "rolse: [storage]"),
        10,
        "did you mean 'roles'",
    ),
    ("missing-title", replace("title: Test estate\n", ""), 1, "missing required key 'title'"),
    ("address-not-ip", replace("10.50.0.11", "ten.fifty"), 10, "address"),
    (
        "port-not-number",
        replace("host: store-01,", "host: store-01, port: eighty,"),
        27,
        "valid integer",
    ),
    ("bad-duration", replace("rto: 1h", "rto: one hour"), 22, "not a duration"),
    ("bad-enum-role", replace("role: dr", "role: backup"), 12, "use one of"),
    (
        "bad-host-name",
        replace("store-01: {address", "Store_01: {address"),
        10,
        "name 'Store_01' has the wrong form",
    ),
    ("duplicate-address", replace("10.50.0.11", "10.50.0.10"), 10, "also used by main/db-01"),
    ("address-outside-site", replace("10.50.0.11", "10.60.0.11"), 10, "outside its site's network"),
    (
        "overlapping-sites",
        replace("10.51.0.0/24", "10.50.0.0/16").replace("10.51.0.10", "10.50.9.10"),
        14,
        "overlaps",
    ),
    ("service-unknown-host", replace("hosts: [db-01]}", "hosts: [web-01]}"), 21, "does not exist"),
    (
        "service-unknown-site",
        replace("      main: {hosts: [db-01]}", "      moon: {hosts: [db-01]}"),
        21,
        "unknown site",
    ),
    (
        "unknown-role",
        replace("roles: [storage]", "roles: [storage, mailserver]"),
        10,
        "unknown role 'mailserver'",
    ),
    ("replica-without-upstream", replace(", upstream: main/db-01", ""), 16, "no upstream"),
    (
        "upstream-missing",
        replace("upstream: main/db-01", "upstream: main/db-09"),
        16,
        "is not a host",
    ),
    (
        "dataset-without-repository",
        replace("  replication: [local]\n", ""),
        29,
        "has no repository",
    ),
    (
        "dataset-unknown-repository",
        replace("databases: [web]}", "databases: [web], repository: far}"),
        30,
        "unknown repository far",
    ),
    (
        "dataset-to-s3",
        replace(
            "  replication: [local]\n",
            '    cloud: {site: main, kind: s3, endpoint: "http://10.50.0.11:9000", bucket: bkt,'
            ' password: "env:P", access_key: "env:A", secret_key: "env:S"}\n'
            "  replication: [local]\n",
        ).replace("databases: [web]}", "databases: [web], repository: cloud}"),
        31,
        "straight to s3 repository cloud",
    ),
    (
        "dataset-postgres-shards",
        replace("databases: [web]}", "databases: [web], shards: 2}"),
        30,
        "cannot be sharded",
    ),
    (
        "dataset-too-many-shards",
        replace(
            "    db: {kind: postgres",
            "    docs: {kind: files, hosts: [main/store-01], paths: [/srv], shards: 65}\n"
            "    db: {kind: postgres",
        ),
        30,
        "less than or equal to 64",
    ),
    (
        "dataset-no-host",
        replace("hosts: [main/db-01], databases", "hosts: [main/db-07], databases"),
        30,
        "matches no host",
    ),
    (
        "repository-not-storage",
        replace("host: store-01, password", "host: db-01, password"),
        27,
        "lacks the storage role",
    ),
    ("inline-secret", replace('"env:P"', "Sup3rS3cret!"), 27, "inline secret"),
    (
        "inline-secret-host-data",
        replace("roles: [storage]}", "roles: [storage], data: {db_password: hunter2}}"),
        10,
        "inline secret",
    ),
    (
        "two-primaries",
        replace("role: dr", "role: primary"),
        5,
        "exactly one site must have role primary",
    ),
    (
        "placeholder-in-lab",
        replace("title: Test estate\n", "title: Test estate\nenvironment: lab\n")
        .replace("10.50.0.0/24", "192.0.2.0/24")
        .replace("10.50.0.10", "192.0.2.10")
        .replace("10.50.0.11", "192.0.2.11"),
        10,
        "placeholder address",
    ),
    (
        "schedule-not-dividing-day",
        replace("  replication: [local]\n", "  replication: [local]\n  schedule: {interval: 7h}\n"),
        29,
        "must divide the day",
    ),
    (
        "unknown-replication-repository",
        replace("replication: [local]", "replication: [local, vnpt]"),
        28,
        "unknown repository vnpt",
    ),
    (
        "db-without-postgres-settings",
        replace(POSTGRES_LINE, ""),
        1,
        "no `postgres:` section",
    ),
    ("yes-as-name", replace("name: test", "name: yes"), 1, "got True"),
]

NETWORK_LINE = "    network: 10.50.0.0/24\n"
RETENTION_AT = "  replication: [local]\n"
DEEP = "[" * 200 + "]" * 200

# The classes of issue 12: durations, sizes, numbers and bounds, replicas, tags, depth.
BOUNDED_CASES: list[tuple[str, str, int, str]] = [
    ("rto-bare-negative", replace("rto: 1h", "rto: -300"), 22, "bare number"),
    ("rto-bare-seconds", replace("rto: 1h", "rto: 300"), 22, "write the unit, e.g. 300s"),
    ("rto-fraction", replace("rto: 1h", "rto: 1.5"), 22, "bare number"),
    ("rto-zero", replace("rto: 1h", "rto: 0s"), 22, "at least 1s"),
    ("rto-huge", replace("rto: 1h", "rto: 99999999999w"), 22, "longest duration"),
    ("rto-endless-digits", replace("rto: 1h", f"rto: {'9' * 5000}s"), 22, "not a duration"),
    ("rto-yes", replace("rto: 1h", "rto: yes"), 22, "not a duration"),
    ("rto-bare-huge", replace("rto: 1h", f"rto: {'9' * 400}"), 22, "bare number"),
    ("rto-float-overflow", replace("rto: 1h", "rto: 1e400"), 22, "not a duration"),
    (
        "integer-past-4300-digits",
        replace("rto: 1h", f"rto: {'9' * 5000}"),
        22,
        "cannot read the value",
    ),
    ("impossible-date", replace("name: test", "name: 2024-13-45"), 1, "cannot read the value"),
    ("rto-iso", replace("rto: 1h", "rto: PT1H"), 22, "not a duration"),
    ("rpo-zero", replace("rpo: 1d", "rpo: 0s"), 23, "at least 1s"),
    ("rpo-list", replace("rpo: 1d", "rpo: [1d]"), 23, "not a duration"),
    (
        "health-timeout-zero",
        replace("    rpo: 1d\n", "    rpo: 1d\n    health_check: {timeout: 0s}\n"),
        24,
        "at least 1s",
    ),
    (
        "slo-above-one",
        replace("    rpo: 1d\n", "    rpo: 1d\n    availability_slo: 1.5\n"),
        24,
        "less than 1",
    ),
    (
        "slo-nan",
        replace("    rpo: 1d\n", "    rpo: 1d\n    availability_slo: .nan\n"),
        24,
        "finite",
    ),
    (
        "slo-yes",
        replace("    rpo: 1d\n", "    rpo: 1d\n    availability_slo: yes\n"),
        24,
        "valid number",
    ),
    (
        "size-two-dots",
        replace(NETWORK_LINE, NETWORK_LINE + "    storage_capacity: 1.5.3 TB\n"),
        8,
        "not a size",
    ),
    (
        "size-true",
        replace(NETWORK_LINE, NETWORK_LINE + "    storage_capacity: true\n"),
        8,
        "not a size",
    ),
    (
        "size-negative",
        replace(NETWORK_LINE, NETWORK_LINE + "    storage_capacity: -5\n"),
        8,
        "not a size",
    ),
    (
        "size-word",
        replace(NETWORK_LINE, NETWORK_LINE + "    storage_capacity: lots\n"),
        8,
        "not a size",
    ),
    (
        "size-beyond-an-exabyte",
        replace(NETWORK_LINE, NETWORK_LINE + "    storage_capacity: 99999 PB\n"),
        8,
        "largest size",
    ),
    (
        "retention-keeps-nothing",
        replace(
            RETENTION_AT,
            RETENTION_AT
            + "  retention: {within: 0s, daily: 0, weekly: 0, monthly: 0, yearly: 0}\n",
        ),
        29,
        "keeps nothing",
    ),
    (
        "retention-negative",
        replace(RETENTION_AT, RETENTION_AT + "  retention: {daily: -1}\n"),
        29,
        "greater than or equal to 0",
    ),
    (
        "retention-yes",
        replace(RETENTION_AT, RETENTION_AT + "  retention: {daily: yes}\n"),
        29,
        "valid integer",
    ),
    (
        "retention-fraction",
        replace(RETENTION_AT, RETENTION_AT + "  retention: {weekly: 1.5}\n"),
        29,
        "valid integer",
    ),
    (
        "retention-within-bare",
        replace(RETENTION_AT, RETENTION_AT + "  retention: {within: 7}\n"),
        29,
        "bare number",
    ),
    (
        "replication-timeout-zero",
        replace(RETENTION_AT, RETENTION_AT + "  replication_timeout: 0s\n"),
        29,
        "at least 1s",
    ),
    (
        "replication-timeout-bare",
        replace(RETENTION_AT, RETENTION_AT + "  replication_timeout: 600\n"),
        29,
        "write the unit, e.g. 600s",
    ),
    (
        "schedule-interval-zero",
        replace(RETENTION_AT, RETENTION_AT + "  schedule: {interval: 0s}\n"),
        29,
        "at least 1s",
    ),
    (
        "first-day-past-the-step",
        replace(RETENTION_AT, RETENTION_AT + "  schedule: {interval: 7d, first_day: 8}\n"),
        29,
        "first_day must be 1..7",
    ),
    (
        "first-day-on-a-daily-schedule",
        replace(RETENTION_AT, RETENTION_AT + "  schedule: {interval: 24h, first_day: 2}\n"),
        29,
        "first_day applies only to an interval of whole days of 2d or more",
    ),
    (
        "verify-days-yes",
        replace(RETENTION_AT, RETENTION_AT + "  verify_days: yes\n"),
        29,
        "valid integer",
    ),
    (
        "port-zero",
        replace("host: store-01,", "host: store-01, port: 0,"),
        27,
        "greater than or equal to 1",
    ),
    ("port-yes", replace("host: store-01,", "host: store-01, port: yes,"), 27, "valid integer"),
    ("port-text", replace("host: store-01,", "host: store-01, port: '8000',"), 27, "valid integer"),
    ("drill-interval-bare", BASE + "drills: {interval: 91}\n", 31, "bare number"),
    ("replica-of-itself", replace("upstream: main/db-01", "upstream: db-01"), 16, "names itself"),
    (
        "replica-circle",
        replace(
            "      db-01: {address: 10.51.0.10, roles: [db-replica], upstream: main/db-01}\n",
            "      db-01: {address: 10.51.0.10, roles: [db-replica], upstream: db-02}\n"
            "      db-02: {address: 10.51.0.11, roles: [db-replica], upstream: db-01}\n",
        ),
        16,
        "in a circle",
    ),
    ("two-primaries-second", replace("role: dr", "role: primary"), 12, "site dr has role primary"),
    ("no-primary", replace("role: primary", "role: dr"), 3, "no site has role primary"),
    (
        "tag-on-mapping",
        replace("db-01: {address: 10.50.0.10", "db-01: !!set {address: 10.50.0.10"),
        9,
        "YAML tag '!!set'",
    ),
    ("tag-on-list", replace("roles: [db]}", "roles: !roles [db]}"), 9, "YAML tag '!roles'"),
    ("omap-on-block", replace("    hosts:\n", "    hosts: !!omap\n"), 8, "on a mapping"),
    ("python-tag", replace("name: test", "name: !!python/name:os.system test"), 1, "YAML"),
    (
        "deep-list",
        replace("roles: [storage]}", f"roles: [storage], data: {{x: {DEEP}}}}}"),
        10,
        "nested deeper than 64",
    ),
    (
        "deep-through-aliases",
        BASE
        + "".join(
            f"a{k}: &a{k} " + "[" * 60 + (f"*a{k - 1}" if k else "x") + "]" * 60 + "\n"
            for k in range(12)
        ),
        31,
        "nested deeper than 64 levels (through aliases)",
    ),
    (
        "deep-block",
        BASE
        + "".join("  " * level + f"k{level}:\n" for level in range(100))
        + "  " * 100
        + "v: 1\n",
        31 + 63,
        "nested deeper than 64",
    ),
]
CASES += BOUNDED_CASES

DB_LINE = "    db: {kind: postgres, hosts: [main/db-01], databases: [web]}\n"
PLANNING_AFTER = "  replication: [local]\n"


def estimate(text: str) -> str:
    return replace(DB_LINE, DB_LINE.replace("[web]}", "[web], estimate: " + text + "}"))


def planning(text: str) -> str:
    return replace(PLANNING_AFTER, PLANNING_AFTER + "  planning: " + text + "\n")


# Issue 17: what `egov backup plan` predicts with, refused at the line that declares it.
PLAN_CASES: list[tuple[str, str, int, str]] = [
    (
        "wan-bandwidth-without-unit",
        replace(
            "    network: 10.50.0.0/24\n", "    network: 10.50.0.0/24\n    wan_bandwidth: 1000\n"
        ),
        8,
        "not a rate",
    ),
    (
        "wan-bandwidth-too-slow",
        replace(
            "    network: 10.50.0.0/24\n", "    network: 10.50.0.0/24\n    wan_bandwidth: 1 bit/s\n"
        ),
        8,
        "outside 1 kB/s",
    ),
    ("estimate-negative-files", estimate("{files: -1}"), 30, "greater than or equal to 0"),
    ("estimate-change-whole", estimate("{daily_change: 1.5}"), 30, "less than 1"),
    ("estimate-size-word", estimate("{size: lots}"), 30, "not a size"),
    ("estimate-unknown-key", estimate("{sise: 1 TB}"), 30, "did you mean 'size'"),
    ("planning-cores-zero", planning("{cores: 0}"), 29, "greater than or equal to 1"),
    ("planning-window-word", planning("{window: long}"), 29, "not a duration"),
    ("planning-rate-misspelt", planning("{restore_throughput: 145 MBps}"), 29, "not a rate"),
    (
        "planning-walk-vanishing",
        planning("{files_per_second: 1.0e-300}"),
        29,
        "greater than or equal to 1",
    ),
    (
        "planning-efficiency-above-one",
        planning("{link_efficiency: 3}"),
        29,
        "less than or equal to 1",
    ),
    ("planning-earliest-start-25h", planning('{earliest_start: "25:00"}'), 29, "earliest_start"),
]
CASES += PLAN_CASES

# A valid alerting section after BASE (whose 30 lines it follows: it starts at line 31).
ALERTING = """\
alerting:
  smtp: {smarthost: "mx.test.example:587", sender: a@test.example, username: u, password: env:SMTP}
  receivers:
    ops:
      email: [ops@test.example]
      webhooks: [{url: "https://10.50.0.99/hook", token: "env:HOOK"}]
  routes:
    - match: {severity: critical}
      receivers: [ops]
    - match: {severity: warning, site: main}
      receivers: [ops]
      quiet_hours: {start: "22:00", end: "06:30"}
  default: ops
"""


def alerting(old: str, new: str) -> str:
    assert old in ALERTING, old
    return BASE + ALERTING.replace(old, new, 1)


WARNING_ROUTE = "    - match: {severity: warning, site: main}\n"

# Issue 18: who is told, refused with the line of the offending key.
ALERTING_CASES: list[tuple[str, str, int, str]] = [
    (
        "alerting-unknown-route-receiver",
        alerting("[ops]\n", "[opz]\n"),
        39,
        "unknown receiver 'opz'",
    ),
    ("alerting-unknown-default", alerting("default: ops", "default: opz"), 43, "unknown receiver"),
    (
        "alerting-receivers-without-default",
        alerting("  default: ops\n", ""),
        31,
        "no `default:`",
    ),
    ("alerting-inline-password", alerting("env:SMTP", "hunter2"), 32, "inline secret"),
    ("alerting-inline-token", alerting('"env:HOOK"', "abc123"), 36, "inline secret"),
    (
        "alerting-webhook-not-a-url",
        alerting('"https://10.50.0.99/hook"', "hunter2"),
        36,
        "nor a secret",
    ),
    ("alerting-bad-email", alerting("[ops@test.example]", "[ops at test]"), 35, "e-mail address"),
    (
        "alerting-email-no-domain",
        alerting("[ops@test.example]", "[ops@test]"),
        35,
        "e-mail address",
    ),
    ("alerting-bad-sender", alerting("sender: a@", "sender: a-"), 32, "e-mail address"),
    (
        "alerting-smarthost-without-port",
        alerting('"mx.test.example:587"', '"mx.test.example"'),
        32,
        "host:port",
    ),
    (
        "alerting-smarthost-port-too-high",
        alerting('"mx.test.example:587"', '"mx.test.example:99999"'),
        32,
        "host:port",
    ),
    (
        "alerting-login-without-password",
        alerting(", password: env:SMTP", ""),
        32,
        "both username",
    ),
    (
        "alerting-email-without-relay",
        BASE + "".join(line + "\n" for line in ALERTING.splitlines() if "smtp:" not in line),
        34,
        "no `smtp:` relay",
    ),
    (
        "alerting-receiver-without-channel",
        alerting("  routes:\n", "    idle: {}\n  routes:\n"),
        37,
        "has no channel",
    ),
    (
        "alerting-null-receiver-name",
        alerting("  routes:\n", '    "null": {email: [x@test.example]}\n  routes:\n'),
        37,
        "reserved",
    ),
    (
        "alerting-route-unknown-site",
        alerting("site: main}", "site: moon}"),
        40,
        "site 'moon', which the inventory does not have",
    ),
    (
        "alerting-route-unknown-service",
        alerting("{severity: critical}", "{severity: critical, service: [web, mail]}"),
        38,
        "service 'mail'",
    ),
    (
        "alerting-route-bad-severity",
        alerting("severity: critical", "severity: page"),
        38,
        "not allowed",
    ),
    (
        "alerting-route-bad-alertname",
        alerting("{severity: critical}", "{alertname: host-down}"),
        38,
        "alert's name",
    ),
    (
        "alerting-quiet-hours-on-critical",
        alerting("{severity: warning, site", "{severity: [warning, critical], site"),
        42,
        "never held by quiet hours",
    ),
    (
        "alerting-quiet-hours-without-severity",
        alerting("{severity: warning, site: main}", "{site: main}"),
        42,
        "never held by quiet hours",
    ),
    (
        "alerting-quiet-hours-empty",
        alerting('end: "06:30"', 'end: "22:00"'),
        42,
        "empty or the whole day",
    ),
    (
        "alerting-route-after-catch-all",
        alerting(
            "    - match: {severity: critical}\n",
            "    - receivers: [ops]\n    - match: {severity: critical}\n",
        ),
        39,
        "can never match",
    ),
    (
        "alerting-receiver-twice",
        alerting("[ops]\n", "[ops, ops]\n"),
        39,
        "twice",
    ),
    (
        "alerting-repeat-too-short",
        alerting(WARNING_ROUTE, WARNING_ROUTE + "      repeat: 10s\n"),
        41,
        "at least 1m",
    ),
    (
        "alerting-bad-language",
        alerting("alerting:\n", "alerting:\n  language: fr\n"),
        32,
        "not allowed",
    ),
    (
        "alerting-chat-zero",
        alerting("  routes:\n", "    tg: {telegram: {bot_token: env:T, chat_id: 0}}\n  routes:\n"),
        37,
        "names no chat",
    ),
]
CASES += ALERTING_CASES


@pytest.mark.parametrize(
    ("text", "line", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_broken_inventory_gives_positioned_message_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, words: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    code = run(["inventory", "validate", str(path)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err
    messages = [entry for entry in captured.err.splitlines() if entry.startswith("egov: ")]
    matching = [entry for entry in messages if words in entry]
    assert matching, captured.err
    assert matching[0].startswith(f"egov: {path}:{line}:"), matching[0]


def test_at_least_60_kinds_of_broken_inventory() -> None:
    assert len(CASES) + len(FILE_CASES) >= 60


def _empty(path: Path) -> None:
    path.write_text("# only a comment\n", encoding="utf-8")


def _binary(path: Path) -> None:
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)


def _latin1(path: Path) -> None:
    path.write_bytes("name: c\u00e0mau\n".encode("latin-1"))


def _huge(path: Path) -> None:
    line = "# " + "x" * 1022 + "\n"
    path.write_text(BASE + line * (10 * 1024), encoding="utf-8")


def _alias_bomb(path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 9):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _directory(path: Path) -> None:
    path.mkdir()


FILE_CASES = [
    ("empty", _empty, 1, "is empty"),
    ("binary", _binary, 1, "binary content"),
    ("not-utf8", _latin1, 1, "not valid UTF-8"),
    ("ten-megabytes", _huge, 1, "MiB"),
    ("alias-bomb", _alias_bomb, 1, "more than"),
    ("directory", _directory, 1, "is a directory"),
]


@pytest.mark.parametrize(
    ("make", "line", "words"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES]
)
def test_unreadable_inventory_file_gives_positioned_message_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, line: int, words: str
) -> None:
    path = tmp_path / "broken.yaml"
    make(path)  # type: ignore[operator]
    code = run(["inventory", "validate", str(path)])
    captured = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in captured.err
    first = captured.err.splitlines()[0]
    assert first.startswith(f"egov: {path}:") and words in first, captured.err
    assert f":{line}:" in first


def test_missing_file_names_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["inventory", "validate", str(tmp_path / "nope.yaml")])
    assert code == 2
    assert "nope.yaml:1:1: no such file" in capsys.readouterr().err


def test_inline_secret_is_never_echoed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text(replace('"env:P"', "Sup3rS3cret!"), encoding="utf-8")
    assert run(["inventory", "validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert "Sup3rS3cret" not in captured.err + captured.out
    path.write_text(replace("roles: [storage]}", "roles: [storage], data: {api_token: tok-123}}"))
    assert run(["inventory", "validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert "tok-123" not in captured.err + captured.out


def test_base_of_the_broken_cases_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "base.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert run(["inventory", "validate", str(path)]) == 0
    path.write_text(BASE + ALERTING, encoding="utf-8")
    assert run(["inventory", "validate", "--strict", str(path)]) == 0


def test_inline_alerting_secrets_are_never_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "secret.yaml"
    for text in (
        alerting("env:SMTP", "Sm7pS3cret"),
        alerting('"env:HOOK"', "Sm7pS3cret"),
        alerting('"https://10.50.0.99/hook"', "https://sms.example/send?key=Sm7pS3cret x"),
    ):
        path.write_text(text, encoding="utf-8")
        assert run(["inventory", "validate", str(path)]) == 2
        captured = capsys.readouterr()
        assert "Sm7pS3cret" not in captured.err + captured.out
