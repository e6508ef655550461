"""The fetcher state's schema in PostgreSQL (``NEWSFLOW_FETCHER_STATE_URL``), as numbered SQL files."""
