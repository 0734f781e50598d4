"""Queries behind the API and the CLI's views: what a caller is shown, read in a few statements.

Routes and commands call these; these ask :mod:`contactfix.access` which rows a caller may see.
"""
