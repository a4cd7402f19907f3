"""Faithful models of real open-source shop schemas, with changes written their way."""
