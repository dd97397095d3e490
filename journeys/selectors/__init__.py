"""Read-side queries of the journeys app, one module per entity: participants (and their entity
records), events, journeys, user journeys (progress, history), milestones, step runs."""
