"""The fetcher state's schema (``<data_dir>/fetcher.db``), as numbered SQL files for services.common.sqlite."""
