"""`prevnet sandbox`: the bot against a local Bot API and a chat page, no Telegram needed.

telegram/ is the local Bot API server (also the fake the tests run against); page.py serves
the chat page (static/); seed.py writes the demo network; runner.py puts them together and
supervises the real bot (`prevnet run`) as a child process. Nothing outside this package
and bot/cli_sandbox.py imports it (an import-linter contract): the bot does not know it is
in a sandbox.
"""
