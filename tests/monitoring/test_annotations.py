from __future__ import annotations

import re

import pytest

from egov.monitoring.alerttext import Text
from egov.monitoring.annotations import TEXTS, make_annotations


def test_every_text_is_translated() -> None:
    for name, text in TEXTS.items():
        for sentence in (text.summary, text.description):
            assert sentence.vi != sentence.en, name
            # the same placeholders in both languages
            assert sorted(re.findall(r"\{[^}]*\}", sentence.vi)) == sorted(
                re.findall(r"\{[^}]*\}", sentence.en)
            ), name


def test_a_text_may_name_only_labels_the_alert_carries() -> None:
    with pytest.raises(ValueError, match="names 'site'"):
        make_annotations("HostDown", "en", ("host",), {"window": "5m"})
    annotations = make_annotations("HostDown", "en", ("site", "host"), {"window": "5m"})
    assert annotations["summary"] == "Host {{ $labels.host }} at {{ $labels.site }} is down"


def test_the_measured_value_is_humanized_as_the_text_asks() -> None:
    values = {"trend": "6h", "horizon": "1w"}
    annotations = make_annotations("StorageFullSoon", "en", ("site",), values)
    assert "will hold {{ $value | humanize1024 }}B in 1w" in annotations["description"]
    annotations = make_annotations("SiteDown", "vi", ("site",), {"window": "1m45s"})
    assert annotations["description"].startswith(
        "Cả {{ $value }} máy chủ tại {{ $labels.site }} đều không phản hồi Prometheus tại "
        "{{ $externalLabels.prometheus_site }} đã hơn 1m45s"
    )
    assert annotations["runbook"] == "docs/runbooks.md#sitedown"


def test_a_language_without_texts_is_refused() -> None:
    with pytest.raises(ValueError, match="no alert texts in 'fr': choose one of vi, en"):
        Text(vi="một", en="one").get("fr")
