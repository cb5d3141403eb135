"""Real agents: where they are installed and how they are run (IO edge)."""
