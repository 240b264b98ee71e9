"""The drill report's words in Vietnamese and English, and how each language writes numbers.

``STRINGS`` holds one dict per language with the same keys (a test checks it). Status and kind
words are keyed ``status.<value>`` and ``kind.<value>`` after the values ``summary.py`` uses;
a value the table does not know is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("vi", "en")

STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Báo cáo diễn tập chuyển đổi dự phòng",
        "overview": "Thông tin chung",
        "item": "Mục",
        "content": "Nội dung",
        "estate": "Hệ thống",
        "scenario": "Kịch bản",
        "description": "Mô tả",
        "scenario_version": "Phiên bản kịch bản (SHA-256)",
        "mode": "Chế độ",
        "operator": "Người thực hiện",
        "reason": "Lý do",
        "control_node": "Máy điều khiển",
        "egov_version": "Phiên bản egov",
        "started": "Bắt đầu (T0)",
        "finished": "Kết thúc",
        "not_finished": "chưa kết thúc",
        "total_duration": "Tổng thời gian",
        "fault_at": "Thời điểm gây sự cố",
        "no_fault": "không gây sự cố",
        "status": "Trạng thái",
        "verdict": "Kết luận",
        "passed": "Đạt",
        "failed": "Không đạt",
        "verdict_rule": (
            "Kết luận “Đạt” chỉ khi diễn tập thành công và mọi chỉ số đo được nằm trong mục tiêu: "
            "có bản ghi được khôi phục, không mất bản ghi đã xác nhận nào cũ hơn mục tiêu RPO, "
            "không lượt ghi thử nào bị từ chối."
        ),
        "unfinished_warning": (
            "Diễn tập chưa kết thúc: trình chạy đã dừng giữa chừng. "
            "Cần chạy `egov drill recover` để hoàn tác."
        ),
        "probes": "Kiểm tra trạng thái sẵn sàng",
        "phase": "Giai đoạn",
        "phase.before": "Trước",
        "phase.after": "Sau",
        "probe": "Phép kiểm tra",
        "value": "Giá trị",
        "tolerance": "Ngưỡng chấp nhận",
        "result": "Kết quả",
        "detail": "Chi tiết",
        "no_probes": "Không có phép kiểm tra nào.",
        "timeline": "Diễn biến",
        "steps": "Các bước",
        "rollbacks": "Các bước hoàn tác",
        "no_steps": "Không có bước nào.",
        "no_rollbacks": "Không có bước hoàn tác nào.",
        "group": "Nhóm",
        "name": "Tên",
        "kind": "Loại",
        "start_offset": "Bắt đầu (tính từ T0)",
        "duration": "Thời lượng",
        "attempts": "Số lần thử",
        "error": "Lỗi",
        "non_critical": "không bắt buộc",
        "never_finished": "chưa kết thúc",
        "outputs": "Kết quả đầu ra của các bước",
        "measurements": "Thời gian khôi phục và lượng dữ liệu mất",
        "not_measured_mode": "Chế độ này không đo RTO và RPO.",
        "no_services": "Không có dịch vụ nào có mục tiêu RTO/RPO.",
        "service": "Dịch vụ",
        "metric": "Chỉ số",
        "measured": "Đo được",
        "target": "Mục tiêu",
        "rto": "Thời gian khôi phục (RTO)",
        "rpo": "Lượng dữ liệu mất tối đa (RPO)",
        "rpo_database": "Lượng dữ liệu mất tối đa – cơ sở dữ liệu (RPO)",
        "rpo_files": "Lượng dữ liệu mất tối đa – kho tệp (RPO)",
        "not_measured": "chưa đo",
        "no_target": "không có mục tiêu",
        "not_applicable": "không áp dụng",
        "lost_records": "Bản ghi đã được xác nhận nhưng bị mất tại nơi khôi phục",
        "refused_writes": "Lượt ghi thử bị từ chối khi dịch vụ lẽ ra phải nhận",
        "failures": "Các lỗi ghi nhận",
        "no_failures": "Không có lỗi nào được ghi nhận.",
        "notes": "Ghi chú của người thực hiện",
        "no_notes": "Không có ghi chú.",
        "silences": "Tạm ẩn cảnh báo trong lúc diễn tập",
        "no_silences": "Cuộc diễn tập không đặt lệnh tạm ẩn cảnh báo nào.",
        "silences_rule": (
            "Trước bước đầu tiên, cuộc diễn tập tạm ẩn (silence) trên Alertmanager các cảnh báo "
            "mà nó gây ra, theo từng site (và từng dịch vụ khi chạy trên hệ thống thật); lệnh "
            "tạm ẩn được gỡ khi diễn tập kết thúc, hoặc tự hết hạn khi quá thời hạn của cuộc "
            "diễn tập."
        ),
        "silence_id": "Mã lệnh tạm ẩn",
        "silence_matchers": "Áp dụng cho",
        "silence_set": "Đặt lúc",
        "silence_until": "Tự hết hạn lúc",
        "silence_lifted": "Gỡ lúc",
        "silence_still_live": "chưa gỡ",
        "integrity": "Bằng chứng toàn vẹn",
        "integrity_rule": (
            "Các bản ghi của nhật ký được nối với nhau bằng chuỗi băm SHA-256 và khép lại bằng "
            "một bản ghi ký bằng khoá ed25519 của hệ thống: `egov drill verify` phát hiện mọi "
            "sửa, xoá, đảo thứ tự hay cắt bớt; mã băm cuối cũng được lưu ở cả hai điểm giám sát."
        ),
        "journal_path": "Tệp nhật ký",
        "journal_entries": "Số bản ghi",
        "journal_last_hash": "Mã băm cuối (SHA-256)",
        "journal_key": "Khoá ký (ed25519)",
        "signoff": "Xác nhận",
        "signoff_statement": (
            "Chúng tôi xác nhận báo cáo này phản ánh đúng cuộc diễn tập đã thực hiện."
        ),
        "role": "Vai trò",
        "full_name": "Họ và tên",
        "date": "Ngày",
        "signature": "Chữ ký",
        "reviewer": "Người kiểm tra / kiểm toán",
        "chart_timeline": "Diễn biến theo thời gian (giây tính từ T0)",
        "chart_measurements": "RTO và RPO so với mục tiêu",
        "chart_fault": "sự cố",
        "chart_within": "trong mục tiêu",
        "chart_over": "vượt mục tiêu",
        "chart_no_steps": "Không có bước nào để vẽ.",
        "chart_no_services": "Không có dịch vụ nào được đo.",
        "rollback_mark": "hoàn tác",
        "status.succeeded": "Thành công",
        "status.failed": "Thất bại",
        "status.interrupted": "Bị dừng bởi người thực hiện",
        "status.refused": "Bị từ chối (chưa thay đổi gì)",
        "status.unfinished": "Chưa kết thúc",
        "status.recovered": "Đã hoàn tác sau khi bị gián đoạn",
        "status.timed-out": "Quá thời gian",
        "status.skipped": "Bỏ qua",
        "status.started": "Chưa kết thúc",
        "kind.action": "Thao tác",
        "kind.probe": "Kiểm tra",
        "kind.manual": "Thủ công",
        "kind.rollback": "Hoàn tác",
        "unit.second": "giây",
        "unit.minute": "phút",
        "unit.hour": "giờ",
        "decimal_separator": ",",
    },
    "en": {
        "title": "Failover drill report",
        "overview": "Overview",
        "item": "Item",
        "content": "Value",
        "estate": "Estate",
        "scenario": "Scenario",
        "description": "Description",
        "scenario_version": "Scenario version (SHA-256)",
        "mode": "Mode",
        "operator": "Operator",
        "reason": "Reason",
        "control_node": "Control node",
        "egov_version": "egov version",
        "started": "Started (T0)",
        "finished": "Finished",
        "not_finished": "not finished",
        "total_duration": "Total duration",
        "fault_at": "Fault injected",
        "no_fault": "no fault injected",
        "status": "Status",
        "verdict": "Verdict",
        "passed": "Passed",
        "failed": "Failed",
        "verdict_rule": (
            "The verdict is “Passed” only when the drill succeeded and every measurement "
            "is within its target: records recovered, no acknowledged record older than the "
            "RPO target lost, no canary write refused."
        ),
        "unfinished_warning": (
            "The drill did not finish: the runner stopped part-way. "
            "Run `egov drill recover` to roll it back."
        ),
        "probes": "Readiness probes",
        "phase": "Phase",
        "phase.before": "Before",
        "phase.after": "After",
        "probe": "Probe",
        "value": "Value",
        "tolerance": "Tolerance",
        "result": "Result",
        "detail": "Detail",
        "no_probes": "No probes.",
        "timeline": "Timeline",
        "steps": "Steps",
        "rollbacks": "Rollbacks",
        "no_steps": "No steps.",
        "no_rollbacks": "No rollbacks.",
        "group": "Group",
        "name": "Name",
        "kind": "Kind",
        "start_offset": "Start (from T0)",
        "duration": "Duration",
        "attempts": "Attempts",
        "error": "Error",
        "non_critical": "non-critical",
        "never_finished": "never finished",
        "outputs": "Output of the steps",
        "measurements": "Recovery time and data loss",
        "not_measured_mode": "This mode does not measure RTO and RPO.",
        "no_services": "No service has RTO/RPO targets.",
        "service": "Service",
        "metric": "Metric",
        "measured": "Measured",
        "target": "Target",
        "rto": "Recovery time (RTO)",
        "rpo": "Maximum data loss (RPO)",
        "rpo_database": "Maximum data loss – database (RPO)",
        "rpo_files": "Maximum data loss – file store (RPO)",
        "not_measured": "not measured",
        "no_target": "no target",
        "not_applicable": "not applicable",
        "lost_records": "Acknowledged records lost at the recovery site",
        "refused_writes": "Canary writes refused while the service should have taken them",
        "failures": "Failures",
        "no_failures": "No failures recorded.",
        "notes": "Operator notes",
        "no_notes": "No notes.",
        "silences": "Alerts silenced during the drill",
        "no_silences": "The drill set no silence.",
        "silences_rule": (
            "Before its first step the drill silences in Alertmanager the alerts it causes, per "
            "site (and per service when it changes production); the silences are removed when "
            "the drill ends, or expire by themselves at the end of the drill's time bound."
        ),
        "silence_id": "Silence",
        "silence_matchers": "Matches",
        "silence_set": "Set",
        "silence_until": "Expires by itself",
        "silence_lifted": "Removed",
        "silence_still_live": "not removed",
        "integrity": "Integrity evidence",
        "integrity_rule": (
            "The journal's entries form a SHA-256 hash chain, closed by an entry signed with the "
            "estate's ed25519 key: `egov drill verify` finds any edited, removed, reordered or "
            "cut entry; both monitoring sites hold the last hash too."
        ),
        "journal_path": "Journal file",
        "journal_entries": "Entries",
        "journal_last_hash": "Last hash (SHA-256)",
        "journal_key": "Signing key (ed25519)",
        "signoff": "Sign-off",
        "signoff_statement": "We confirm that this report is a true account of the drill.",
        "role": "Role",
        "full_name": "Name",
        "date": "Date",
        "signature": "Signature",
        "reviewer": "Reviewer / auditor",
        "chart_timeline": "Timeline (seconds from T0)",
        "chart_measurements": "RTO and RPO against targets",
        "chart_fault": "fault",
        "chart_within": "within target",
        "chart_over": "over target",
        "chart_no_steps": "No steps to draw.",
        "chart_no_services": "No service measured.",
        "rollback_mark": "rollback",
        "status.succeeded": "Succeeded",
        "status.failed": "Failed",
        "status.interrupted": "Interrupted by the operator",
        "status.refused": "Refused (nothing was changed)",
        "status.unfinished": "Unfinished",
        "status.recovered": "Rolled back after an interruption",
        "status.timed-out": "Timed out",
        "status.skipped": "Skipped",
        "status.started": "Never finished",
        "kind.action": "Action",
        "kind.probe": "Probe",
        "kind.manual": "Manual",
        "kind.rollback": "Rollback",
        "unit.second": "s",
        "unit.minute": "min",
        "unit.hour": "h",
        "decimal_separator": ".",
    },
}


def get_strings(lang: str) -> Mapping[str, str]:
    """The words of ``lang`` ("vi" or "en"); raise ValueError for any other language."""
    if lang not in STRINGS:
        raise ValueError(f"no report language {lang!r}; use one of {', '.join(LANGUAGES)}")
    return STRINGS[lang]


def translate_value(strings: Mapping[str, str], prefix: str, value: str) -> str:
    """The word for ``value`` under ``prefix`` ("status", "kind", "phase"), or ``value``."""
    return strings.get(f"{prefix}.{value}", value)


def format_decimal(value: float, places: int, strings: Mapping[str, str]) -> str:
    """``value`` with ``places`` decimals and the language's separator: 3,5 in Vietnamese."""
    return f"{value:.{places}f}".replace(".", strings["decimal_separator"])


def format_duration(seconds: float, strings: Mapping[str, str]) -> str:
    """A duration as people read it: "4,2 giây", "45 s", "2 min 05 s", "1 giờ 02 phút 05 giây".

    Under 10 s keeps one decimal (a probe takes a fraction of a second); above, whole seconds.
    """
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    second, minute, hour = strings["unit.second"], strings["unit.minute"], strings["unit.hour"]
    if round(seconds, 1) < 10:
        text = format_decimal(seconds, 1, strings)
        return f"{sign}{text.removesuffix(strings['decimal_separator'] + '0')} {second}"
    total = round(seconds)
    hours, remainder = divmod(total, 3600)
    minutes, rest = divmod(remainder, 60)
    if total < 60:
        return f"{sign}{rest} {second}"
    if total < 3600:
        return f"{sign}{minutes} {minute} {rest:02d} {second}"
    return f"{sign}{hours} {hour} {minutes:02d} {minute} {rest:02d} {second}"


def format_offset(seconds: float, strings: Mapping[str, str]) -> str:
    """Seconds from the drill's start (T0), one decimal: "T+125.3 s", "T+125,3 giây"."""
    sign = "-" if seconds < 0 else "+"
    return f"T{sign}{format_decimal(abs(seconds), 1, strings)} {strings['unit.second']}"
