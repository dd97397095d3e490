"""The journeys app's models, one module per idea; Django finds them through this package."""

from journeys.models.api_keys import ApiKey
from journeys.models.directory import Service, ServiceCall, ServiceCallAttempt
from journeys.models.events import Event
from journeys.models.journeys import Journey, JourneyVersion, Step
from journeys.models.participants import Participant
from journeys.models.records import EntityMapping, EntityRecord
from journeys.models.runs import RewardLedger, StepRun, UserJourney, UserJourneyLog
from journeys.models.subscriptions import WebhookAttempt, WebhookDelivery, WebhookSubscription
from journeys.models.templates import JourneyTemplate, TemplateReview, TemplateVersion

__all__ = [
    "ApiKey",
    "EntityMapping",
    "EntityRecord",
    "Event",
    "Journey",
    "JourneyTemplate",
    "JourneyVersion",
    "Participant",
    "RewardLedger",
    "Service",
    "ServiceCall",
    "ServiceCallAttempt",
    "Step",
    "StepRun",
    "TemplateReview",
    "TemplateVersion",
    "UserJourney",
    "UserJourneyLog",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
