"""Serializer fields shared by the apps' APIs."""

import math

from rest_framework import serializers


class FiniteFloatField(serializers.FloatField):
    """A float that JSON and comparisons can hold: "nan", "inf" and "1e999" are refused."""

    default_error_messages = {"not_finite": "A finite number is required."}

    def to_internal_value(self, data) -> float:
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("not_finite")
        return value
