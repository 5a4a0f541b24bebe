"""Business rules. Handlers call these; these call storage repositories."""
