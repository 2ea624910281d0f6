"""The alerts stage: tells a person when money moves, stops moving, or goes wrong (issue 17)."""
