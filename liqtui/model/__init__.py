"""The pure core: normalized events, instruments, rings, the store and the estimator. No Textual, no plotext."""
