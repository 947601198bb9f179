"""Sending e-mail through ``SMTP_URL`` with the standard library's ``smtplib``.

``SMTP_URL``: ``smtp://[user:password@]host[:port]`` (plain, port 25),
``smtp+starttls://...`` (STARTTLS, port 587) or ``smtps://...`` (TLS from the start,
port 465). One connection sends all the messages of a call: a digest run mails many
users over one session instead of paying a handshake each.
"""
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from flask import current_app

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
TIMEOUT = 30  # seconds for the connection and each command


def message(to, subject, body, headers=None):
    """A plain-text message from ``MAIL_FROM`` to ``to``, with extra ``headers``."""
    mail = EmailMessage()
    mail["From"] = current_app.config["MAIL_FROM"]
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain="beacon")
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(body)
    return mail


def send(messages, url=None):
    """Send ``messages`` (``EmailMessage``) over one SMTP session to ``SMTP_URL``."""
    if not messages:
        return
    parts = urlsplit(url or current_app.config["SMTP_URL"])
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"SMTP_URL must start with one of {', '.join(DEFAULT_PORTS)}")
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    if parts.scheme == "smtps":
        client = smtplib.SMTP_SSL(parts.hostname, port, timeout=TIMEOUT, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(parts.hostname, port, timeout=TIMEOUT)
    with client:
        if parts.scheme == "smtp+starttls":
            client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        for mail in messages:
            client.send_message(mail)
