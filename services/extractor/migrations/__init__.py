"""The story index's schema (``<data_dir>/stories.db``), as numbered SQL files for services.common.sqlite."""
