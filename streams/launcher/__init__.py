"""The launcher stage: creates campaigns, ad sets and ads on Meta from ``launch.requests.v1``."""
