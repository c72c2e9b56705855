"""Historical reports computed from the database (the wallboard shows today's live figures)."""
