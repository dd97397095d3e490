"""What operators watch: user journeys with the timeline of their step runs (and why each went
where it went), pause / resume / cancel, and the queues of step runs that need a person: dead
letters (retry or skip) and overdue runs (timer lateness, visible)."""
