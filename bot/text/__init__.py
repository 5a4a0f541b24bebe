"""Shared text and time helpers: numbers, dates, lengths as Telegram counts them, snippets,
and a network's time zone. Feature texts live beside their feature
(bot/services/<feature>/texts.py); labels of stored values in bot/labels.py."""
