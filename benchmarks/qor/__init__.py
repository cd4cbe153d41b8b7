"""Hand-written baseline cores and the out-of-context build flow of the QoR benchmark."""
