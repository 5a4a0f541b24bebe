"""Shared text and time helpers: numbers, dates, lengths as Telegram counts them, snippets,
typed digits in any script (formats.py), labels of stored values (labels.py), and a
network's time zone (times.py). Feature texts live beside their feature
(bot/services/<feature>/texts.py)."""
