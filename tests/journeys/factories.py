import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from journeys.models import ApiKey, EntityMapping, EntityRecord, Event, Participant
from journeys.models.api_keys import hash_api_key_secret


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-1")


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    user_id = factory.Sequence(lambda n: f"participant-{n}")
    attributes = factory.LazyFunction(lambda: {"email": "someone@example.com"})
    tags = factory.LazyFunction(list)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    type = "signup"
    participant = factory.SubFactory(ParticipantFactory)
    payload = factory.LazyFunction(dict)
    occurred_at = factory.LazyFunction(timezone.now)
    source = "api"


class EntityMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EntityMapping
        django_get_or_create = ["event_type", "entity"]

    event_type = factory.Sequence(lambda n: f"thing{n}.*")
    entity = factory.Sequence(lambda n: f"things_{n}")
    key_field = ""


class EntityRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EntityRecord

    participant = factory.SubFactory(ParticipantFactory)
    entity = "kintell_sessions"
    data = factory.LazyFunction(dict)
    occurred_at = factory.LazyFunction(timezone.now)


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """``ApiKeyFactory(secret=...)`` gives a key whose full text is ``jo_<prefix>.<secret>``."""

    class Meta:
        model = ApiKey
        exclude = ["secret"]

    name = factory.Sequence(lambda n: f"service-{n}")
    user = factory.SubFactory(UserFactory)
    scope = ApiKey.Scope.INGEST
    secret = "s3cret-for-tests"
    prefix = factory.Sequence(lambda n: f"{n:08x}")
    hashed_secret = factory.LazyAttribute(lambda o: hash_api_key_secret(o.secret))

    @staticmethod
    def full_key(api_key: ApiKey, secret: str = "s3cret-for-tests") -> str:
        return f"jo_{api_key.prefix}.{secret}"


# ----------------------------------------------------------------------------------------------
# Journeys (through the services, so every journey in a test is one staff could have built)
# ----------------------------------------------------------------------------------------------
_journey_counter = iter(range(1, 10**9))


def make_journey(steps: list[dict], *, publish: bool = True, **fields):
    """A journey with ``steps`` (dicts of Step fields), published unless ``publish=False``."""
    from journeys.services.journeys import journey_create

    data = {"name": f"Journey {next(_journey_counter)}", "trigger_type": "signup", **fields}
    return journey_create(data=data, steps=steps, publish=publish)


def action(key: str, action_type: str, config: dict, **fields) -> dict:
    return {
        "key": key,
        "name": key.replace("_", " ").title(),
        "kind": "action",
        "action_type": action_type,
        "config": config,
        **fields,
    }


def tag_step(key: str, tag: str, **fields) -> dict:
    return action(key, "apply_tag", {"tag": tag}, **fields)
