"""Differential tests: every software layer against the reference semantics.

``generator.py`` draws random valid handler modules and requests; ``layers.py``
runs a module through the five software layers and compares them bit for bit.
A mismatch found by the random tests becomes a one-file test under
``regressions/``: the minimized handler source, a request and the expected
response, checked with ``layers.check_case`` across all five layers. The tests
here and under ``regressions/`` import those two modules by name.
"""
