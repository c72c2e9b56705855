"""The agent's web desktop (screen pop at ring time) and, later, the supervisor's wallboard."""
