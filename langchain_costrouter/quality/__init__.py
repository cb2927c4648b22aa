"""Quality-aware routing: RouteLLM's evaluation protocol, baseline and learned difficulty
scorers, training, threshold calibration and outcome feedback.

Modules (one concept each): :mod:`.table` (routing data files), :mod:`.metrics` (APGR, CPT,
cost at a quality target), :mod:`.baselines` (random, length, heuristic scorers),
:mod:`.features` + :mod:`.learned` (hashed n-gram logistic regression), :mod:`.train`,
:mod:`.calibrate`, :mod:`.feedback`. numpy is needed only by the learned scorer.
"""
