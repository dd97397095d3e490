"""Registers the journey builder's screens on the admin site (imported by ``journeys.admin``)."""

from django.contrib import admin

from journeys.builder import journey_admin, run_admin

journey_admin.register(admin.site)
run_admin.register(admin.site)
