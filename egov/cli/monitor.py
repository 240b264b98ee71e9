"""`egov monitor …`: the exporter, alert rules, dashboards and the estate's health."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from egov.cli.app import (
    InventoryOption,
    OutputFormat,
    OutputOption,
    agent_app,
    app,
    load_inventory,
    print_json,
    stdout,
)
from egov.errors import InputError
from egov.inventory.fields import format_duration

if TYPE_CHECKING:
    from egov.monitoring.alerts import AlertsReport
    from egov.monitoring.targets import MonitoringTargets

monitor_app = typer.Typer(
    help="Monitoring: the egov exporter, alert rules, dashboards, the estate's status and alerts.",
    no_args_is_help=True,
)
app.add_typer(monitor_app, name="monitor")

OutputDirectoryArgument = Annotated[
    Path, typer.Argument(help="Directory to write into (created if missing).")
]


def _monitoring_targets(inventory: Path | None, targets_file: Path | None) -> MonitoringTargets:
    from egov.monitoring.targets import load_targets, make_targets

    if targets_file is None:
        return make_targets(load_inventory(inventory).estate)
    try:
        return load_targets(targets_file)
    except (OSError, ValueError) as error:
        raise InputError(
            f"{targets_file}: cannot read the monitoring targets: {error}",
            "give the file the monitoring deploy writes, or --inventory instead",
        ) from None


def _output_directory(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(
            f"{directory}: cannot use as output directory: {error.strerror or error}",
            "give a writable directory",
        ) from None
    return directory


def _write_outputs(files: dict[Path, str]) -> None:
    for path, text in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise InputError(
                f"{path}: cannot write: {error.strerror or error}", "give a writable directory"
            ) from None
        stdout.print(f"wrote {path}", soft_wrap=True)


@monitor_app.command("exporter")
def monitor_exporter(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = (
        9640
    ),
    address: Annotated[str, typer.Option("--address", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help="State directory [default: $EGOV_STATE_DIR, else /var/lib/egov/state].",
            show_default=False,
        ),
    ] = None,
    targets_file: Annotated[
        Path | None,
        typer.Option("--targets", help="Targets JSON written by the deploy (else --inventory)."),
    ] = None,
    inventory: InventoryOption = None,
) -> None:
    """Serve the egov metrics (backups, replication, verification, drills) for Prometheus."""
    from egov.monitoring.exporter import run_exporter
    from egov.records import RecordReader, get_state_dir

    directory = state_dir or get_state_dir()
    try:
        RecordReader(directory).check()
    except OSError as error:
        raise InputError(
            f"{directory}: cannot read the state directory: {error.strerror or error}",
            "give an existing, readable directory with --state-dir",
        ) from None
    targets = _monitoring_targets(inventory, targets_file)
    stdout.print(f"egov exporter: http://{address}:{port}/metrics, state {directory}")
    try:
        run_exporter(targets, directory, address, port)
    except OSError as error:
        raise InputError(
            f"cannot listen on {address}:{port}: {error.strerror or error}",
            "choose another --address or --port",
        ) from None


@monitor_app.command("rules")
def monitor_rules(
    directory: OutputDirectoryArgument = Path(),
    inventory: InventoryOption = None,
) -> None:
    """Write the Prometheus alert rules generated from the inventory (egov.yml)."""
    from egov.monitoring.rules import RULES_FILE_NAME, render_rules
    from egov.monitoring.targets import make_targets

    estate = load_inventory(inventory).estate
    text = render_rules(make_targets(estate), estate.alerting.language)
    _write_outputs({_output_directory(directory) / RULES_FILE_NAME: text})


@monitor_app.command("dashboards")
def monitor_dashboards(
    directory: OutputDirectoryArgument = Path(),
    inventory: InventoryOption = None,
) -> None:
    """Write the Grafana dashboards and their provisioning files."""
    import warnings

    import yaml

    with warnings.catch_warnings():  # the SDK flags its v1 dashboard builder as deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        from egov.monitoring import dashboards, grafana
    from egov.monitoring.targets import make_targets

    built = dashboards.build_dashboards(make_targets(load_inventory(inventory).estate))
    root = _output_directory(directory)
    files = {
        root / "dashboards" / f"{uid}.json": grafana.render_dashboard(dashboard)
        for uid, dashboard in built.items()
    }
    files[root / "provisioning" / "dashboards" / "egov.yaml"] = yaml.safe_dump(
        grafana.build_dashboard_provisioning(), sort_keys=False
    )
    files[root / "provisioning" / "datasources" / "egov.yaml"] = yaml.safe_dump(
        grafana.build_datasource_provisioning("http://127.0.0.1:9090"), sort_keys=False
    )
    _write_outputs(files)


def _monitoring_urls(given: str | None, flag: str, inventory: Path | None, port: int) -> list[str]:
    """``[given]`` (a checked URL), else every monitoring host's URL at ``port``, the primary
    site's first; InputError when the inventory has none."""
    from egov.monitoring.endpoints import get_monitoring_urls

    if given is not None:
        return [given]
    urls = get_monitoring_urls(load_inventory(inventory).estate, port)
    if not urls:
        raise InputError("the inventory has no monitoring host", f"give {flag} URL")
    return urls


def _up(value: bool | None) -> str:
    return "[yellow]unknown[/]" if value is None else "yes" if value else "[red]NO[/]"


def _age(seconds: float | None) -> str:
    return "—" if seconds is None else format_duration(timedelta(seconds=int(seconds)))


def _render_monitor_status(status: dict[str, Any]) -> None:
    stdout.print(f"[bold]Prometheus[/bold] {status['prometheus']}")
    if status["no_data"]:
        stdout.print(
            "[yellow]no data yet[/yellow]: Prometheus answered but has scraped no host; "
            "right after a deploy, ask again in a minute"
        )
    sites = "  ".join(
        f"{escape(site)} "
        + ("[yellow]unknown[/]" if up is None else "[green]up[/]" if up else "[red]DOWN[/]")
        for site, up in status["sites"].items()
    )
    stdout.print(f"[bold]Sites[/bold] {sites or '—'}")
    services = Table("service", "site", "up", title="Services")
    for row in status["services"]:
        services.add_row(escape(row["service"]), escape(row["site"]), _up(row["up"]))
    stdout.print(services)
    backups = Table(
        "dataset", "site", "repository", "age", "target", "fresh", "lag", title="Backups"
    )
    lags = {
        (r["dataset"], r["site"], r["repository"]): r["lag_seconds"] for r in status["replication"]
    }
    for row in status["backups"]:
        backups.add_row(
            escape(row["dataset"]),
            escape(row["site"]),
            escape(row["repository"]),
            "never" if row["never"] else _age(row["age_seconds"]),
            _age(row["target_seconds"]),
            "yes" if row["fresh"] else "[red]NO[/]",
            _age(lags.get((row["dataset"], row["site"], row["repository"]))),
        )
    stdout.print(backups)
    for row in status["postgres"]:
        lag = row["lag_seconds"]
        shown = "unknown" if lag is None else f"{lag:.1f}s"
        stdout.print(f"PostgreSQL {row['host']}: heartbeat lag {shown}", markup=False)
    if status["alerts"]:
        stdout.print(f"[red]{len(status['alerts'])} alerts firing:[/red]")
        for alert in status["alerts"]:
            labels = ", ".join(
                f"{k}={v}"
                for k, v in sorted(alert["labels"].items())
                if k not in {"alertname", "severity"}
            )
            stdout.print(f"  {alert['alertname']} {labels}", markup=False, soft_wrap=True)
    else:
        stdout.print("[green]no alerts firing[/green]")


@monitor_app.command("status")
def monitor_status(
    prometheus: Annotated[
        str | None,
        typer.Option(
            "--prometheus",
            help="Prometheus URL [default: the inventory's monitoring "
            "hosts, the primary site's first].",
            show_default=False,
        ),
    ] = None,
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """The estate's health in one screen: sites, services, backups, lag, alerts firing."""
    from egov.deploys.topology import PROMETHEUS_PORT
    from egov.monitoring.health import check_prometheus_url, fetch_status

    urls = _monitoring_urls(
        None if prometheus is None else check_prometheus_url(prometheus),
        "--prometheus",
        inventory,
        PROMETHEUS_PORT,
    )
    status = fetch_status(urls)
    if output is OutputFormat.JSON:
        print_json(status)
    else:
        _render_monitor_status(status)


SEVERITY_STYLES = {"critical": "red", "warning": "yellow"}
STATUS_STYLES = {"firing": "red", "silenced": "dim", "inhibited": "dim"}


def _render_alerts(report: AlertsReport) -> None:
    stdout.print(f"[bold]Alertmanager[/bold] {escape(report.alertmanager)}")
    if not report.alerts:
        stdout.print("[green]no alert firing, silenced or inhibited[/green]")
        return
    table = Table("severity", "status", "alert", "where", "age", "why it does not page", "summary")
    for row in report.alerts:
        severity = SEVERITY_STYLES.get(row.severity, "")
        status = STATUS_STYLES.get(row.status, "")
        where = ", ".join(part for part in (row.site, row.host, row.service) if part)
        why = "; ".join(
            [f"silenced: {note.describe()}" for note in row.silenced_by]
            + [f"inhibited by {note.describe()}" for note in row.inhibited_by]
        )
        table.add_row(
            f"[{severity}]{escape(row.severity)}[/]" if severity else escape(row.severity or "—"),
            f"[{status}]{row.status}[/]" if status else row.status,
            escape(row.alertname),
            escape(where or "—"),
            _age(row.age_seconds),
            escape(why or "—"),
            escape(row.summary),
        )
    stdout.print(table)
    stdout.print(
        f"{report.count('firing')} firing, {report.count('silenced')} silenced, "
        f"{report.count('inhibited')} inhibited"
    )


@monitor_app.command("alerts")
def monitor_alerts(
    alertmanager: Annotated[
        str | None,
        typer.Option(
            "--alertmanager",
            help="Alertmanager URL [default: the inventory's monitoring hosts, the primary "
            "site's first].",
            show_default=False,
        ),
    ] = None,
    inventory: InventoryOption = None,
    output: OutputOption = OutputFormat.TEXT,
) -> None:
    """What the Alertmanagers hold now: firing, silenced (by which silence or drill),
    inhibited (by which alert), with ages; critical first, then oldest first."""
    from egov.deploys.topology import ALERTMANAGER_PORT
    from egov.monitoring.alertmanager_api import AlertmanagerClient
    from egov.monitoring.alerts import fetch_alerts_report
    from egov.monitoring.endpoints import check_http_url

    given = (
        None
        if alertmanager is None
        else check_http_url(alertmanager, "an Alertmanager", "http://10.213.1.40:9093")
    )
    urls = _monitoring_urls(given, "--alertmanager", inventory, ALERTMANAGER_PORT)
    report = fetch_alerts_report(AlertmanagerClient(urls))
    if output is OutputFormat.JSON:
        print_json(report.to_json())
    else:
        _render_alerts(report)


@agent_app.command("heartbeat")
def agent_heartbeat(
    conninfo: Annotated[
        str, typer.Option("--conninfo", help="libpq connection string of the local cluster.")
    ] = "host=/run/postgresql dbname=egov",
) -> None:
    """Write the PostgreSQL heartbeat row every second while the cluster is a primary."""
    import logging

    from egov.monitoring.heartbeat import run_heartbeat

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_heartbeat(conninfo)
