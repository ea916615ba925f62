"""Template chores: `init` (make the template yours) and `simulate` (the closed loop, week by week)."""
