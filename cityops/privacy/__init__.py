"""Residents' privacy: keys from configuration, the Temporal payload codec, sealed fields
and the phone hash for the register, reveals and erasure (docs/privacy.md)."""
