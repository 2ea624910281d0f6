"""The embedded runtime: a local broker, a local PostgreSQL and every processor, in one command."""
