"""Messages to the participant: email, push, Telegram. Quiet hours and frequency caps apply."""

import json
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from journeys.actions import schemas
from journeys.actions.base import (
    ActionSkipped,
    check_template,
    check_templates_in,
    render,
    render_file,
    render_value,
    template_exists,
    unknown_keys,
)
from journeys.errors import DomainError
from journeys.registries import ActionContext, ActionType, FieldErrors
from journeys.webhooks import http_post

EMAIL_TEMPLATE_DIR = "journeys/email"


class ProviderNotConfigured(DomainError):
    """A message channel has no provider in settings: retrying will not help."""

    default_code = "provider_not_configured"


class SendEmail(ActionType):
    """Send an email through Django's email backend (SMTP, console… per ``EMAIL_URL``).

    ``subject``, ``body`` and ``to`` are templates over the participant and the journey context;
    ``template`` names a shipped body (``journeys/email/<name>.txt``) instead of ``body``.
    The recipient defaults to the participant's ``email`` attribute; without one the step is
    skipped. The Message-ID is derived from the step run, so a resend is recognisable.
    """

    name = "send_email"
    description = "Send an email (templated subject and body) through the configured email backend."
    channel = "email"
    concurrent = True
    config_schema = schemas.SEND_EMAIL
    config_example = {
        "subject": "Welcome, {{ attributes.first_name|default:'there' }}!",
        "template": "welcome",
    }

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        errors: FieldErrors = {}
        unknown_keys(config, {"subject", "body", "html", "template", "to", "from_email", "reply_to"}, errors)
        check_template(config, "subject", errors, required=True)
        check_template(config, "body", errors, required=False)
        check_template(config, "html", errors, required=False)
        check_template(config, "to", errors, required=False)
        template = config.get("template")
        if template:
            if not isinstance(template, str) or not template_exists(f"{EMAIL_TEMPLATE_DIR}/{template}.txt"):
                errors.setdefault("template", []).append(
                    f"No email template {template!r} (files in templates/{EMAIL_TEMPLATE_DIR}/<name>.txt)."
                )
        elif not config.get("body") and not config.get("html"):
            errors.setdefault("body", []).append("Give a body (or html), or a template name.")
        return errors

    def execute(self, action: ActionContext) -> dict[str, Any]:
        config = action.config
        to = (
            render(config["to"], action).strip()
            if config.get("to")
            else action.participant.attributes.get("email")
        )
        if not to or "@" not in str(to):
            raise ActionSkipped("The participant has no email address.")
        subject = " ".join(render(config["subject"], action).split())
        if config.get("template"):
            body = render_file(f"{EMAIL_TEMPLATE_DIR}/{config['template']}.txt", action)
        else:
            body = render(config.get("body") or "", action)
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
        message_id = make_msgid(idstring=action.idempotency_key, domain=domain)
        message = EmailMultiAlternatives(
            subject=subject,
            body=body,
            from_email=config.get("from_email") or settings.DEFAULT_FROM_EMAIL,
            to=[str(to)],
            reply_to=[config["reply_to"]] if config.get("reply_to") else None,
            headers={"Message-ID": message_id, "X-Idempotency-Key": action.idempotency_key},
        )
        if config.get("html"):
            message.attach_alternative(render(config["html"], action, html=True), "text/html")
        message.send(fail_silently=False)
        return {"to": str(to), "subject": subject, "message_id": message_id}


class SendPush(ActionType):
    """Send a push notification through the HTTP provider in ``PUSH_PROVIDER_URL``.

    The provider receives ``{"user_id", "tokens", "title", "body", "data"}`` with the step
    run's idempotency key as ``Idempotency-Key``; tokens come from the participant's
    ``push_tokens`` attribute (the provider may also resolve the user id itself).
    """

    name = "send_push"
    description = "Send a push notification through the configured push provider (HTTP)."
    channel = "push"
    concurrent = True
    config_schema = schemas.SEND_PUSH
    config_example = {"title": "Your trial ends soon", "body": "Upgrade to keep your projects."}

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        errors: FieldErrors = {}
        unknown_keys(config, {"title", "body", "data", "message"}, errors)
        if not config.get("body") and not config.get("message"):
            errors.setdefault("body", []).append("This field is required.")
        check_template(config, "title", errors, required=False)
        check_template(config, "body", errors, required=False)
        check_template(config, "message", errors, required=False)
        if "data" in config:
            if not isinstance(config["data"], dict):
                errors.setdefault("data", []).append("Must be a JSON object.")
            else:
                check_templates_in(config["data"], "data", errors)
        return errors

    def execute(self, action: ActionContext) -> dict[str, Any]:
        url = settings.PUSH_PROVIDER_URL
        if not url:
            raise ProviderNotConfigured("No push provider: set PUSH_PROVIDER_URL.")
        config = action.config
        tokens = action.participant.attributes.get("push_tokens") or []
        body = {
            "user_id": action.participant.user_id,
            "tokens": tokens if isinstance(tokens, list) else [tokens],
            "title": render(config.get("title") or "", action),
            "body": render(config.get("body") or config.get("message") or "", action),
            "data": render_value(config.get("data") or {}, action),
        }
        headers = {"Idempotency-Key": action.idempotency_key}
        if settings.PUSH_PROVIDER_TOKEN:
            headers["Authorization"] = f"Bearer {settings.PUSH_PROVIDER_TOKEN}"
        delivery = http_post(url=url, body=json.dumps(body), headers=headers)
        return {
            "provider_status": delivery.status_code,
            "title": body["title"],
            "response": delivery.body[:500],
        }


class SendTelegram(ActionType):
    """Send a Telegram message: ``POST {TELEGRAM_API_BASE}/bot<token>/sendMessage`` with
    ``chat_id`` and ``text`` (the Bot API). The chat defaults to the participant's
    ``telegram_chat_id`` attribute; without one the step is skipped."""

    name = "send_telegram"
    description = "Send a Telegram message through the Bot API (TELEGRAM_BOT_TOKEN)."
    channel = "telegram"
    concurrent = True
    config_schema = schemas.SEND_TELEGRAM
    config_example = {"message": "Welcome to our platform, {{ attributes.first_name }}!"}

    def validate_config(self, config: dict[str, Any]) -> FieldErrors:
        errors: FieldErrors = {}
        unknown_keys(config, {"message", "text", "chat_id", "parse_mode"}, errors)
        if not config.get("message") and not config.get("text"):
            errors.setdefault("message", []).append("This field is required.")
        check_template(config, "message", errors, required=False)
        check_template(config, "text", errors, required=False)
        check_template(config, "chat_id", errors, required=False)
        if config.get("parse_mode") not in (None, "", "HTML", "MarkdownV2", "Markdown"):
            errors.setdefault("parse_mode", []).append("Use HTML, MarkdownV2 or Markdown.")
        return errors

    def execute(self, action: ActionContext) -> dict[str, Any]:
        token = settings.TELEGRAM_BOT_TOKEN
        if not token:
            raise ProviderNotConfigured("No Telegram bot: set TELEGRAM_BOT_TOKEN.")
        config = action.config
        chat_id = (
            render(config["chat_id"], action).strip()
            if config.get("chat_id")
            else action.participant.attributes.get("telegram_chat_id")
        )
        if not chat_id:
            raise ActionSkipped("The participant has no telegram_chat_id.")
        body: dict[str, Any] = {
            "chat_id": chat_id,
            "text": render(config.get("message") or config.get("text") or "", action),
        }
        if config.get("parse_mode"):
            body["parse_mode"] = config["parse_mode"]
        url = f"{settings.TELEGRAM_API_BASE.rstrip('/')}/bot{token}/sendMessage"
        delivery = http_post(url=url, body=json.dumps(body))
        try:
            message_id = json.loads(delivery.body).get("result", {}).get("message_id")
        except (ValueError, AttributeError):
            message_id = None
        return {
            "chat_id": chat_id,
            "telegram_message_id": message_id,
            "provider_status": delivery.status_code,
        }
