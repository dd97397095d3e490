"""Write-side use cases of the stages app: journeys (start, promote, roll back, cancel, measure),
units of work (create, run, retry, cancel), pipelines (templates, defaults) and history purge."""
