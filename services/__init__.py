"""newsflow: feeds -> Kafka -> extraction and tagging -> storage.

The dependency rule (``tests/test_layering.py`` keeps it true): a module imports its
own layer and the layers to its left, never to its right::

    messages + settings basics  <-  common (the stream kernel)  <-  fetcher, extractor, stories, sink
        <-  ops, local run (up, demo)  <-  cli

- ``services/common/``: what every stage needs, importing no service: the message
  contract (``messages.py``) and settings base classes (``settings.py``), Kafka clients
  and topics (``kafka.py``, ``offsets.py``), the stage loop and its steps (``stage.py``,
  ``steps.py``, ``deadletters.py``), health, logs, lifecycle, metric helpers, the SQLite
  migration runner, the HTML decoder, the ``run.json`` record.
- ``services/fetcher/``, ``services/extractor/``, ``services/stories/``, ``services/sink/``: one stage each, with
  its own ``settings.py``, ``metrics.py`` and ``main.py`` (start-up). Stages do not import
  each other: Kafka topics link them.
- ``services/ops/`` (replay, dead letters, status), ``services/up.py`` (the local
  supervisor) and ``services/demo/`` (the demo site) use the stages.
- ``services/cli/``: the ``newsflow`` command; each sub-command is its own module, imported
  only when it runs (a service process carries its own stage only).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("newsflow")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
