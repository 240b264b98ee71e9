"""What every alert says, in Vietnamese (the default) and English, as Prometheus annotations.

One table, one entry per alert (the backup side's in ``backup_alert_texts.py``, the hosts',
sites', PostgreSQL's and the services' here): the ``summary`` a person reads on a phone at
2 a.m. and the ``description`` saying what is wrong, where (the site, host, service, dataset
the alert's labels name), and how bad (the measured value against the inventory's target, or
how long it has been so). The texts are Python format strings whose placeholders keep the Go
templates out of sight, so a translator edits sentences, not ``{{ $labels.site }}``:

- ``{site}``, ``{host}``, …: the alert's label of that name (``{{ $labels.site }}``); only the
  labels the alert is known to carry may be named (``make_annotations`` checks);
- ``{value}``, ``{value:duration}``, ``{value:percent}``, ``{value:bytes}``: the measured value,
  as is or humanized;
- ``{seen_from}``: the site of the Prometheus that raised the alert (its external label);
- any other name: a figure the rule passes in (a target from the inventory, a ``for`` window),
  already formatted, the same in both languages.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from string import Formatter

from egov.monitoring.alerttext import AlertText, Text
from egov.monitoring.backup_alert_texts import BACKUP_ALERT_TEXTS

RUNBOOK_DOCUMENT = "docs/runbooks.md"

_VALUE_FILTERS = {
    "": "{{ $value }}",
    "duration": "{{ $value | humanizeDuration }}",
    "percent": "{{ $value | humanizePercentage }}",
    "bytes": "{{ $value | humanize1024 }}B",
}
_SEEN_FROM = "{{ $externalLabels.prometheus_site }}"

_ESTATE_TEXTS: dict[str, AlertText] = {
    # ---- PostgreSQL -------------------------------------------------------------------------
    "PostgresPrimaryDown": AlertText(
        Text(
            vi="PostgreSQL chính {host} tại {site} ngừng hoạt động",
            en="PostgreSQL primary {host} at {site} is down",
        ),
        Text(
            vi="PostgreSQL trên {host} tại {site} không phản hồi (hoặc không lấy được số liệu "
            "từ exporter của nó) đã hơn {window}: các dịch vụ không ghi được dữ liệu.",
            en="PostgreSQL on {host} at {site} has not answered (or its exporter has been "
            "unreachable) for {window}: the services' writes fail.",
        ),
    ),
    "PostgresHeartbeatStale": AlertText(
        Text(
            vi="Heartbeat trên {host} ({site}) đã ngừng ghi",
            en="The heartbeat writer on {host} ({site}) has stopped",
        ),
        Text(
            vi="Heartbeat mới nhất trên máy chủ chính {host} tại {site} đã cũ {value:duration} "
            "(giới hạn {threshold}): egov-heartbeat.service không còn ghi, nên mọi replica "
            "đều có vẻ bị trễ.",
            en="The newest heartbeat on the primary {host} at {site} is {value:duration} old "
            "(limit {threshold}): egov-heartbeat.service is not writing, so every replica "
            "seems to lag.",
        ),
    ),
    "PostgresReplicaMissing": AlertText(
        Text(
            vi="Mất replica PostgreSQL {host} tại {site}",
            en="PostgreSQL replica {host} at {site} is missing",
        ),
        Text(
            vi="Replica {host} (nguồn {upstream}) không phản hồi hoặc không có heartbeat đã hơn "
            "{window}: dữ liệu lẽ ra nó giữ không được sao chép.",
            en="The replica {host} of {upstream} has not answered, or shown no heartbeat, for "
            "{window}: the data it should hold is not replicated.",
        ),
    ),
    "PostgresReplicaLagging": AlertText(
        Text(
            vi="Replica PostgreSQL {host} tại {site} bị trễ",
            en="PostgreSQL replica {host} at {site} lags",
        ),
        Text(
            vi="Heartbeat mới nhất thấy được trên {host} đã cũ {value:duration}; RPO chặt nhất "
            "của các cơ sở dữ liệu trên đó là {target}.",
            en="The newest heartbeat visible on {host} is {value:duration} old; the tightest "
            "RPO of its databases is {target}.",
        ),
    ),
    # ---- availability SLO -------------------------------------------------------------------
    "ServiceErrorBudgetBurn": AlertText(
        Text(
            vi="Dịch vụ {service} đang tiêu nhanh ngân sách lỗi",
            en="{service} is burning its error budget fast",
        ),
        Text(
            vi="{service} không trả lời kiểm tra sức khỏe ở site nào: {value:percent} lượt "
            "kiểm tra thất bại trong {windows} gần nhất, tiêu ngân sách lỗi của SLO "
            "{slo} (30 ngày) nhanh gấp 6 đến 14,4 lần mức cho phép.",
            en="{service} fails its probes at every site: {value:percent} of them failed "
            "over the last {windows}, spending the error budget of its {slo} availability SLO "
            "(30 days) at 6 to 14.4 times the sustainable rate.",
        ),
    ),
    "ServiceErrorBudgetBurnSlow": AlertText(
        Text(
            vi="Dịch vụ {service} đang tiêu ngân sách lỗi",
            en="{service} is burning its error budget",
        ),
        Text(
            vi="{service} không trả lời kiểm tra sức khỏe ở site nào: {value:percent} lượt "
            "kiểm tra thất bại trong {windows} gần nhất, tiêu ngân sách lỗi của SLO "
            "{slo} (30 ngày) bằng hoặc nhanh hơn mức cho phép.",
            en="{service} fails its probes at every site: {value:percent} of them failed "
            "over the last {windows}, spending the error budget of its {slo} availability SLO "
            "(30 days) at the sustainable rate or faster.",
        ),
    ),
    # ---- meta -------------------------------------------------------------------------------
    "Watchdog": AlertText(
        Text(vi="Hệ thống cảnh báo đang hoạt động", en="Alerting works"),
        Text(
            vi="Cảnh báo này luôn bật: nếu nó không đến nữa, Prometheus gửi nó hoặc đường tới "
            "các Alertmanager đã hỏng.",
            en="Always firing: if it stops arriving, this Prometheus or its path to the "
            "Alertmanagers is broken.",
        ),
    ),
    "SiteDown": AlertText(
        Text(
            vi="Site {site} mất liên lạc: không máy chủ nào phản hồi",
            en="Site {site} is down: none of its hosts answers",
        ),
        Text(
            vi="Cả {value} máy chủ tại {site} đều không phản hồi Prometheus tại {seen_from} đã "
            "hơn {window}: site mất điện, hoặc đường truyền giữa {site} và {seen_from} bị cắt. "
            "Cảnh báo riêng của từng máy chủ tại {site} được tạm chặn khi cảnh báo này bật.",
            en="None of the {value} hosts at {site} has answered the Prometheus at {seen_from} "
            "for {window}: the site has lost power, or the link between {site} and "
            "{seen_from} is cut. The alerts of each host at {site} are held back while this "
            "one fires.",
        ),
    ),
    "HostDown": AlertText(
        Text(
            vi="Máy chủ {host} tại {site} không phản hồi",
            en="Host {host} at {site} is down",
        ),
        Text(
            vi="Prometheus tại {seen_from} không lấy được số liệu node_exporter của {host} "
            "({site}) đã hơn {window}: máy đã tắt, mất kết nối tới Prometheus này, hoặc "
            "node_exporter đã dừng.",
            en="node_exporter on {host} at {site} has not answered the Prometheus at "
            "{seen_from} for {window}: the host is off, cut off from that Prometheus, or its "
            "exporter stopped.",
        ),
    ),
    "EgovExporterDown": AlertText(
        Text(
            vi="egov exporter trên {host} ({site}) ngừng hoạt động",
            en="The egov exporter on {host} ({site}) is down",
        ),
        Text(
            vi="Prometheus không lấy được số liệu từ egov exporter trên {host} tại {site}, hoặc "
            "exporter không đọc được thư mục trạng thái, đã hơn {window}: các cảnh báo sao lưu "
            "và diễn tập không còn số liệu từ máy này.",
            en="Prometheus has not scraped the egov exporter on {host} at {site}, or the "
            "exporter has not read its state directory, for {window}: backup and drill alerts "
            "go blind there.",
        ),
    ),
    "EgovExporterAbsent": AlertText(
        Text(
            vi="Không có số liệu egov exporter từ {host} ({site})",
            en="No egov exporter metrics from {host} ({site})",
        ),
        Text(
            vi="Không có chuỗi dr_exporter_up nào của {host} tại {site} đã hơn {window}: "
            "exporter không được thu thập (thiếu job trong cấu hình Prometheus, hoặc máy đã "
            "bị gỡ).",
            en="dr_exporter_up of {host} at {site} has been absent for {window}: the exporter "
            "is not scraped (job missing from the configuration, or the host is gone).",
        ),
    ),
}

#: every alert's texts, the backup side's first (the order the rules list them in)
TEXTS: dict[str, AlertText] = {**BACKUP_ALERT_TEXTS, **_ESTATE_TEXTS}


class _MeasuredValue:
    """``{value:duration}`` in a text: the alert's value through a humanize function."""

    def __format__(self, spec: str) -> str:
        if spec not in _VALUE_FILTERS:
            raise ValueError(f"unknown value format {spec!r}: use one of {sorted(_VALUE_FILTERS)}")
        return _VALUE_FILTERS[spec]


def _render(text: str, labels: Collection[str], values: Mapping[str, str]) -> str:
    fields: dict[str, object] = {"value": _MeasuredValue(), "seen_from": _SEEN_FROM, **values}
    for _, field, _, _ in Formatter().parse(text):
        if field is None or field in fields:
            continue
        if field not in labels:
            raise ValueError(
                f"{text!r} names {field!r}, neither a label the alert carries "
                f"({', '.join(sorted(labels))}) nor a value given ({', '.join(sorted(values))})"
            )
        fields[field] = f"{{{{ $labels.{field} }}}}"
    return text.format_map(fields)


def make_annotations(
    name: str, language: str, labels: Collection[str], values: Mapping[str, str]
) -> dict[str, str]:
    """The ``summary``, ``description`` and ``runbook`` annotations of alert ``name``.

    ``labels`` are those the alert always carries (the only ones its texts may name),
    ``values`` the figures its texts quote. Raise ValueError for an unknown language, or a
    text naming something that is neither; KeyError for an alert without texts.
    """
    text = TEXTS[name]
    return {
        "summary": _render(text.summary.get(language), labels, values),
        "description": _render(text.description.get(language), labels, values),
        "runbook": f"{RUNBOOK_DOCUMENT}#{name.lower()}",
    }
