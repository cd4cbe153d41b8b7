"""``python -m fpgac``."""

from .cli import main

main()
