"""Run the connector's command line as ``python -m connector``."""

from connector.cli import main

main()
