"""Day-2 operations: replay, dead letters, status, topics and configuration.

``cli.py`` holds the click commands; each other module is one operation with
plain functions the commands (and the tests) call.
"""
