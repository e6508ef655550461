"""Imported once by the workers' forkserver (``multiprocessing`` preload), before any worker forks.

Importing it loads the extractor and everything the tagger loads on first use (the gazetteer,
~58 MB, built in a short-lived child process that hands it back; the language model, ~80 MB; the
English keyword extractor) and freezes it out of the cyclic
garbage collector (``gc.freeze`` in :func:`~services.extractor.tagging.warm_up`); before it, trafilatura's
justext stoplists (:func:`services.extractor.extract.warm_up`). Every worker is
a fork of the forkserver, so it starts with all of that already in memory, in pages it shares
copy-on-write with the forkserver and the other workers: the collector never walks the frozen
objects, so it never writes to (and so never copies) their pages; only reference counts touched by
a lookup dirty a page. Loading after the fork, as each worker used to, gave every worker a private
copy (bench/memory.py; docs/scaling.md).

The forkserver also fixes glibc's mmap threshold (:mod:`services.common.heap`) before it loads the data
(after the imports): the workers fork from it and inherit the setting.

A failure here is logged, not raised: the forkserver must start (each worker then loads the
tagger itself, in :func:`services.extractor.task.worker_init`, and a page that cannot be tagged fails with the real error).
"""

from __future__ import annotations

import logging

from services.common.heap import keep_big_blocks_apart
from services.extractor.pipeline import warm_up  # and with it every import of the extractor, shared

keep_big_blocks_apart()
try:
    warm_up()
except Exception:  # see above: the workers retry and the pages report the error
    logging.getLogger(__name__).exception("forkserver warm-up failed; each worker loads the tagger itself")
