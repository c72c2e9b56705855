"""Backup and restore of one node: database, recordings, CDR spool, config and secrets in one archive."""
