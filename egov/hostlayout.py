"""Every path, unit and file name egov puts on a host, in one place.

The deploys write these, the agent and the exporter read them, the drills and the CLI reach
for them over SSH: a name changed here changes on every side at once. Values are POSIX
strings, as unit files, shell lines and pyinfra operations take them; code on the host
itself wraps them in ``Path``. The control node is a host too (the primary monitoring host),
so its state, drills and audit log are here as well.
"""

from __future__ import annotations

# --- egov's own directories and files ------------------------------------------------------

#: egov's configuration on every host; readable by the services that need it.
CONFIG_DIRECTORY = "/etc/egov"
#: Secret files (mode 0600, owner root) that inventory ``file:`` references point at.
SECRET_DIRECTORY = "/etc/egov/secrets"  # noqa: S105 (a directory, not a password)
#: The agent's view of the estate for this host (jobs, repositories), written by the deploy.
AGENT_CONFIG_FILE = "/etc/egov/agent.json"
#: What monitoring expects of the estate, so the exporter needs no inventory there.
MONITORING_TARGETS_FILE = "/etc/egov/monitoring-targets.json"
#: The canary's configuration on app hosts (its databases and where it listens).
CANARY_CONFIG_FILE = "/etc/egov/canary.json"
#: The load balancers' TLS certificate and key.
TLS_CERTIFICATE_FILE = "/etc/egov/tls/egov.crt"
TLS_KEY_FILE = "/etc/egov/tls/egov.key"
#: Records (catalogs, backups, verifications, drills) the status and the exporter read;
#: ``$EGOV_STATE_DIR`` overrides it.
STATE_DIRECTORY = "/var/lib/egov/state"
#: Drill journals and reports on the control node, one directory per estate.
DRILLS_DIRECTORY = "/var/lib/egov/drills"
#: egov's caches: the control node's wheelhouses, the hosts' restic caches.
CACHE_DIRECTORY = "/var/cache/egov"
#: restic's cache (index and tree blobs), kept across runs so a backup lists nothing twice.
RESTIC_CACHE_DIRECTORY = "/var/cache/egov/restic"
#: One JSON line per deploy, who and what, on the control node.
AUDIT_LOG_FILE = "/var/log/egov/audit.jsonl"
#: The agent's and the object store's installations (a venv per wheelhouse digest).
INSTALL_ROOT = "/opt/egov"
#: The agent's command as its units run it (the venv the deploy points ``venv`` at).
AGENT_BINARY = "/opt/egov/venv/bin/egov"
#: ``egov`` on the PATH of an administrator's shell.
COMMAND_LINK = "/usr/local/bin/egov"
#: REST repositories' directories on storage hosts, one per repository under it.
REPOSITORY_ROOT = "/srv/restic"
#: node_exporter's textfile collector: the agent's metrics (``*.prom``) go there.
TEXTFILE_DIRECTORY = "/var/lib/prometheus/node-exporter"

# --- systemd -----------------------------------------------------------------------------

#: Where the deploys write egov's units.
UNIT_DIRECTORY = "/etc/systemd/system"
#: The shell of egov's system users: none of them logs in.
NOLOGIN_SHELL = "/usr/sbin/nologin"
#: One backup unit per dataset (the instance is the dataset's name).
BACKUP_UNIT_TEMPLATE = "egov-backup@.service"
#: Replication and the catalog refresh, on the replication host.
REPLICATION_UNIT = "egov-replicate.service"
REPLICATION_TIMER = "egov-replicate.timer"
#: The rolling ``restic check --read-data-subset``.
VERIFY_UNIT = "egov-verify.service"
VERIFY_TIMER = "egov-verify.timer"
#: One retention unit per repository (the instance is the repository's name).
RETENTION_UNIT_TEMPLATE = "egov-retention@.service"
#: The egov exporter on monitoring hosts.
EXPORTER_UNIT = "egov-exporter.service"
#: The replication heartbeat writer on database primaries.
HEARTBEAT_UNIT = "egov-heartbeat.service"
#: The canary on app hosts (acknowledged writes the drills count losses by).
CANARY_UNIT = "egov-canary.service"
#: The lab's S3 stand-in.
OBJECTSTORE_UNIT = "egov-objectstore.service"


def make_backup_unit(dataset: str) -> str:
    """``egov-backup@etc.service``: the unit backing up ``dataset`` on a host."""
    return f"egov-backup@{dataset}.service"


def make_retention_unit(repository: str, suffix: str = "service") -> str:
    """``egov-retention@primary.service`` (or ``.timer``): ``repository``'s retention."""
    return f"egov-retention@{repository}.{suffix}"


def make_credentials_directory(unit: str) -> str:
    """Where systemd puts the credentials (``LoadCredential``) of a running ``unit``."""
    return f"/run/credentials/{unit}"


# --- drills --------------------------------------------------------------------------------

#: Staging and isolated copies a drill creates on a host, all removed by its cleanup.
DRILL_ROOT = "/var/lib/egov-drill"
#: The isolated PostgreSQL's socket directory (never the cluster's own).
DRILL_SOCKET_DIRECTORY = "/run/egov-drill"
#: The test failover's application and nginx files on the recovery site.
DRILL_SERVICE_DIRECTORY = "/run/egov-drill-service"
DRILL_NGINX_SITE = "/etc/nginx/conf.d/egov-drill.conf"
#: The replication password file a re-seed from the recovery site uses (not the deploy's).
DRILL_PASSFILE = "/var/lib/postgresql/.egov-drill.pgpass"

# --- other packages' files egov writes -----------------------------------------------------

#: The replicas' password file, the postgres user's own.
POSTGRES_PASSFILE = "/var/lib/postgresql/.pgpass"
#: Prometheus and Alertmanager configurations (Debian's paths).
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
#: alertmanager.yml and its secret files: 0750 root:prometheus, as the file may hold a webhook
#: URL or a bot token (Alertmanager 0.25 reads neither from a file of its own).
ALERTMANAGER_PRIVATE_DIRECTORY = "/etc/prometheus/egov-alerting"
ALERTMANAGER_CONFIG = f"{ALERTMANAGER_PRIVATE_DIRECTORY}/alertmanager.yml"
#: The notification templates alertmanager.yml loads (no secrets: readable by all).
ALERTMANAGER_TEMPLATE_DIRECTORY = "/etc/prometheus/alertmanager_templates"
BLACKBOX_CONFIG = "/etc/prometheus/blackbox.yml"
#: postgres_exporter's extra queries (the replication heartbeat's age).
POSTGRES_EXPORTER_QUERIES = "/etc/prometheus/postgres-exporter-queries.yaml"
#: Grafana's provisioned dashboards.
DASHBOARDS_DIRECTORY = "/var/lib/grafana/dashboards/egov"
#: nginx's site for the services, and the link enabling it.
NGINX_SITE = "/etc/nginx/sites-available/egov.conf"
NGINX_SITE_LINK = "/etc/nginx/sites-enabled/egov.conf"
#: Debian's units egov restarts or keeps running.
NODE_EXPORTER_UNIT = "prometheus-node-exporter.service"
POSTGRES_EXPORTER_UNIT = "prometheus-postgres-exporter.service"
NGINX_UNIT = "nginx.service"
NFTABLES_UNIT = "nftables.service"
CHRONY_UNIT = "chrony.service"

# --- the base every host gets (Debian's paths; egov's drop-ins named ``egov``) --------------

#: The estate's names and addresses, so hosts reach each other without DNS.
HOSTS_FILE = "/etc/hosts"
#: chrony: its configuration, its daemon options, and egov's drop-in for its unit.
CHRONY_CONFIG = "/etc/chrony/chrony.conf"
CHRONY_DEFAULTS = "/etc/default/chrony"
CHRONY_DROP_IN = "/etc/systemd/system/chrony.service.d/egov.conf"
#: The administrators' sudo rule.
SUDOERS_FILE = "/etc/sudoers.d/egov-admins"
#: sshd hardening (keys only), read after Debian's own configuration.
SSHD_DROP_IN = "/etc/ssh/sshd_config.d/10-egov.conf"
SSH_UNIT = "ssh.service"
#: Kernel settings egov needs (forwarding off, and so on).
SYSCTL_FILE = "/etc/sysctl.d/90-egov.conf"
#: The host firewall, loaded by nftables.service at boot.
NFTABLES_CONFIG = "/etc/nftables.conf"
#: A persistent journal, so a drill's evidence survives a reboot.
JOURNAL_DIRECTORY = "/var/log/journal"
JOURNALD_DROP_IN = "/etc/systemd/journald.conf.d/egov.conf"
JOURNALD_UNIT = "systemd-journald.service"
#: node_exporter's options (the textfile directory).
NODE_EXPORTER_DEFAULTS = "/etc/default/prometheus-node-exporter"
#: nginx's own default site, removed so only egov's answers.
NGINX_DEFAULT_SITE_LINK = "/etc/nginx/sites-enabled/default"

# --- PostgreSQL and the monitoring daemons (Debian's paths) --------------------------------

#: postgres_exporter's options (its queries file and database).
POSTGRES_EXPORTER_DEFAULTS = "/etc/default/prometheus-postgres-exporter"
#: The Debian packages' units and option files of the monitoring daemons.
PROMETHEUS_UNIT = "prometheus.service"
PROMETHEUS_DEFAULTS = "/etc/default/prometheus"
ALERTMANAGER_UNIT = "prometheus-alertmanager.service"
ALERTMANAGER_DEFAULTS = "/etc/default/prometheus-alertmanager"
BLACKBOX_UNIT = "prometheus-blackbox-exporter.service"
BLACKBOX_DEFAULTS = "/etc/default/prometheus-blackbox-exporter"


def make_cluster_paths(version: int) -> tuple[str, str, str]:
    """Debian's configuration directory, data directory and unit of the main cluster."""
    return (
        f"/etc/postgresql/{version}/main",
        f"/var/lib/postgresql/{version}/main",
        f"postgresql@{version}-main.service",
    )


def make_postgres_binaries(version: int) -> str:
    """Debian's directory of PostgreSQL ``version``'s server programs (initdb, pg_ctl)."""
    return f"/usr/lib/postgresql/{version}/bin"


def make_home_directory(user: str) -> str:
    """An administrator's home directory."""
    return f"/home/{user}"
