"""Revenue: pipeline stages valued as synthetic revenue credited to ads, and ROAS per ad set and day."""
