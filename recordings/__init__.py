"""Call recordings: metadata, search, playback audit and retention (MixMonitor runs in the dialplan)."""
