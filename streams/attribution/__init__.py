"""Attribution: the click index and the three-layer matching of deals to the clicks that made them."""
