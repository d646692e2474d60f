"""Track classification and threat assessment. Until the classifier lands, tracks carry the
contract's neutral values (uniform class probabilities, threat ``none``)."""
