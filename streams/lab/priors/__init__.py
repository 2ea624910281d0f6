"""Cold-start prior research: priors from an account's simulated past, and the on/off comparison."""
