"""alertmanager.yml from the inventory, checked by Alertmanager's own tools and by a real
Alertmanager on loopback delivering to a webhook sink (inhibition, quiet hours, tokens).

amtool and prometheus-alertmanager come from Debian's prometheus-alertmanager, which
``make unit`` installs; in CI a skip is a failure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
import yaml

from egov.inventory import load_estate
from egov.inventory.alerting import Alerting, Language
from egov.inventory.model import Environment, Estate
from egov.monitoring import alertmanager_config as config
from egov.monitoring.rules import build_rules, get_alert_names
from egov.monitoring.targets import make_targets
from tests.deploys.support import get_free_port, with_alerting_secrets
from tests.loopback import serving
from tests.monitoring.conftest import CAMAU, need


def fake_secret(reference: str) -> str:
    return f"value-of-{reference}"


@pytest.fixture(scope="module")
def camau() -> Estate:
    return load_estate(CAMAU).estate


def with_alerting(estate: Estate, alerting: dict[str, Any]) -> Estate:
    return estate.model_copy(update={"alerting": Alerting.model_validate(alerting)})


def routes_of(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = configuration["route"]["routes"]
    return routes


def receiver(configuration: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in configuration["receivers"] if item["name"] == name)


# --- the configuration, pure ---------------------------------------------------------------


def test_without_receivers_nothing_is_delivered_and_the_file_says_so(lab: Estate) -> None:
    estate = lab.model_copy(update={"alerting": Alerting()})
    configuration = config.build_alertmanager_config(estate, fake_secret)
    assert configuration["receivers"] == [{"name": "null"}]
    assert configuration["route"]["receiver"] == "null"
    assert "routes" not in configuration["route"]
    assert "global" not in configuration
    text = config.render_alertmanager_config(estate, fake_secret)
    assert "NOTHING IS DELIVERED" in text.splitlines()[1]


def test_lab_mails_through_the_relay_with_starttls_and_posts_the_webhook(lab: Estate) -> None:
    configuration = config.build_alertmanager_config(lab, fake_secret)
    assert configuration["global"] == {
        "smtp_smarthost": "10.213.3.1:2525",
        "smtp_from": "canhbao@lab.example",
        "smtp_require_tls": True,
    }
    on_call = receiver(configuration, "truc-van-hanh")
    (email,) = on_call["email_configs"]
    assert email["to"] == "vanhanh@lab.example"
    assert email["send_resolved"] is True
    assert email["auth_username"] == "egov-alerts"
    assert email["auth_password_file"] == "/etc/prometheus/egov-alerting/smtp-password"
    assert email["headers"]["Subject"] == '{{ template "egov.vi.subject" . }}'
    assert email["html"] == '{{ template "egov.vi.html" . }}'
    # the lab's SMTP sink has a self-signed certificate: TLS required, not verified
    assert email["tls_config"] == {"insecure_skip_verify": True}
    (webhook,) = on_call["webhook_configs"]
    assert webhook["url"] == "http://10.213.3.1:2526/hook"
    assert webhook["send_resolved"] is True
    assert webhook["http_config"]["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/etc/prometheus/egov-alerting/webhook-truc-van-hanh-0.token",
    }
    assert configuration["templates"] == ["/etc/prometheus/alertmanager_templates/egov.tmpl"]


def test_production_verifies_tls_and_reads_the_telegram_token_it_must_inline(
    camau: Estate,
) -> None:
    configuration = config.build_alertmanager_config(camau, fake_secret)
    on_call = receiver(configuration, "truc-van-hanh")
    assert "tls_config" not in on_call["email_configs"][0]
    assert "tls_config" not in on_call["webhook_configs"][0]["http_config"]
    (telegram,) = on_call["telegram_configs"]
    assert telegram["bot_token"] == "value-of-file:/etc/egov/secrets/telegram-bot"
    assert telegram["chat_id"] == -1001234567890
    assert telegram["parse_mode"] == "HTML"
    assert telegram["message"] == '{{ template "egov.vi.telegram" . }}'
    assert receiver(configuration, "quan-tri-csdl")["email_configs"][0]["to"] == (
        "csdl@camau.example"
    )


def test_a_webhook_url_kept_as_a_secret_is_read_and_written_inline(lab: Estate) -> None:
    estate = with_alerting(
        lab,
        {
            "receivers": {"sms": {"webhooks": [{"url": "file:/etc/egov/secrets/sms-url"}]}},
            "default": "sms",
        },
    )
    (webhook,) = receiver(config.build_alertmanager_config(estate, fake_secret), "sms")[
        "webhook_configs"
    ]
    assert webhook["url"] == "value-of-file:/etc/egov/secrets/sms-url"
    assert "authorization" not in webhook["http_config"]


def test_english_messages_use_the_english_templates(lab: Estate) -> None:
    estate = lab.model_copy(
        update={"alerting": lab.alerting.model_copy(update={"language": Language.EN})}
    )
    email = config.build_alertmanager_config(estate, fake_secret)["receivers"][1]["email_configs"]
    assert email[0]["headers"]["Subject"] == '{{ template "egov.en.subject" . }}'


def test_groups_are_incidents_and_the_lab_waits_less(lab: Estate, camau: Estate) -> None:
    for estate, wait, interval in ((lab, "10s", "30s"), (camau, "30s", "5m")):
        route = config.build_alertmanager_config(estate, fake_secret)["route"]
        assert route["group_by"] == ["alertname", "site", "service", "host"]
        assert (route["group_wait"], route["group_interval"]) == (wait, interval)
        assert route["receiver"] == "truc-van-hanh"


def test_routes_keep_the_inventory_order_and_the_watchdog_goes_nowhere(camau: Estate) -> None:
    routes = routes_of(config.build_alertmanager_config(camau, fake_secret))
    assert [route["matchers"] for route in routes] == [
        ['severity="critical"'],
        ['severity="warning"', 'alertname="PostgresHeartbeatStale"'],
        ['severity="warning"', 'site="primary"'],
        ['severity="none"'],
    ]
    assert routes[-1]["receiver"] == "null"
    assert [route["repeat_interval"] for route in routes[:3]] == ["1h", "4h", "4h"]


def test_a_route_without_severity_takes_critical_and_warning_and_lists_match_any(
    lab: Estate,
) -> None:
    estate = with_alerting(
        lab,
        {
            "receivers": {"a": {"email": ["a@lab.example"]}, "b": {"email": ["b@lab.example"]}},
            "smtp": {"smarthost": "10.213.3.1:2525", "sender": "x@lab.example"},
            "routes": [{"match": {"site": ["primary", "site2"]}, "receivers": ["a", "b"]}],
            "default": "a",
        },
    )
    (route, _) = routes_of(config.build_alertmanager_config(estate, fake_secret))
    assert route["matchers"] == ['severity=~"critical|warning"', 'site=~"primary|site2"']
    assert route["routes"] == [{"receiver": "a", "continue": True}, {"receiver": "b"}]


def test_quiet_hours_mute_only_the_warning_route_in_the_estates_timezone(lab: Estate) -> None:
    configuration = config.build_alertmanager_config(lab, fake_secret)
    critical, warning, _ = routes_of(configuration)
    assert all("mute_time_intervals" not in child for child in critical["routes"])
    assert warning["routes"] == [
        {"receiver": "truc-van-hanh", "mute_time_intervals": ["quiet-hours-2200-0630"]}
    ]
    assert configuration["time_intervals"] == [
        {
            "name": "quiet-hours-2200-0630",
            "time_intervals": [
                {
                    "times": [
                        {"start_time": "22:00", "end_time": "24:00"},
                        {"start_time": "00:00", "end_time": "06:30"},
                    ],
                    "location": "Asia/Ho_Chi_Minh",
                }
            ],
        }
    ]


def test_quiet_hours_within_a_day_are_one_range() -> None:
    from egov.inventory.alerting import QuietHours

    interval = config.make_time_interval(QuietHours(start="12:00", end="13:30"), "Asia/Bangkok")
    assert interval["time_intervals"] == [
        {"times": [{"start_time": "12:00", "end_time": "13:30"}], "location": "Asia/Bangkok"}
    ]


def test_inhibition_follows_the_topology() -> None:
    rules = config.make_inhibit_rules()
    assert {
        "source_matchers": ['alertname="SiteDown"'],
        "target_matchers": ['alertname!="SiteDown"'],
        "equal": ["site"],
    } in rules
    assert {
        "source_matchers": ['alertname="HostDown"'],
        "target_matchers": ['alertname!="HostDown"'],
        "equal": ["host"],
    } in rules


def test_inhibition_names_alerts_the_rules_generate(lab: Estate) -> None:
    generated = get_alert_names(build_rules(make_targets(lab)))
    missing = config.get_inhibiting_alert_names() - generated
    assert not missing, f"inhibition rules name alerts no rule generates: {missing}"


def test_secret_files_are_named_once_for_the_deploy_and_the_configuration(camau: Estate) -> None:
    files = config.make_secret_files(camau)
    assert {key: (item.path, item.reference) for key, item in files.items()} == {
        "smtp": (
            "/etc/prometheus/egov-alerting/smtp-password",
            "file:/etc/egov/secrets/smtp-relay",
        ),
        "webhook:truc-van-hanh:0": (
            "/etc/prometheus/egov-alerting/webhook-truc-van-hanh-0.token",
            "file:/etc/egov/secrets/sms-token",
        ),
    }


def test_no_secret_reaches_the_file_but_what_alertmanager_cannot_read_from_one(
    camau: Estate, lab: Estate
) -> None:
    for estate in (camau, lab):
        environment: dict[str, str] = {}
        with_secrets = with_alerting_secrets(estate, environment)
        text = config.render_alertmanager_config(with_secrets, environment_reader(environment))
        inline = set()
        for item in with_secrets.alerting.receivers.values():
            if item.telegram is not None:
                inline.add(environment[item.telegram.bot_token.removeprefix("env:")])
            for webhook in item.webhooks:
                if webhook.url.startswith("env:"):
                    inline.add(environment[webhook.url.removeprefix("env:")])
        for value in environment.values():
            assert (value in text) is (value in inline), value
        assert ("Telegram token" in text) is bool(inline)


def environment_reader(environment: dict[str, str]) -> config.SecretReader:
    return lambda reference: environment[reference.removeprefix("env:")]


def test_lab_and_lab_secrets_agree(lab: Estate) -> None:
    # the lab generates every file: secret the inventory names, these included
    from egov.secrets import list_secret_references

    references = list_secret_references(lab.model_dump(mode="json"))
    assert "file:/var/lib/egov/lab/secrets/smtp-relay" in references
    assert "file:/var/lib/egov/lab/secrets/webhook-token" in references


# --- the real tools -------------------------------------------------------------------------


def write_configuration(estate: Estate, directory: Path) -> Path:
    """alertmanager.yml of ``estate`` in ``directory``, with its templates and secret files."""
    paths = config.HostPaths(str(directory), str(directory))
    (directory / config.TEMPLATE_FILE_NAME).write_text(
        config.get_notification_templates(), encoding="utf-8"
    )
    for item in config.make_secret_files(estate, paths).values():
        Path(item.path).write_text(fake_secret(item.reference) + "\n", encoding="utf-8")
    path = directory / "alertmanager.yml"
    path.write_text(config.render_alertmanager_config(estate, fake_secret, paths), encoding="utf-8")
    return path


def amtool(*arguments: str) -> str:
    result = subprocess.run(
        [need("amtool"), *arguments], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("name", ["lab", "camau", "nothing"])
def test_amtool_accepts_the_configuration(
    name: str, lab: Estate, camau: Estate, tmp_path: Path
) -> None:
    estate = {"lab": lab, "camau": camau}.get(name) or lab.model_copy(
        update={"alerting": Alerting()}
    )
    output = amtool("check-config", str(write_configuration(estate, tmp_path)))
    assert "SUCCESS" in output
    assert " - 1 templates" in output


def test_amtool_refuses_a_broken_configuration(lab: Estate, tmp_path: Path) -> None:
    # the check the deploy runs before reloading must be able to fail
    path = write_configuration(lab, tmp_path)
    path.write_text(path.read_text().replace("receiver: truc-van-hanh", "receiver: nobody"))
    result = subprocess.run(
        [need("amtool"), "check-config", str(path)], check=False, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "nobody" in result.stdout + result.stderr


def routed(path: Path, **labels: str) -> list[str]:
    arguments = [f"{name}={value}" for name, value in labels.items()]
    output = amtool("config", "routes", "test", f"--config.file={path}", *arguments)
    return output.strip().split(",")


def test_routing_decisions(lab: Estate, camau: Estate, tmp_path: Path) -> None:
    lab_file = write_configuration(lab, mkdir(tmp_path / "lab"))
    camau_file = write_configuration(camau, mkdir(tmp_path / "camau"))
    assert routed(lab_file, alertname="HostDown", severity="critical", site="primary") == [
        "truc-van-hanh"
    ]
    assert routed(lab_file, alertname="Watchdog", severity="none") == ["null"]
    assert routed(lab_file, alertname="DrillFailed", severity="warning") == ["truc-van-hanh"]
    assert routed(camau_file, alertname="PostgresHeartbeatStale", severity="warning") == [
        "quan-tri-csdl"
    ]
    # critical first: the DBAs' warning route does not take the critical alert of a database
    assert routed(camau_file, alertname="PostgresHeartbeatStale", severity="critical") == [
        "truc-van-hanh"
    ]
    # a warning of a site no route names goes to the default
    assert routed(camau_file, alertname="HostDown", severity="warning", site="site2") == [
        "truc-van-hanh"
    ]


def mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def test_a_route_with_two_receivers_tells_both(lab: Estate, tmp_path: Path) -> None:
    estate = with_alerting(
        lab,
        {
            "smtp": {"smarthost": "10.213.3.1:2525", "sender": "x@lab.example"},
            "receivers": {"a": {"email": ["a@lab.example"]}, "b": {"email": ["b@lab.example"]}},
            "routes": [{"match": {"severity": "critical"}, "receivers": ["a", "b"]}],
            "default": "b",
        },
    )
    path = write_configuration(estate, tmp_path)
    assert routed(path, alertname="HostDown", severity="critical") == ["a", "b"]
    assert routed(path, alertname="HostDown", severity="warning") == ["b"]


# --- the templates ---------------------------------------------------------------------------

STARTS_AT = "2026-12-05T08:00:00Z"


def template_data(status: str) -> dict[str, Any]:
    alert = {
        "status": status,
        "labels": {
            "alertname": "HostDown",
            "severity": "critical",
            "site": "primary",
            "host": "primary-portal-01",
        },
        "annotations": {
            "summary": "Máy chủ primary-portal-01 tại primary không phản hồi",
            "description": "Đo được: 3m không trả lời; mục tiêu: < 1m & <ngay>",
            "runbook": "docs/runbooks.md#hostdown",
        },
        "startsAt": STARTS_AT,
        "endsAt": "2026-12-05T08:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://10.213.1.40:9090/graph",
        "fingerprint": "0123456789abcdef",
    }
    return {
        "receiver": "truc-van-hanh",
        "status": status,
        "alerts": [alert],
        "groupLabels": {"alertname": "HostDown", "site": "primary"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://10.213.3.40:9093",
    }


def render(tmp_path: Path, name: str, status: str, kind: str = "text") -> str:
    templates = tmp_path / config.TEMPLATE_FILE_NAME
    templates.write_text(config.get_notification_templates(), encoding="utf-8")
    data = tmp_path / f"{status}.json"
    data.write_text(json.dumps(template_data(status)), encoding="utf-8")
    result = subprocess.run(
        [
            need("amtool"),
            "template",
            "render",
            f"--template.glob={templates}",
            f"--template.data={data}",
            f"--template.type={kind}",
            f'--template.text={{{{ template "{name}" . }}}}',
        ],
        check=False,
        capture_output=True,
        text=True,
        # what the deploy gives Alertmanager: TZ, the estate's timezone
        env={**os.environ, "TZ": "Asia/Ho_Chi_Minh"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_vietnamese_message_says_what_where_since_when_and_the_runbook(tmp_path: Path) -> None:
    subject = render(tmp_path, "egov.vi.subject", "firing")
    assert subject == (
        "[CẢNH BÁO NGHIÊM TRỌNG] Máy chủ primary-portal-01 tại primary không phản hồi"
    )
    body = render(tmp_path, "egov.vi.text", "firing")
    for words in (
        "Trạm: primary",
        "Máy chủ: primary-portal-01",
        "Đo được: 3m không trả lời; mục tiêu: < 1m",
        "Bắt đầu lúc: 05/12/2026 15:00:00 +07",  # 08:00 UTC in Ho Chi Minh City
        "Hướng dẫn xử lý: docs/runbooks.md#hostdown",
        "mức nghiêm trọng",
    ):
        assert words in body, body
    assert "Khắc phục lúc" not in body


def test_vietnamese_resolved_message_is_distinct(tmp_path: Path) -> None:
    subject = render(tmp_path, "egov.vi.subject", "resolved")
    assert subject.startswith("[ĐÃ KHẮC PHỤC] Máy chủ primary-portal-01")
    body = render(tmp_path, "egov.vi.text", "resolved")
    assert "Đã khắc phục (1):" in body
    assert "Khắc phục lúc: 05/12/2026 15:30:00 +07" in body


def test_english_messages(tmp_path: Path) -> None:
    assert render(tmp_path, "egov.en.subject", "firing").startswith("[CRITICAL] ")
    assert render(tmp_path, "egov.en.subject", "resolved").startswith("[RESOLVED] ")
    body = render(tmp_path, "egov.en.text", "firing")
    assert "Since: 05/12/2026 15:00:00 +07" in body
    assert "Runbook: docs/runbooks.md#hostdown" in body


def test_html_and_telegram_escape_what_the_alert_says(tmp_path: Path) -> None:
    html = render(tmp_path, "egov.vi.html", "firing", kind="html")
    assert "&lt;ngay&gt;" in html and "<ngay>" not in html
    assert "<td>Hướng dẫn xử lý</td>" in html
    telegram = render(tmp_path, "egov.vi.telegram", "firing")
    assert telegram.startswith("<b>[CẢNH BÁO NGHIÊM TRỌNG]")
    assert "&lt; 1m &amp; &lt;ngay&gt;" in telegram


def test_every_template_the_configuration_names_is_defined(lab: Estate) -> None:
    defined = set(re.findall(r'{{ define "([^"]+)" -?}}', config.get_notification_templates()))
    for language in Language:
        estate = lab.model_copy(
            update={"alerting": lab.alerting.model_copy(update={"language": language})}
        )
        text = config.render_alertmanager_config(estate, fake_secret)
        named = set(re.findall(r'template "([^"]+)"', text))
        assert named and named <= defined, named - defined


# --- a real Alertmanager delivering to a webhook sink ----------------------------------------


class _Sink(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        with self.lock:
            self.received.append((self.headers.get("Authorization", ""), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def sink() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    received: list[tuple[str, dict[str, Any]]] = []
    handler = type("Sink", (_Sink,), {"received": received})
    with serving(handler) as url:
        yield url, received


def run_alertmanager(path: Path, directory: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            need("prometheus-alertmanager"),
            f"--config.file={path}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(directory / "log").open("w"),
        env={**os.environ, "TZ": "Asia/Ho_Chi_Minh"},
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1):
                return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log = (directory / "log").read_text(encoding="utf-8")
                raise AssertionError(f"alertmanager did not start: {log[-800:]}") from None
            time.sleep(0.2)


def post_alerts(port: int, alerts: list[dict[str, str]]) -> None:
    body = json.dumps(
        [
            {
                "labels": labels,
                "annotations": {"summary": labels["alertname"]},
                "startsAt": datetime.now(UTC).isoformat(),
            }
            for labels in alerts
        ]
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v2/alerts",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def test_a_real_alertmanager_delivers_the_cause_once_and_holds_the_rest(
    lab: Estate,
    tmp_path: Path,
    sink: tuple[str, list[tuple[str, dict[str, Any]]]],
) -> None:
    url, received = sink
    now = datetime.now(ZoneInfo(lab.timezone))
    quiet = {
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=1)).strftime("%H:%M"),
    }
    token = "sink-token-0123456789"
    environment = {"EGOV_TEST_SINK_TOKEN": token}
    estate = with_alerting(
        lab,
        {
            "receivers": {
                "ops": {"webhooks": [{"url": f"{url}/hook", "token": "env:EGOV_TEST_SINK_TOKEN"}]}
            },
            "routes": [
                {"match": {"severity": "critical"}, "receivers": ["ops"], "repeat": "1h"},
                {
                    "match": {"severity": "warning", "site": "site2"},
                    "receivers": ["ops"],
                    "quiet_hours": quiet,
                },
            ],
            "default": "ops",
        },
    )
    assert estate.environment is Environment.LAB  # group_wait 10s
    paths = config.HostPaths(str(tmp_path), str(tmp_path))
    for item in config.make_secret_files(estate, paths).values():
        Path(item.path).write_text(environment[item.reference.removeprefix("env:")] + "\n")
    (tmp_path / config.TEMPLATE_FILE_NAME).write_text(config.get_notification_templates())
    path = tmp_path / "alertmanager.yml"
    path.write_text(
        config.render_alertmanager_config(estate, environment_reader(environment), paths)
    )
    port = get_free_port()
    process = run_alertmanager(path, tmp_path, port)
    try:
        post_alerts(
            port,
            [
                {"alertname": "SiteDown", "severity": "critical", "site": "primary"},
                # behind the site that is down: inhibited
                {
                    "alertname": "HostDown",
                    "severity": "critical",
                    "site": "primary",
                    "host": "primary-portal-01",
                },
                # another site's host: delivered
                {
                    "alertname": "HostDown",
                    "severity": "critical",
                    "site": "site2",
                    "host": "site2-app-01",
                },
                # a warning in its route's quiet hours: muted; another site's (the default's
                # route, no quiet hours): delivered
                {"alertname": "DrillFailed", "severity": "warning", "site": "site2"},
                {"alertname": "DrillFailed", "severity": "warning", "site": "vnpt"},
                {"alertname": "Watchdog", "severity": "none"},
            ],
        )
        deadline = time.monotonic() + 30
        while len(received) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # anything else would have come with the same group_wait
    finally:
        process.terminate()
        process.wait(timeout=10)
    delivered = sorted(
        (alert["labels"]["alertname"], alert["labels"].get("site", ""))
        for _, body in received
        for alert in body["alerts"]
    )
    assert delivered == [
        ("DrillFailed", "vnpt"),
        ("HostDown", "site2"),
        ("SiteDown", "primary"),
    ], (tmp_path / "log").read_text()
    assert {authorization for authorization, _ in received} == {f"Bearer {token}"}
    assert token not in path.read_text()


def test_yaml_of_the_configuration_is_what_the_builder_says(lab: Estate) -> None:
    text = config.render_alertmanager_config(lab, fake_secret)
    assert yaml.safe_load(text) == config.build_alertmanager_config(lab, fake_secret)
