"""The channels a notice travels by, each a small adapter with one ``send`` method: email
over SMTP (stdlib ``smtplib``), SMS through a Twilio-compatible HTTP API and signed webhooks
(``httpx``). A channel raises ``DeliveryError`` when it could not hand the notice over; the
deliverer then falls back to the officer's next channel.

Each send carries the notice's delivery key (``Notice.key`` plus the channel) so a receiver
can drop a notice it already has: the email's ``Message-ID``, the SMS API's
``I-Twilio-Idempotency-Token``, the webhook's ``webhook-id`` (Standard Webhooks).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import httpx

from api.notify.message import Notice
from api.settings import Settings
from engine.domain import Officer


class DeliveryError(Exception):
    """A channel could not hand a notice over; the text names the cause, never the message
    or the recipient."""


class Sender(Protocol):
    """One channel. ``configured``: the settings it needs are given."""

    name: str

    @property
    def configured(self) -> bool: ...

    def send(self, notice: Notice, officer: Officer, key: str) -> None: ...

    def close(self) -> None: ...


def _why(exc: BaseException) -> str:
    """An exception as a short cause for the attempt log (its kind and, for protocol
    errors, the server's code): no addresses, no message text."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__} {exc.smtp_code}"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


class EmailSender:
    """Email over SMTP. Each sending thread keeps its own connection open between sends
    (``smtplib.SMTP`` is not for sharing) and opens it again when the server has dropped
    it."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self._local = threading.local()
        self._all: set[smtplib.SMTP] = set()
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.s.smtp_host)

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.s.smtp_host, self.s.smtp_port, timeout=self.s.smtp_timeout_s)
        try:
            if self.s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.s.smtp_user:
                smtp.login(self.s.smtp_user, self.s.smtp_password.get_secret_value())
        except BaseException:
            smtp.close()
            raise
        with self._lock:
            self._all.add(smtp)
        return smtp

    def send(self, notice: Notice, officer: Officer, key: str) -> None:
        if not officer.email:
            raise DeliveryError("the officer has no email address")
        msg = EmailMessage()
        msg["From"] = self.s.smtp_from
        msg["To"] = officer.email
        msg["Subject"] = notice.subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = f"<{key}@leadroute>"
        msg["X-Leadroute-Delivery"] = key
        msg.set_content(notice.text)
        for again in (False, True):
            try:
                smtp: smtplib.SMTP | None = getattr(self._local, "smtp", None)
                if smtp is None:
                    smtp = self._local.smtp = self._connect()
                smtp.send_message(msg)
                return
            except smtplib.SMTPServerDisconnected as exc:
                self._drop()
                if again:  # a kept connection the server closed: one fresh try
                    raise DeliveryError(_why(exc)) from None
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                raise DeliveryError(_why(exc)) from None

    def _drop(self) -> None:
        smtp: smtplib.SMTP | None = getattr(self._local, "smtp", None)
        self._local.smtp = None
        if smtp is not None:
            with self._lock:
                self._all.discard(smtp)
            smtp.close()

    def close(self) -> None:
        """Quit every thread's connection (the sending threads have stopped)."""
        with self._lock:
            conns, self._all = list(self._all), set()
        for smtp in conns:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()
        self._local = threading.local()


class _Http:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.s.http_timeout_s, follow_redirects=False)
        return self._client

    def post(self, url: str, **kwargs: object) -> None:
        try:
            r = self.client.post(url, **kwargs)  # type: ignore[arg-type]
            r.raise_for_status()
        except httpx.HTTPError as exc:
            raise DeliveryError(_why(exc)) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class SmsSender(_Http):
    """SMS through a Twilio-compatible API: ``POST {base}/2010-04-01/Accounts/{sid}/
    Messages.json`` (form: To, From, Body), basic auth with the account SID and token."""

    name = "sms"

    @property
    def configured(self) -> bool:
        return bool(self.s.sms_base_url and self.s.sms_account_sid and self.s.sms_from)

    def send(self, notice: Notice, officer: Officer, key: str) -> None:
        if not officer.phone:
            raise DeliveryError("the officer has no phone number")
        url = (f"{self.s.sms_base_url.rstrip('/')}/2010-04-01/Accounts/"
               f"{self.s.sms_account_sid}/Messages.json")
        body = f"{notice.subject}. {notice.text}"[:1500]
        self.post(url, data={"To": officer.phone, "From": self.s.sms_from, "Body": body},
                  auth=(self.s.sms_account_sid, self.s.sms_auth_token.get_secret_value()),
                  headers={"I-Twilio-Idempotency-Token": key})


def webhook_secret(secret: str) -> bytes:
    """The signing key: a ``whsec_`` secret is base64 (Standard Webhooks), any other text is
    used as it is."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:  # the message names the setting, never the secret
            raise ValueError("LEADROUTE_WEBHOOK_SECRET: a whsec_ secret is base64 after the "
                             "prefix") from None
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` and the base64 HMAC-SHA256 of
    ``{id}.{timestamp}.{body}`` (Standard Webhooks)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(webhook_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, now_s: float,
           tolerance_s: float = 300.0) -> bool:
    """What a receiver does: the signature matches (constant-time) and the timestamp is
    within ``tolerance_s`` of ``now_s`` (replays of old deliveries are refused)."""
    try:
        msg_id, ts = headers["webhook-id"], int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now_s - ts) > tolerance_s:
        return False
    want = sign(secret, msg_id, ts, body)
    return any(hmac.compare_digest(want, got)
               for got in headers.get("webhook-signature", "").split())


class WebhookSender(_Http):
    """A signed JSON POST to ``LEADROUTE_WEBHOOK_URL`` for CRMs and apps (an officer's
    ``push`` channel goes the same way, marked ``"channel": "push"``, for the app's push
    service to pass on)."""

    def __init__(self, settings: Settings, name: str = "webhook") -> None:
        super().__init__(settings)
        self.name = name
        webhook_secret(settings.webhook_secret.get_secret_value())  # a bad secret fails now

    @property
    def configured(self) -> bool:
        return bool(self.s.webhook_url and self.s.webhook_secret.get_secret_value())

    def send(self, notice: Notice, officer: Officer, key: str) -> None:
        import time

        body = json.dumps({**notice.data, "channel": self.name}, separators=(",", ":"),
                          sort_keys=True).encode()
        ts = int(time.time())
        self.post(self.s.webhook_url, content=body, headers={
            "content-type": "application/json", "webhook-id": key,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(self.s.webhook_secret.get_secret_value(), key, ts, body)})


def senders(settings: Settings) -> dict[str, Sender]:
    """One sender per channel name (``engine.domain.Channel``)."""
    return {"email": EmailSender(settings), "sms": SmsSender(settings),
            "webhook": WebhookSender(settings), "push": WebhookSender(settings, "push")}
