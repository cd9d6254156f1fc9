"""The operators, one module per family; :mod:`onshore.desensitize.registry` maps steps to them."""
