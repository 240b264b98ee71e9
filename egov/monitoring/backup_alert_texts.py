"""What the backup side's alerts say, in Vietnamese and English: backups and replication, the
WAL archive, verification and restore tests, drills, and storage capacity.

The texts follow the placeholder conventions ``annotations.py`` describes and renders.
"""

from __future__ import annotations

from egov.monitoring.alerttext import AlertText, Text

BACKUP_ALERT_TEXTS: dict[str, AlertText] = {
    # ---- backups ---------------------------------------------------------------------------
    "BackupStale": AlertText(
        Text(
            vi="Bản sao lưu {dataset} tại {site} đã quá hạn",
            en="Backup of {dataset} at {site} is stale",
        ),
        Text(
            vi="Snapshot mới nhất của {dataset} từ {site} trong kho {repository} đã cũ "
            "{value:duration}; mục tiêu là không quá {limit}.",
            en="The newest snapshot of {dataset} from {site} in repository {repository} is "
            "{value:duration} old; its target is {limit}.",
        ),
    ),
    "ReplicationLagging": AlertText(
        Text(
            vi="Kho {repository} chậm đồng bộ {dataset} của {site}",
            en="Repository {repository} lags behind for {dataset} of {site}",
        ),
        Text(
            vi="Snapshot của {dataset} từ {site} trong kho {repository} cũ hơn so với kho đầu "
            "tiên ({first}) {value:duration}; mục tiêu là không quá {limit}.",
            en="Repository {repository} holds snapshots of {dataset} from {site} "
            "{value:duration} older than the first repository ({first}); the target is {limit}.",
        ),
    ),
    "ReplicationSnapshotMissing": AlertText(
        Text(
            vi="Kho {repository} thiếu dữ liệu {dataset} của {site}",
            en="{dataset} of {site} is missing from repository {repository}",
        ),
        Text(
            vi="Một máy chủ tại {site} chưa có snapshot nào của {dataset} trong kho "
            "{repository}: việc sao chép từ {first} chưa chạy hoặc đã lỗi suốt {limit}.",
            en="A host of {site} has no snapshot of {dataset} in repository {repository}: "
            "the copy from {first} has not run or failed for {limit}.",
        ),
    ),
    "BackupJobFailed": AlertText(
        Text(
            vi="Lần sao lưu {dataset} gần nhất trên {host} ({site}) thất bại",
            en="The last backup of {dataset} on {host} ({site}) failed",
        ),
        Text(
            vi="Agent sao lưu trên {host} tại {site} báo lần sao lưu {dataset} vào kho "
            "{repository} bị lỗi; nếu các lần sau cũng lỗi sẽ có cảnh báo BackupStale.",
            en="The backup agent on {host} at {site} reported a failed run of {dataset} to "
            "{repository}; BackupStale follows if the next runs fail too.",
        ),
    ),
    # ---- the WAL archive -------------------------------------------------------------------
    "WalArchiveStale": AlertText(
        Text(
            vi="Kho lưu WAL của {dataset} tại {site} bị chậm",
            en="The WAL archive of {dataset} at {site} is stale",
        ),
        Text(
            vi="WAL mới nhất Barman trên {host} ({site}) lưu được cho {server} đã cũ "
            "{value:duration}; giới hạn là {limit} (RPO {rpo}). Nếu cơ sở dữ liệu hỏng lúc "
            "này, mọi thay đổi sau đó sẽ không khôi phục được từ {site}.",
            en="The newest WAL that Barman on {host} ({site}) holds for {server} is "
            "{value:duration} old; the limit is {limit} (RPO {rpo}). Changes made since "
            "cannot be recovered from {site} if the database is lost now.",
        ),
    ),
    "BaseBackupStale": AlertText(
        Text(
            vi="Bản sao lưu nền của {dataset} tại {site} đã quá hạn",
            en="The base backup of {dataset} at {site} is stale",
        ),
        Text(
            vi="Bản sao lưu nền mới nhất của {server} trên {host} ({site}) đã cũ "
            "{value:duration} (hoặc chưa có bản nào từ khi bắt đầu lưu WAL); giới hạn là "
            "{limit}. Khôi phục sẽ phải phát lại WAL lâu hơn, và WAL không bị xóa.",
            en="The newest base backup of {server} on {host} ({site}) is {value:duration} old "
            "(or there has been none since archiving began); the limit is {limit}. A "
            "restore replays more WAL, and no WAL is removed meanwhile.",
        ),
    ),
    "WalArchiveFailing": AlertText(
        Text(
            vi="Barman báo lỗi với {server} trên {host} ({site})",
            en="Barman reports errors for {server} on {host} ({site})",
        ),
        Text(
            vi="Kho lưu WAL của {dataset} trên {host} tại {site} không đạt barman check, hoặc "
            "không đọc được trạng thái của nó, đã hơn {window}: WAL có thể không còn được "
            "nhận.",
            en="The WAL archive of {dataset} on {host} at {site} has failed barman check, or "
            "its state could not be read, for {window}: WAL may no longer be received.",
        ),
    ),
    # ---- verification and restore tests ---------------------------------------------------
    "VerificationFailed": AlertText(
        Text(
            vi="restic check báo lỗi trên kho {repository} ({site})",
            en="restic check failed on repository {repository} ({site})",
        ),
        Text(
            vi="Lần restic check --read-data-subset gần nhất của kho {repository} tại {site} "
            "phát hiện lỗi: kho có thể đã hỏng.",
            en="The last restic check --read-data-subset of {repository} at {site} found "
            "errors: the repository may be damaged.",
        ),
    ),
    "VerificationOverdue": AlertText(
        Text(
            vi="Kho {repository} ({site}) đã lâu chưa được kiểm tra",
            en="Repository {repository} ({site}) has not been verified lately",
        ),
        Text(
            vi="Đã {value:duration} không có lần restic check nào của kho {repository} tại "
            "{site} thành công (giới hạn {overdue}); vòng kiểm tra đọc hết mọi pack trong "
            "{verify_days} ngày, mỗi ngày một phần.",
            en="No restic check of {repository} at {site} has passed for {value:duration} "
            "(limit {overdue}); the rotation reads every pack over {verify_days} days, one "
            "subset a day.",
        ),
    ),
    "RestoreTestFailed": AlertText(
        Text(
            vi="Thử khôi phục {dataset} từ kho {repository} thất bại",
            en="Restore test of {dataset} from {repository} failed",
        ),
        Text(
            vi="Lần thử khôi phục gần nhất của {dataset} từ kho {repository} tại {site} thất "
            "bại: bản sao đó có thể không khôi phục được.",
            en="The last test restore of {dataset} from repository {repository} at {site} "
            "failed: that copy may not be restorable.",
        ),
    ),
    # ---- drills -----------------------------------------------------------------------------
    "DrillOverdue": AlertText(
        Text(vi="Đã quá hạn diễn tập {scenario}", en="Drill {scenario} is overdue"),
        Text(
            vi="Kịch bản diễn tập {scenario} thành công lần cuối cách đây {value:duration}; "
            "inventory yêu cầu diễn tập mỗi {interval}.",
            en="Drill scenario {scenario} last succeeded {value:duration} ago; the inventory "
            "asks for one every {interval}.",
        ),
    ),
    "DrillFailed": AlertText(
        Text(vi="Diễn tập {scenario} thất bại", en="Drill {scenario} failed"),
        Text(
            vi="Lần chạy gần nhất của kịch bản diễn tập {scenario} thất bại; xem journal và "
            "báo cáo của lần chạy đó.",
            en="The last run of drill scenario {scenario} failed; see its journal and report.",
        ),
    ),
    "DrillRtoMissed": AlertText(
        Text(
            vi="Diễn tập {scenario} không đạt RTO của {service}",
            en="Drill {scenario} missed the RTO of {service}",
        ),
        Text(
            vi="Diễn tập {scenario} đo được thời gian khôi phục {service} là {value:duration}; "
            "RTO yêu cầu là {target}.",
            en="Drill {scenario} measured a recovery time of {value:duration} for {service}; "
            "its RTO is {target}.",
        ),
    ),
    "DrillRpoMissed": AlertText(
        Text(
            vi="Diễn tập {scenario} không đạt RPO của {service}",
            en="Drill {scenario} missed the RPO of {service}",
        ),
        Text(
            vi="Diễn tập {scenario} ghi nhận {service} mất {value:duration} dữ liệu; RPO yêu "
            "cầu là {target}.",
            en="Drill {scenario} measured a data loss of {value:duration} for {service}; its "
            "RPO is {target}.",
        ),
    ),
    # ---- capacity ---------------------------------------------------------------------------
    "StorageUsageHigh": AlertText(
        Text(
            vi="Dung lượng sao lưu tại {site} đã vượt {ratio}",
            en="Backup storage at {site} is above {ratio}",
        ),
        Text(
            vi="Các kho sao lưu tại {site} đang dùng {value:percent} dung lượng lưu trữ của "
            "site; ngưỡng cảnh báo là {ratio}.",
            en="Repositories at {site} use {value:percent} of the site's storage capacity; "
            "the threshold is {ratio}.",
        ),
    ),
    "StorageUsageCritical": AlertText(
        Text(
            vi="Dung lượng sao lưu tại {site} đã vượt {ratio}: sắp đầy",
            en="Backup storage at {site} is above {ratio}: nearly full",
        ),
        Text(
            vi="Các kho sao lưu tại {site} đang dùng {value:percent} dung lượng lưu trữ của "
            "site; ngưỡng nguy cấp là {ratio}, sao lưu sẽ lỗi khi đầy.",
            en="Repositories at {site} use {value:percent} of the site's storage capacity; "
            "the critical threshold is {ratio}, and backups fail when it is full.",
        ),
    ),
    "StorageFullSoon": AlertText(
        Text(
            vi="Dung lượng sao lưu tại {site} sẽ đầy trong vòng {horizon}",
            en="Backup storage at {site} fills within {horizon}",
        ),
        Text(
            vi="Với tốc độ tăng trong {trend} qua, các kho sao lưu tại {site} sẽ cần "
            "{value:bytes} sau {horizon}, vượt dung lượng lưu trữ của site.",
            en="At the growth of the last {trend}, repositories at {site} will hold "
            "{value:bytes} in {horizon}, more than the site's storage capacity.",
        ),
    ),
}
