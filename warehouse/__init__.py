"""Healthcare ELT warehouse: the platform side (CLI, embedded PostgreSQL, roles, dbt runs)."""
