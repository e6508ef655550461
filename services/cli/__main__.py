"""``python -m services.cli NAME``: the ``newsflow`` command (how ``newsflow up`` starts each service)."""

from services.cli import main

if __name__ == "__main__":  # not when a multiprocessing child imports the parent's main module
    main()
