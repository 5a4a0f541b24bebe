"""``python -m tests.fake_api``: the same as ``python -m bot.sandbox.telegram``."""

from bot.sandbox.telegram.__main__ import main

if __name__ == "__main__":
    main()
