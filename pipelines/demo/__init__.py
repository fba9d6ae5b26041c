"""The built-in demo: a synthetic chain (generate.py: world.py, simulation.py, slots.py,
problems.py) and its exports in vendors' formats (vendor_writers.py). Never mixed with a
studio's own warehouse."""
