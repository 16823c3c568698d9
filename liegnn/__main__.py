"""``python -m liegnn``: the ``liegnn`` command (also what ``torchrun -m liegnn`` runs)."""

from .cli import main

raise SystemExit(main())
