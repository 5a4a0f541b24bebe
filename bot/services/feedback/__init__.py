"""Training feedback: after a training or workshop, those who took part are asked how
useful it was (1-5), what they will apply and what was missing; coordinators and admins
see the answers without names (docs/ARCHITECTURE.md, README.md "Training feedback")."""

from bot.services.feedback.answers import answer_step, next_step, rate
from bot.services.feedback.asking import (
    FeedbackRun,
    ask_due,
    remind_due,
    setup_jobs,
    tick,
    to_ask,
)
from bot.services.feedback.results import (
    EXPORT_FORMATS,
    Export,
    Overview,
    Summary,
    event_results,
    export_feedback,
    overview,
    summarise,
)
from bot.services.feedback.rules import (
    ASK_WINDOW,
    REMIND_AT,
    STEPS,
    TEXT_MAX,
    FeedbackError,
    Problem,
    reminder_due,
)
from bot.services.feedback.texts import (
    done_text,
    overview_text,
    problem_text,
    rated_text,
    results_text,
    step_question,
)

__all__ = [
    "ASK_WINDOW",
    "EXPORT_FORMATS",
    "REMIND_AT",
    "STEPS",
    "TEXT_MAX",
    "Export",
    "FeedbackError",
    "FeedbackRun",
    "Overview",
    "Problem",
    "Summary",
    "answer_step",
    "ask_due",
    "done_text",
    "event_results",
    "export_feedback",
    "next_step",
    "overview",
    "overview_text",
    "problem_text",
    "rate",
    "rated_text",
    "remind_due",
    "reminder_due",
    "results_text",
    "setup_jobs",
    "step_question",
    "summarise",
    "tick",
    "to_ask",
]
