"""`python -m bot` runs the bot; `python -m bot check` checks the settings and services."""

from __future__ import annotations

import os
import sys

from pydantic import ValidationError

from bot.check import explain_settings_error
from bot.logs import setup_logging
from bot.settings import Settings


def main(argv: list[str]) -> int:
    """Dispatch the command line."""
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    if argv and argv[0] == "check":
        from bot.check import main as check_main

        return check_main()
    if argv and argv[0] in ("-h", "--help", "help"):
        print("usage: python -m bot [check]")
        return 0
    try:
        settings = Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        print("The bot cannot start; fix these settings in .env:", file=sys.stderr)
        for line in explain_settings_error(exc):
            print(f"  {line}", file=sys.stderr)
        return 2
    from bot.providers import provider_secrets

    setup_logging(
        settings.log_level, [*settings.secrets, *provider_secrets(settings.providers_file)]
    )
    from bot.app import run

    run(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
