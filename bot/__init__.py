"""prevnet: the Prevention Network bot."""
