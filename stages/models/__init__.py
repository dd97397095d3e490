"""The stages app's models, one module per idea; Django finds them through this package."""

from stages.models.pipelines import Agent, ExitCriterion, Pipeline, PipelineStage, TaskTemplate
from stages.models.staged_journeys import Measurement, Snapshot, StagedJourney, StageTransition
from stages.models.stages import NEXT_STAGE, PIPELINE_STAGES, PREVIOUS_STAGE, Stage
from stages.models.work import UnitOfWork, WorkTask

__all__ = [
    "NEXT_STAGE",
    "PIPELINE_STAGES",
    "PREVIOUS_STAGE",
    "Agent",
    "ExitCriterion",
    "Measurement",
    "Pipeline",
    "PipelineStage",
    "Snapshot",
    "Stage",
    "StageTransition",
    "StagedJourney",
    "TaskTemplate",
    "UnitOfWork",
    "WorkTask",
]
