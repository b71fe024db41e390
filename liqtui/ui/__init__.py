"""The Textual user interface (design §6). Only this package imports Textual and plotext.

Imports nothing itself, so that importing one pane does not pull in the others.
"""
