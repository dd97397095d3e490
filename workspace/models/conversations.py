"""Chats linked to a user journey, so a conversation can pick up where the person left off."""

from django.db import models

from workspace.models.spaces import Workspace


class Conversation(models.Model):
    """An external chat's conversation, linked to one user journey by its id."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="conversations")
    external_id = models.CharField(max_length=200, unique=True, help_text="The chat's conversation id.")
    channel = models.CharField(max_length=50, blank=True, help_text="web, whatsapp, …")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.external_id


class Message(models.Model):
    """One message of a conversation, kept with the journey it belongs to."""

    class Sender(models.TextChoices):
        PARTICIPANT = "participant", "Participant"
        ASSISTANT = "assistant", "Assistant"
        COLLABORATOR = "collaborator", "Collaborator"
        SYSTEM = "system", "System"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    sender = models.CharField(max_length=12, choices=Sender.choices)
    body = models.TextField()
    step_key = models.CharField(max_length=80, blank=True)
    external_id = models.CharField(max_length=200, blank=True, help_text="The chat's message id, if any.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "external_id"],
                condition=~models.Q(external_id=""),
                name="workspace_message_once",
            )
        ]

    def __str__(self) -> str:
        return self.body[:60]
