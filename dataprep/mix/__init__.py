"""Domain-mixture planning (how much of each domain) and seeded document sampling (which documents)."""
