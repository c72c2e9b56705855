"""Asterisk configuration rendered from config.yaml, and the local Asterisk sandbox scripts."""
