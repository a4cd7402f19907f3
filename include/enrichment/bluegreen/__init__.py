"""Blue/green index versions: fill a new vector or tag index version, verify, switch, drop."""
