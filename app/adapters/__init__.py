"""Where Beacon reaches into a library's private internals, one module per library.

Each hook exists because the library has no public way to do what Beacon needs; each
module names the release it was checked against, and tests/test_adapters.py fails when
the installed release differs or a hook's target is gone, so an upgrade re-checks them.
"""
