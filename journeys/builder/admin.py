"""Registers the journey builder's screens on the admin site (imported by ``journeys.admin``)."""

from django.contrib import admin

from journeys.builder.journey_admin.journeys import JourneyAdmin
from journeys.builder.journey_admin.versions import JourneyVersionAdmin
from journeys.builder.run_admin.step_runs import RewardLedgerAdmin, StepRunAdmin
from journeys.builder.run_admin.user_journeys import UserJourneyAdmin
from journeys.models import Journey, JourneyVersion, RewardLedger, StepRun, UserJourney

admin.site.register(Journey, JourneyAdmin)
admin.site.register(JourneyVersion, JourneyVersionAdmin)
admin.site.register(UserJourney, UserJourneyAdmin)
admin.site.register(StepRun, StepRunAdmin)
admin.site.register(RewardLedger, RewardLedgerAdmin)
