"""alertmanager.yml, derived from the inventory's ``alerting:`` section (Alertmanager 0.25).

Every monitoring host gets the same file, so the Alertmanagers of the sites form one cluster
that delivers each notification once, from whichever site is left.

- **Grouping**: by ``alertname``, ``site`` and ``service``: one message per incident (two
  hosts of a site down are one HostDown message), not one per series.
- **Routes**: the inventory's, in order, the first match winning; each becomes a node
  matching on the route's labels with one child per receiver (``continue`` between them),
  because a route of Alertmanager names one receiver. A route without ``severity`` takes
  critical and warning alerts; the Watchdog (``severity: none``) goes to the ``null``
  receiver unless a route names ``none``; what no route takes goes to ``default``.
- **Quiet hours**: ``mute_time_intervals`` in the estate's timezone, on warning routes only.
- **Inhibition follows the topology**: a ``SiteDown`` silences every other alert of its site,
  a ``HostDown`` every other alert of its host, a critical alert the warning of the same name
  and labels; two pairs of rules that measure the same thing at two thresholds keep only the
  worse.
- **Secrets**: the relay's password and the webhook tokens are files on the monitoring host
  (``make_secret_files``), read by Alertmanager. Alertmanager 0.25 reads no webhook URL and
  no Telegram token from a file: those are written into alertmanager.yml itself, which is
  therefore readable only by root and the ``prometheus`` group (the deploy's job).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Any

from egov.hostlayout import ALERTMANAGER_PRIVATE_DIRECTORY, ALERTMANAGER_TEMPLATE_DIRECTORY
from egov.inventory.alerting import (
    DEFAULT_REPEAT,
    Alerting,
    AlertSeverity,
    QuietHours,
    Receiver,
    Route,
    RouteMatch,
)
from egov.inventory.alerting_checks import NULL_RECEIVER
from egov.inventory.fields import format_duration, is_secret_reference
from egov.inventory.model import Environment, Estate
from egov.monitoring.prometheus_config import to_yaml

SecretReader = Callable[[str], str]
"""Reads the value behind a secret reference (``egov.secrets.read_secret`` in production)."""

#: One message per incident: an alert's series on one host (its filesystems, its exporters)
#: together. By host too, because a group notifies again whenever what it holds changes: a
#: site-wide group would mail every host again each time one of them fired or cleared, and
#: once a SiteDown clears, the hosts it held back (resolved meanwhile) would be mailed as
#: resolved though no one was told they had failed.
GROUP_BY = ("alertname", "site", "service", "host")
SITE_DOWN_ALERT = "SiteDown"
HOST_DOWN_ALERT = "HostDown"
WORSE_OF_PAIRS = (
    # (worse alert, milder alert it makes redundant, labels both carry)
    ("StorageUsageCritical", "StorageUsageHigh", ("site",)),
    ("ServiceErrorBudgetBurn", "ServiceErrorBudgetBurnSlow", ("service",)),
)
TEMPLATE_FILE_NAME = "egov.tmpl"


@dataclass(frozen=True)
class Timing:
    """How long Alertmanager waits before the first message of a group and between updates."""

    group_wait: timedelta
    group_interval: timedelta


PRODUCTION_TIMING = Timing(timedelta(seconds=30), timedelta(minutes=5))
#: The lab's faults last minutes: its messages must arrive within the test's patience.
LAB_TIMING = Timing(timedelta(seconds=10), timedelta(seconds=30))


@dataclass(frozen=True)
class HostPaths:
    """Where the files alertmanager.yml names live on a monitoring host."""

    template_directory: str = ALERTMANAGER_TEMPLATE_DIRECTORY
    private_directory: str = ALERTMANAGER_PRIVATE_DIRECTORY
    """alertmanager.yml and the secret files: 0750 root:prometheus."""

    @property
    def template_file(self) -> str:
        """The notification templates' file."""
        return f"{self.template_directory}/{TEMPLATE_FILE_NAME}"


MONITORING_HOST_PATHS = HostPaths()


@dataclass(frozen=True)
class SecretFile:
    """A secret Alertmanager reads from a file on the monitoring host."""

    path: str
    reference: str


def make_timing(estate: Estate) -> Timing:
    """The lab's short waits, or production's."""
    return LAB_TIMING if estate.environment is Environment.LAB else PRODUCTION_TIMING


def make_secret_files(
    estate: Estate, paths: HostPaths = MONITORING_HOST_PATHS
) -> dict[str, SecretFile]:
    """The secret files of the alerting section by what they are for, e.g.
    ``{"smtp": SecretFile("/etc/prometheus/egov-alerting/smtp-password", "file:…"),
    "webhook:truc-van-hanh:0": SecretFile(".../webhook-truc-van-hanh-0.token", "file:…")}``.

    The deploy writes these files and the configuration names them: both ask here.
    """
    alerting = estate.alerting
    files: dict[str, SecretFile] = {}
    if alerting.smtp is not None and alerting.smtp.password is not None:
        files["smtp"] = SecretFile(
            f"{paths.private_directory}/smtp-password", alerting.smtp.password
        )
    for name, receiver in alerting.receivers.items():
        for index, webhook in enumerate(receiver.webhooks):
            if webhook.token is not None:
                files[_webhook_key(name, index)] = SecretFile(
                    f"{paths.private_directory}/webhook-{name}-{index}.token", webhook.token
                )
    return files


def _webhook_key(receiver: str, index: int) -> str:
    return f"webhook:{receiver}:{index}"


def make_matchers(match: RouteMatch) -> list[str]:
    """Alertmanager matchers of a route: ``['severity="critical"', 'site=~"primary|site2"']``.

    The values are inventory names and alert names, which hold no quote or regex character.
    """
    matchers = [_matcher("severity", [severity.value for severity in match.get_severities()])]
    for label, values in (
        ("site", match.site),
        ("service", match.service),
        ("alertname", match.alertname),
    ):
        if values:
            matchers.append(_matcher(label, list(values)))
    return matchers


def _matcher(label: str, values: list[str]) -> str:
    if len(values) == 1:
        return f'{label}="{values[0]}"'
    return f'{label}=~"{"|".join(values)}"'


def make_quiet_hours_name(quiet_hours: QuietHours) -> str:
    """The time interval's name: ``quiet-hours-2200-0630``."""
    start, end = (time.replace(":", "") for time in (quiet_hours.start, quiet_hours.end))
    return f"quiet-hours-{start}-{end}"


def make_time_interval(quiet_hours: QuietHours, timezone: str) -> dict[str, Any]:
    """The named time interval of ``quiet_hours`` in ``timezone``; a window across midnight
    (22:00–06:30) is two ranges, as Alertmanager's ranges stay within a day."""
    if quiet_hours.start < quiet_hours.end:
        times = [{"start_time": quiet_hours.start, "end_time": quiet_hours.end}]
    else:
        times = [
            {"start_time": quiet_hours.start, "end_time": "24:00"},
            {"start_time": "00:00", "end_time": quiet_hours.end},
        ]
    return {
        "name": make_quiet_hours_name(quiet_hours),
        "time_intervals": [{"times": times, "location": timezone}],
    }


def make_route(route: Route) -> dict[str, Any]:
    """One inventory route as an Alertmanager route: its matchers, one child per receiver."""
    children: list[dict[str, Any]] = []
    for position, receiver in enumerate(route.receivers):
        child: dict[str, Any] = {"receiver": receiver}
        if route.quiet_hours is not None:
            # Not inherited: each route that notifies carries its own mute intervals.
            child["mute_time_intervals"] = [make_quiet_hours_name(route.quiet_hours)]
        if position < len(route.receivers) - 1:
            child["continue"] = True
        children.append(child)
    return {
        "matchers": make_matchers(route.match),
        "repeat_interval": format_duration(route.repeat),
        "routes": children,
    }


def make_inhibit_rules() -> list[dict[str, Any]]:
    """Rules keeping the cause and dropping its consequences (see the module's docstring).

    ``equal`` compares labels an alert may lack (as empty): every source here carries the
    compared label, so an alert without it is never inhibited by accident.
    """
    rules: list[dict[str, Any]] = [
        {
            "source_matchers": [f'alertname="{SITE_DOWN_ALERT}"'],
            "target_matchers": [f'alertname!="{SITE_DOWN_ALERT}"'],
            "equal": ["site"],
        },
        {
            "source_matchers": [f'alertname="{HOST_DOWN_ALERT}"'],
            "target_matchers": [f'alertname!="{HOST_DOWN_ALERT}"'],
            "equal": ["host"],
        },
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": list(GROUP_BY),
        },
    ]
    rules += [
        {
            "source_matchers": [f'alertname="{worse}"'],
            "target_matchers": [f'alertname="{milder}"'],
            "equal": list(labels),
        }
        for worse, milder, labels in WORSE_OF_PAIRS
    ]
    return rules


def get_inhibiting_alert_names() -> set[str]:
    """The alert names the inhibition rules rely on (a test holds the rules to them)."""
    return {SITE_DOWN_ALERT, HOST_DOWN_ALERT} | {
        name for worse, milder, _ in WORSE_OF_PAIRS for name in (worse, milder)
    }


def make_receiver(
    estate: Estate,
    name: str,
    receiver: Receiver,
    read_secret: SecretReader,
    paths: HostPaths = MONITORING_HOST_PATHS,
) -> dict[str, Any]:
    """One receiver with its e-mail, webhook and Telegram configurations.

    In the lab, TLS certificates (the SMTP sink's, a webhook's) are self-signed, so TLS is not
    verified there, as for the blackbox probes; STARTTLS itself is still required. In
    production every certificate is verified against the system's CA store.
    """
    language = estate.alerting.language.value
    secrets = make_secret_files(estate, paths)
    lab = estate.environment is Environment.LAB
    result: dict[str, Any] = {"name": name}
    if receiver.email:
        email: dict[str, Any] = {
            "to": ", ".join(receiver.email),
            "send_resolved": True,
            "headers": {"Subject": _template(language, "subject")},
            "html": _template(language, "html"),
            "text": _template(language, "text"),
        }
        smtp = estate.alerting.smtp
        if smtp is not None and smtp.username is not None and "smtp" in secrets:
            email["auth_username"] = smtp.username
            email["auth_password_file"] = secrets["smtp"].path
        if lab:
            email["tls_config"] = {"insecure_skip_verify": True}
        result["email_configs"] = [email]
    webhooks = []
    for index, webhook in enumerate(receiver.webhooks):
        url = read_secret(webhook.url) if is_secret_reference(webhook.url) else webhook.url
        config: dict[str, Any] = {"url": url, "send_resolved": True}
        http: dict[str, Any] = {}
        token = secrets.get(_webhook_key(name, index))
        if token is not None:
            http["authorization"] = {"type": "Bearer", "credentials_file": token.path}
        if lab:
            http["tls_config"] = {"insecure_skip_verify": True}
        if http:
            config["http_config"] = http
        webhooks.append(config)
    if webhooks:
        result["webhook_configs"] = webhooks
    if receiver.telegram is not None:
        telegram: dict[str, Any] = {
            "bot_token": read_secret(receiver.telegram.bot_token),
            "chat_id": receiver.telegram.chat_id,
            "parse_mode": "HTML",
            "message": _template(language, "telegram"),
            "send_resolved": True,
        }
        if receiver.telegram.api_url is not None:
            telegram["api_url"] = receiver.telegram.api_url
        result["telegram_configs"] = [telegram]
    return result


def _template(language: str, part: str) -> str:
    return f'{{{{ template "egov.{language}.{part}" . }}}}'


def build_alertmanager_config(
    estate: Estate, read_secret: SecretReader, paths: HostPaths = MONITORING_HOST_PATHS
) -> dict[str, Any]:
    """alertmanager.yml for every monitoring host of ``estate``.

    ``read_secret`` is called only for what Alertmanager 0.25 cannot read from a file: a
    webhook URL given as a secret reference and Telegram bot tokens. Without receivers in the
    inventory, every alert goes to the ``null`` receiver and nothing is delivered.
    """
    alerting = estate.alerting
    timing = make_timing(estate)
    route: dict[str, Any] = {
        "receiver": alerting.default or NULL_RECEIVER,
        "group_by": list(GROUP_BY),
        "group_wait": format_duration(timing.group_wait),
        "group_interval": format_duration(timing.group_interval),
        "repeat_interval": format_duration(DEFAULT_REPEAT),
    }
    config: dict[str, Any] = {}
    if alerting.smtp is not None:
        config["global"] = {
            "smtp_smarthost": alerting.smtp.smarthost,
            "smtp_from": alerting.smtp.sender,
            "smtp_require_tls": True,
        }
    config["templates"] = [paths.template_file]
    if alerting.delivers:
        route["routes"] = [
            *(make_route(item) for item in alerting.routes),
            {"matchers": [f'severity="{AlertSeverity.NONE.value}"'], "receiver": NULL_RECEIVER},
        ]
    config["route"] = route
    config["inhibit_rules"] = make_inhibit_rules()
    config["receivers"] = [
        {"name": NULL_RECEIVER},
        *(
            make_receiver(estate, name, receiver, read_secret, paths)
            for name, receiver in alerting.receivers.items()
        ),
    ]
    intervals = _make_time_intervals(alerting, estate.timezone)
    if intervals:
        config["time_intervals"] = intervals
    return config


def _make_time_intervals(alerting: Alerting, timezone: str) -> list[dict[str, Any]]:
    intervals: dict[str, dict[str, Any]] = {}
    for route in alerting.routes:
        if route.quiet_hours is not None:
            interval = make_time_interval(route.quiet_hours, timezone)
            intervals[interval["name"]] = interval
    return list(intervals.values())


def has_inline_secrets(alerting: Alerting) -> bool:
    """Whether alertmanager.yml holds secret values: Telegram tokens, webhook URLs kept as
    secrets."""
    return any(
        receiver.telegram is not None
        or any(is_secret_reference(webhook.url) for webhook in receiver.webhooks)
        for receiver in alerting.receivers.values()
    )


def render_alertmanager_config(
    estate: Estate, read_secret: SecretReader, paths: HostPaths = MONITORING_HOST_PATHS
) -> str:
    """alertmanager.yml's text, its header saying whether and where alerts are delivered."""
    text = to_yaml(build_alertmanager_config(estate, read_secret, paths), "alertmanager")
    if not estate.alerting.delivers:
        note = (
            "# NOTHING IS DELIVERED: the inventory's `alerting:` section names no receivers, so\n"
            "# every alert goes to the `null` receiver. Alerts are seen only in the Alertmanager\n"
            "# UI and API. Add receivers and routes to the inventory to notify people.\n"
        )
    else:
        receivers = ", ".join(estate.alerting.receivers)
        note = f"# Delivered to: {receivers} (routes from the inventory's `alerting:`).\n"
        if has_inline_secrets(estate.alerting):
            note += (
                "# Holds a secret webhook URL or a Telegram token (Alertmanager 0.25 reads\n"
                "# neither from a file): readable by root and the prometheus group only.\n"
            )
    header, _, body = text.partition("\n")
    return f"{header}\n{note}{body}"


def get_notification_templates() -> str:
    """The Go templates of the notifications (``egov.vi.*`` and ``egov.en.*``)."""
    return (resources.files("egov.monitoring") / "notification.tmpl").read_text(encoding="utf-8")
