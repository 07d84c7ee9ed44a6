"""What every stage shares: settings, database engines, errors, enums, calendar periods,
statistics and YAML read with node positions.

Takes nothing from the other stages; every other folder may import it.
"""
