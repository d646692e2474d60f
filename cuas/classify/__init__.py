"""Track classification and threat assessment.

:class:`~cuas.classify.classifier.Classifier` turns every track of a snapshot into class
probabilities over ``uav``, ``bird``, ``manned``, ``clutter`` (a naive-Bayes sum of clipped
log-likelihood ratios whose shapes live in ``likelihoods.toml``), a threat level with
hysteresis from the site's zones, assets and allow/deny lists, ``malicious`` at ``high`` and
above, reasons an operator can act on (:mod:`.reasons`, spoofing evidence in :mod:`.spoofing`),
and alerts. The tracker runs it once per snapshot. Imports vocabulary, config, geo, errors only.
"""

from cuas.classify.alerts import AlertEvent
from cuas.classify.classifier import Classification, Classifier, TrackInputs

__all__ = ["AlertEvent", "Classification", "Classifier", "TrackInputs"]
