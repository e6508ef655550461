"""``newsflow stories-worker``: the story stage, ``newsflow.extracted`` -> ``newsflow.articles``.

One story index for the whole deployment: every article, whichever extractor replica made it,
is placed (``story_id``, ``duplicate_of``) by the one active member of this stage's consumer
group (its input topic has one partition); other replicas are standbys that Kafka's group
protocol hands the partition to when the active one goes. The index lives in memory and is
rebuilt from the stage's own output on every assignment (:mod:`services.stories.rebuild`).
"""
