"""Who is told about an alert, how, and when: the inventory's ``alerting:`` section.

An on-call group is a *receiver* with one or more channels (e-mail through the province's SMTP
relay, webhooks for an SMS gateway or a chat bot, Telegram). *Routes* send alerts to receivers
by severity, site, service or alert name; the first route that matches wins, and what no route
takes goes to ``default``. Without receivers nothing is delivered: the alerts are only seen in
the Alertmanager UI. Cross-references (receivers, sites, services) are checked in
``alerting_checks.py``; the Alertmanager configuration is built in
``egov.monitoring.alertmanager_config``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from egov.inventory.backup import TIME_OF_DAY_PATTERN
from egov.inventory.fields import (
    NAME_PATTERN,
    DurationRange,
    Name,
    SecretReference,
    StrictModel,
    WholeNumber,
    is_secret_reference,
)

EMAIL_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
SMARTHOST_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?:[0-9]{1,5}$"
HTTP_URL_PATTERN = r"^https?://[^\s/?#@]+(:[0-9]{1,5})?(/\S*)?$"
ALERT_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

EmailAddress = Annotated[
    str, Field(pattern=EMAIL_PATTERN, max_length=254, examples=["vanhanh@camau.example"])
]
"""An e-mail address, ``local@domain.tld``; Alertmanager sends to it through the relay."""


class Language(StrEnum):
    """The language of the notifications (and of the alerts' texts)."""

    VI = "vi"
    EN = "en"


class AlertSeverity(StrEnum):
    """The ``severity`` label every egov alert carries."""

    CRITICAL = "critical"
    WARNING = "warning"
    NONE = "none"


PAGING_SEVERITIES = (AlertSeverity.CRITICAL, AlertSeverity.WARNING)
"""What a route without ``severity`` matches: ``none`` (the Watchdog) reaches a person only
through a route that names it."""


def check_smarthost(value: Any) -> Any:
    """Accept ``host:port`` with a port from 1 to 65535; refuse anything else with the fix."""
    if isinstance(value, str) and re.fullmatch(SMARTHOST_PATTERN, value):
        port = int(value.rpartition(":")[2])
        if 1 <= port <= 65535:
            return value
    raise ValueError("the relay must be written host:port, e.g. 198.51.100.25:587")


def check_webhook_url(value: Any) -> Any:
    """Accept an http(s) URL or a secret reference holding one; never echo the value.

    An SMS gateway's URL often carries its key in the query string: such a URL belongs in a
    secret file, and a refused value may be one.
    """
    if isinstance(value, str) and (
        is_secret_reference(value) or re.fullmatch(HTTP_URL_PATTERN, value)
    ):
        return value
    raise ValueError(
        "not an http:// or https:// URL nor a secret reference (value not shown); write "
        "https://HOST/PATH, or keep a URL carrying a key in a file and write "
        "file:/etc/egov/secrets/NAME"
    )


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _one_or_many(item: dict[str, Any], description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [item, {"type": "array", "items": item, "minItems": 1}],
            "description": description,
        }
    )


_NAME_ITEM = {"type": "string", "pattern": NAME_PATTERN}

SeverityMatch = Annotated[
    list[AlertSeverity],
    BeforeValidator(_as_list),
    Field(min_length=1),
    _one_or_many(
        {"enum": [severity.value for severity in AlertSeverity]},
        "critical, warning or none; one value or a list",
    ),
]
NameMatch = Annotated[
    list[Name],
    BeforeValidator(_as_list),
    Field(min_length=1),
    _one_or_many(_NAME_ITEM, "One name or a list of names."),
]
AlertNameMatch = Annotated[
    list[Annotated[str, Field(pattern=ALERT_NAME_PATTERN)]],
    BeforeValidator(_as_list),
    Field(min_length=1),
    _one_or_many(
        {"type": "string", "pattern": ALERT_NAME_PATTERN},
        "One alert name (as in docs/runbooks.md) or a list.",
    ),
]


class SmtpRelay(StrictModel):
    """The province's mail relay; Alertmanager always requires STARTTLS from it."""

    smarthost: Annotated[str, BeforeValidator(check_smarthost)] = Field(
        description="The relay as host:port (submission, 587, with STARTTLS).",
        examples=["198.51.100.25:587"],
    )
    sender: EmailAddress = Field(
        description="The From: address of every notification.",
        examples=["canhbao@camau.example"],
    )
    username: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^\S+$")] | None = Field(
        default=None, description="Login at the relay, if it asks for one."
    )
    password: SecretReference | None = Field(
        default=None, description="The login's password (with `username`)."
    )

    @model_validator(mode="after")
    def _login_is_complete(self) -> SmtpRelay:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password for the relay's login, or neither")
        return self


class Webhook(StrictModel):
    """An HTTP endpoint that receives Alertmanager's JSON (an SMS gateway, a chat bot)."""

    url: Annotated[str, BeforeValidator(check_webhook_url)] = Field(
        description=(
            "The endpoint, or a secret reference to it when the URL carries a key. "
            "Alertmanager 0.25 reads no URL from a file: the deploy writes it into "
            "alertmanager.yml, which only root and the prometheus group can read."
        ),
        examples=["https://198.51.100.30/alertmanager", "file:/etc/egov/secrets/sms-url"],
    )
    token: SecretReference | None = Field(
        default=None, description="Sent as `Authorization: Bearer …`, read from a file on the host."
    )


class Telegram(StrictModel):
    """A Telegram chat that the province's bot posts to."""

    bot_token: SecretReference = Field(description="The bot's token from @BotFather.")
    chat_id: WholeNumber = Field(
        description="The chat (a group's id is negative).", examples=[-1001234567890]
    )
    api_url: Annotated[str, Field(pattern=HTTP_URL_PATTERN)] | None = Field(
        default=None,
        description="Another Bot API server than https://api.telegram.org.",
    )

    @model_validator(mode="after")
    def _chat_is_named(self) -> Telegram:
        if self.chat_id == 0:
            raise ValueError("chat_id 0 names no chat — give the group's id, e.g. -1001234567890")
        return self


class Receiver(StrictModel):
    """An on-call group: every channel listed receives each notification."""

    email: list[EmailAddress] = Field(
        default_factory=list,
        description="Addresses; one message goes to all of them (needs `alerting.smtp`).",
    )
    webhooks: list[Webhook] = Field(default_factory=list)
    telegram: Telegram | None = None


class RouteMatch(StrictModel):
    """What a route takes; every key given must match, a list matches any of its values."""

    severity: SeverityMatch | None = Field(
        default=None,
        description="Severities taken; without it, critical and warning (not the Watchdog).",
    )
    site: NameMatch | None = Field(default=None, description="Sites of the inventory.")
    service: NameMatch | None = Field(default=None, description="Services of the inventory.")
    alertname: AlertNameMatch | None = Field(default=None)

    def get_severities(self) -> tuple[AlertSeverity, ...]:
        """The severities the route can take (``PAGING_SEVERITIES`` when not restricted)."""
        return tuple(self.severity) if self.severity is not None else PAGING_SEVERITIES

    @property
    def takes_everything(self) -> bool:
        """Whether the route matches every paging alert, leaving nothing to the routes after."""
        return (
            self.site is None
            and self.service is None
            and self.alertname is None
            and set(PAGING_SEVERITIES) <= set(self.get_severities())
        )


class QuietHours(StrictModel):
    """A daily window, in the estate's timezone, when a route's notifications wait."""

    start: Annotated[str, Field(pattern=TIME_OF_DAY_PATTERN)] = Field(examples=["22:00"])
    end: Annotated[str, Field(pattern=TIME_OF_DAY_PATTERN)] = Field(examples=["06:30"])

    @model_validator(mode="after")
    def _is_a_window(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(
                "quiet hours from a time to the same time are empty or the whole day — "
                "give two different times, e.g. start: '22:00', end: '06:30'"
            )
        return self


RepeatInterval = Annotated[timedelta, DurationRange(minimum=timedelta(minutes=1))]
DEFAULT_REPEAT = timedelta(hours=4)


class Route(StrictModel):
    """Alerts matching ``match`` go to ``receivers``; later routes are not tried."""

    match: RouteMatch = Field(
        default_factory=RouteMatch, description="Without keys: every critical and warning alert."
    )
    receivers: list[Name] = Field(min_length=1, description="Receivers notified, each of them.")
    repeat: RepeatInterval = Field(
        default=DEFAULT_REPEAT,
        description="How often a notification is repeated while the alert fires.",
        examples=["1h", "4h"],
    )
    quiet_hours: QuietHours | None = Field(
        default=None,
        description=(
            "Hold notifications during these hours (a route that can match critical alerts "
            "is refused quiet hours: those must reach someone at 2 a.m.)."
        ),
    )


class Alerting(StrictModel):
    """Receivers and routes of the alerts; none: alerts are shown, delivered to no one."""

    language: Language = Field(
        default=Language.VI, description="Language of the notifications: vi or en."
    )
    smtp: SmtpRelay | None = Field(default=None, description="Needed by e-mail receivers.")
    receivers: dict[Name, Receiver] = Field(
        default_factory=dict, description="On-call groups by name."
    )
    routes: list[Route] = Field(
        default_factory=list, description="In order; the first route that matches wins."
    )
    default: Name | None = Field(
        default=None,
        description="Receiver of the critical and warning alerts no route takes.",
        examples=["truc-van-hanh"],
    )

    @property
    def delivers(self) -> bool:
        """Whether any alert reaches a person (the inventory names receivers)."""
        return bool(self.receivers)
