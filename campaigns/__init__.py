"""Outbound care and advertising campaigns: lists, Việt Nam's calling rules, and the dialler's pacing."""
