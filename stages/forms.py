"""Forms of the admin's transition buttons that need input."""

from django import forms


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Kept in the journey's history and sent with the event.",
    )
