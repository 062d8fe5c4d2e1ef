"""``python -m trio_webhook``: the command line (see ``trio-webhook --help``)."""

from trio_webhook.cli import main

main()
