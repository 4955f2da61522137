"""``python -m gateway.cli`` runs the ``dmp-gateway`` command line."""

from gateway.cli import main

main()
