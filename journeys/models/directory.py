"""The service directory: named services that journey milestones and stage agents call.

One registry for both: a milestone's ``experience_api`` (``FrontendGateway.handle_insights_request``)
names a service by its key (``FrontendGateway``) and an operation; a stage task's ``agent_id``
names one by its key (``dataops-agent``). A service is either an HTTP endpoint, called with a
Standard Webhooks signature made with its secret through the SSRF guard, or **built-in**: a
handler of this project answering in-process (the demo's local agent and experience services).
"""

from django.core.validators import RegexValidator
from django.db import models

from journeys.crypto import EncryptedTextField
from journeys.webhooks import validate_public_target, webhook_secret_generate

SERVICE_KEY_VALIDATOR = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_.\-]{0,99}$",
    "Use letters, digits, . _ and -, starting with a letter (e.g. FrontendGateway or dataops-agent).",
)


class Service(models.Model):
    """A named service of the directory (``key`` is what definitions and task templates name).

    It *needs configuration* while it cannot be called: inactive, or an HTTP service without an
    endpoint. Stage tasks wait for it (they are retried when it is configured); a milestone
    calling it fails with that reason.
    """

    class Kind(models.TextChoices):
        HTTP = "http", "HTTP endpoint"
        BUILT_IN = "built-in", "Built-in (local, answered by this project)"

    class Health(models.TextChoices):
        UNKNOWN = "unknown", "Not checked"
        HEALTHY = "healthy", "Healthy"
        UNHEALTHY = "unhealthy", "Unhealthy"

    key = models.CharField(max_length=100, unique=True, validators=[SERVICE_KEY_VALIDATOR])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.HTTP)
    handler = models.CharField(
        max_length=100, blank=True, help_text="Built-in services: the local handler that answers."
    )
    endpoint_url = models.URLField(
        max_length=500,
        blank=True,
        validators=[validate_public_target],
        help_text="Where calls are POSTed. Internal addresses need WEBHOOK_ALLOWED_HOSTS.",
    )
    secret = EncryptedTextField(
        default=webhook_secret_generate, help_text="The signing secret, encrypted at rest; shown once."
    )
    health_check_url = models.URLField(
        max_length=500,
        blank=True,
        validators=[validate_public_target],
        help_text="Optional: a URL answering 2xx when the service is up (GET).",
    )
    health_status = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    health_detail = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        verbose_name = "directory service"

    def __str__(self) -> str:
        return self.key

    @property
    def agent_id(self) -> str:
        """What stage task templates call this service."""
        return self.key

    @property
    def configuration_problem(self) -> str:
        """Why the service cannot be called now ('' when it can)."""
        if not self.active:
            return f"The service {self.key!r} is inactive; activate it in the service directory."
        if self.kind == self.Kind.HTTP and not self.endpoint_url:
            return f"The service {self.key!r} has no endpoint URL; set it in the service directory."
        return ""

    @property
    def needs_configuration(self) -> bool:
        return bool(self.configuration_problem)


class ServiceCall(models.Model):
    """One call of a directory service made for a milestone of a user journey.

    The milestone's calls run in ``position`` order (personalization, experience_api,
    session_tracking). Each is tried until it succeeds or runs out of attempts (backoff with
    jitter); every try is a ``ServiceCallAttempt``. ``webhook-id`` is the call's idempotency
    key, the same on every try.
    """

    class Role(models.TextChoices):
        PERSONALIZATION = "personalization", "Personalization"
        EXPERIENCE_API = "experience_api", "Experience API"
        SESSION_TRACKING = "session_tracking", "Session tracking"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    user_journey = models.ForeignKey(
        "journeys.UserJourney", on_delete=models.CASCADE, related_name="service_calls"
    )
    step_run = models.ForeignKey("journeys.StepRun", on_delete=models.CASCADE, related_name="service_calls")
    step_key = models.CharField(max_length=80)
    role = models.CharField(max_length=20, choices=Role.choices)
    position = models.PositiveSmallIntegerField(default=0)
    reference = models.CharField(max_length=200, help_text="The service operation as the step names it.")
    service = models.ForeignKey(
        Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    operation = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    request = models.JSONField(default=dict, blank=True)
    response = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["step_run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["step_run", "role"], name="service_call_once_per_role"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="service_call_due")]

    def __str__(self) -> str:
        return f"{self.reference} for {self.step_key} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        return f"service-call-{self.pk}"


class ServiceCallAttempt(models.Model):
    call = models.ForeignKey(ServiceCall, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["call", "id"]

    def __str__(self) -> str:
        return f"{self.call_id} at {self.at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error[:40]}"
