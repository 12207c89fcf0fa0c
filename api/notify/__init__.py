"""Notices to officers: what they are told (``message``), the channels that carry it
(``channels``: SMTP email, a Twilio-compatible SMS API, signed webhooks) and the delivery of
the outbox (``deliver``). See docs/notifications.md."""
