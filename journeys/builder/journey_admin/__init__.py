"""The journey builder in the admin: a journey with its steps, validated together and saved by
the services; its graph, readiness and transitions; the canvas, the dry run; frozen versions."""
