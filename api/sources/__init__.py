"""Lead sources: each source's payload mapped to the canonical lead by a pure adapter
(``mapping``, ``meta``, ``google_ads``, ``vendors``) through maps in configuration."""
