"""roasloop's stream processors, ingress, sandbox and tooling."""
